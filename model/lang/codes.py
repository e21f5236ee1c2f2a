"""Every diagnostic code a spec error can carry, with its title: the one registry.

Codes are stable (SARIF rule ids, tests and scripts match on them). The hundreds say where the problem
was found: 0xx the file and its YAML, 1xx the spec's sections, 2xx statements, 3xx expressions, 4xx
building the state machine, 5xx the C sources and patches of `netcheck conform`. The table in
docs/spec-language.md is generated from this registry (`codes_table`, written by scripts/codes.py under
`make golden`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CODES: Mapping[str, str] = MappingProxyType({
    "NC001": "no such spec file, or not a regular file",
    "NC002": "the spec is too large",
    "NC003": "not UTF-8, or a character YAML does not allow",
    "NC004": "the spec is empty",
    "NC005": "YAML syntax error, or more than one YAML document",
    "NC006": "YAML anchors, aliases and merge keys are not allowed",
    "NC007": "YAML tags are not allowed",
    "NC008": "nesting too deep",
    "NC009": "a mapping key that is not a plain name",
    "NC010": "duplicate key",
    "NC011": "unsupported integer form",
    "NC012": "the spec is not a mapping",
    "NC020": "extends: cycle, or chain too long",
    "NC021": "extends: file cannot be resolved",
    "NC022": "bad edit: of an inherited procedure (no such statement, several, a malformed edit)",
    "NC101": "a value of the wrong form (mapping, text, list, count)",
    "NC102": "a name that is not a plain identifier",
    "NC103": "a name already used",
    "NC104": "unknown key",
    "NC105": "missing or unsupported spec language version (netcheck: 1)",
    "NC106": "entity or bound out of range",
    "NC107": "unknown entity or group",
    "NC108": "bad type",
    "NC109": "missing or unknown lock kind",
    "NC110": "bad per:, or too many lock instances or map keys",
    "NC111": "bad init value or key",
    "NC112": "missing init value",
    "NC113": "bad procedure signature",
    "NC114": "the spec has no threads",
    "NC115": "bad thread declaration",
    "NC116": "undefined procedure",
    "NC117": "wrong number or types of arguments",
    "NC118": "a property without exactly one kind",
    "NC119": "waits_on_slow: of an unknown thread",
    "NC120": "malformed expect:",
    "NC121": "expect: names no violable property, or one twice",
    "NC122": "bad during: (a waits_on_slow: question's procedure)",
    "NC123": "bad fairness: or within: (of a liveness property)",
    "NC124": "bad known_cycles: entry (lock classes, reason) or lock classes:",
    "NC125": "a bad lemma: not a condition, or an at() place that is no statement of that thread",
    "NC126": "bad srcu lock declaration (an srcu_struct declared with per: or classes:)",
    "NC130": "bad context: (a thread's process, softirq or hardirq context)",
    "NC131": "bad interrupts: (not an irq-context thread, not a process-context threads: entry, instances that do "
             "not pair up)",
    "NC132": "an irq-context thread declared a daemon",
    "NC135": "bad callbacks: declaration (slots and their signatures, bind: keys, an unknown slot)",
    "NC136": "a procedure bound to a callback slot does not fit the slot's signature",
    "NC140": "a name an RCU callback needs (its rcu_head variable, thread, kfree_rcu's procedure, the rcu_head "
             "states) already used",
    "NC201": "bad or undefined label",
    "NC202": "goto into a loop",
    "NC203": "a statement that is a list",
    "NC204": "assignment to something that is not a variable",
    "NC205": "missing or unexpected return value",
    "NC206": "break or continue outside a loop",
    "NC207": "unknown or malformed statement",
    "NC208": "lock operation on an undefined lock or one of the wrong kind",
    "NC209": "on_fail: missing on an operation that can fail, or given to one that cannot",
    "NC210": "bad loop",
    "NC211": "either: without named branches",
    "NC212": "recursive call",
    "NC213": "a _nested lock operation without a valid lockdep subclass",
    "NC214": "counter operation (refcount_t, atomic_t, completion) on something else, or a counter changed outside "
             "its API",
    "NC215": "bad workqueues: or works: declaration (an unknown queue, a run: that is not a procedure without "
             "parameters)",
    "NC216": "workqueue call (queue_work, flush_work, cancel_work_sync, flush_workqueue) on something else",
    "NC217": "wait-queue operation (wait_event, wake_up, prepare_to_wait, ...) on something else, or a wait queue "
             "used as a value",
    "NC218": "RCU list operation (list_add_rcu, list_del_rcu, list_for_each_entry_rcu) on something other than a "
             "state list without per:, or kfree: of something other than an element",
    "NC219": "SRCU operation (srcu_read_lock, srcu_read_unlock, synchronize_srcu) on something other than an srcu "
             "lock, or an srcu lock used where a lock is expected",
    "NC230": "spin_lock_irqsave or spin_unlock_irqrestore with a flags argument (the flags travel with the lock)",
    "NC240": "bad call through an element or callback test (o.init(n), o.init): no callbacks: for its entity, "
             "no such slot, or the element is not a local, parameter or element name",
    "NC250": "bad call_rcu (a callback that is no procedure taking the object its rcu_head is in, or nothing, and "
             "returning nothing; a wrong object)",
    "NC251": "kfree_rcu of something other than an element",
    "NC301": "expression not allowed here, or of the wrong type",
    "NC302": "syntax or name that expressions do not support",
    "NC303": "type mismatch",
    "NC304": "integer too large",
    "NC305": "bad index",
    "NC306": "undefined name",
    "NC307": "bad function call",
    "NC308": "a comprehension variable that hides a name",
    "NC309": "expression too long or too deeply nested",
    "NC310": "syntax error in an expression",
    "NC311": "bad assignment statement",
    "NC401": "the spec cannot be compiled to a state machine",
    "NC402": "the state vector would be too large",
    "NC501": "a C source file that cannot be read, or defines no function",
    "NC502": "no C function for the spec to be compared with, or an unknown function asked for",
    "NC503": "a malformed patch: no hunk, a bad hunk header, or a hunk cut short",
    "NC504": "conform --patch on a spec that extends no other spec",
})

STAGES = (("NC0", "the file and its YAML"), ("NC1", "the spec's sections"), ("NC2", "statements"),
          ("NC3", "expressions"), ("NC4", "building the state machine"),
          ("NC5", "conformance inputs (C sources, patches)"))


def title(code: str) -> str:
    """The title of a registered code (KeyError for an unknown one)."""
    return CODES[code]


def codes_table() -> str:
    """The Markdown table of every code, its stage and its title (docs/spec-language.md)."""
    lines = ["| code | where | meaning |", "|---|---|---|"]
    for code, text in CODES.items():
        stage = next(words for prefix, words in STAGES if code.startswith(prefix))
        lines.append(f"| {code} | {stage} | {text} |")
    return "\n".join(lines) + "\n"
