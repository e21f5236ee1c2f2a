"""The words every report, renderer and command shares: property kinds, verdict statuses, exit codes.

Both enums are `str`-valued: a member equals, hashes and formats as its value ("invariant", "holds"), so
JSON, text and comparisons with plain strings are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
# the exit code a run with several outcomes ends with: violations dominate, then bad input, then incomplete runs
PRECEDENCE = (EXIT_VIOLATED, EXIT_USAGE, EXIT_INCOMPLETE)


def worst_exit_code(codes: Iterable[int]) -> int:
    """The exit code of several results together (0 when none of them says otherwise)."""
    seen = set(codes)
    return next((code for code in PRECEDENCE if code in seen), EXIT_OK)


class PropertyKind(str, Enum):
    """What a property asks (the `kind` of a verdict in every output format)."""

    INVARIANT = "invariant"
    FINAL = "final"
    REACHABLE = "reachable"
    WAITS_ON_SLOW = "waits_on_slow"
    EVENTUALLY = "eventually"
    LEADS_TO = "leads_to"
    PROGRESS = "progress"
    RETURNS_WHEN_KILLED = "returns_when_killed"
    ASSERT = "assert"
    DEADLOCK = "deadlock"
    LOCK_DISCIPLINE = "lock_discipline"
    RUNTIME = "runtime"
    LOCK_ORDER = "lock_order"

    def __str__(self) -> str:
        return self.value

    @property
    def is_question(self) -> bool:
        """Asked, not required: answered by a witness (reachable) or not, never a failure of the run."""
        return self in (PropertyKind.REACHABLE, PropertyKind.WAITS_ON_SLOW)

    @property
    def has_site(self) -> bool:
        """Its location is where the spec declares it (a built-in's is the violating step's)."""
        return self in (PropertyKind.INVARIANT, PropertyKind.FINAL, PropertyKind.ASSERT) or self.is_liveness

    @property
    def is_liveness(self) -> bool:
        """Decided on every fair run of the explored graph (analyses/liveness.py), not state by state."""
        return self in (PropertyKind.EVENTUALLY, PropertyKind.LEADS_TO, PropertyKind.PROGRESS,
                        PropertyKind.RETURNS_WHEN_KILLED)

    @property
    def words(self) -> str:
        """What the kind means, in a sentence (`netcheck explain`); a question's is its name."""
        return _KIND_WORDS.get(self, self.value)


_KIND_WORDS = {
    PropertyKind.INVARIANT: "an invariant: it must be true in every reachable state",
    PropertyKind.FINAL: "a final property: it must be true whenever every thread has finished",
    PropertyKind.ASSERT: "an assertion: it must be true whenever a thread reaches it",
    PropertyKind.EVENTUALLY: "a liveness property: every fair run must reach a state where it is true",
    PropertyKind.LEADS_TO: "a liveness property: every fair run through a from: state must reach a to: state",
    PropertyKind.PROGRESS: "a liveness property: every wait of the thread at a lock must end on every fair run",
    PropertyKind.RETURNS_WHEN_KILLED: "a liveness property: a fatal signal must get the thread out of every wait "
                                      "(a wait that is not killable must end, within the slow steps allowed)",
    PropertyKind.DEADLOCK: "built in: no reachable state may leave an unfinished thread unable to ever take a step",
    PropertyKind.LOCK_DISCIPLINE: "built in: no unlock of a lock not held, no re-acquiring a held lock, no thread "
                                  "finishing with a lock held",
    PropertyKind.RUNTIME: "built in: no list corruption, no out-of-range value, no null dereference",
    PropertyKind.LOCK_ORDER: "built in: the lock-order graph (lockdep's rules) has no strong cycle",
}


class ProveEngine(str, Enum):
    """What `prove` runs after the lemmas (`--engine`)."""

    AUTO = "auto"   # PDR, then k-induction with Houdini
    PDR = "pdr"     # PDR alone
    KIND = "kind"   # k-induction with Houdini alone: no PDR time budget to race

    def __str__(self) -> str:
        return self.value


class ProofStatus(str, Enum):
    """What `prove` says of a property."""

    PROVED = "proved"              # an inductive invariant, checked again (or k-induction)
    VIOLATED = "violated"          # a replayed counterexample
    VACUOUS = "vacuous"            # checked on no state: not a pass
    UNKNOWN = "unknown"            # neither, with the reason

    def __str__(self) -> str:
        return self.value


class CheckStatus(str, Enum):
    """The answer to one question of an induction check (engine/lemmas.py): z3's unsat, sat or unknown."""

    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class Status(str, Enum):
    """A property's verdict."""

    HOLDS = "holds"
    VIOLATED = "violated"
    VACUOUS = "vacuous"            # a final property checked on no state: not a pass
    UNKNOWN = "unknown"            # exploration stopped, or the solver could not decide
    REACHABLE = "reachable"        # a question answered with a witness
    UNREACHABLE = "unreachable"    # a question answered no on the complete state space
    BOUNDED = "bounded"            # bounded model checking: no violation within the depth; not a proof

    def __str__(self) -> str:
        return self.value

    @property
    def exit_code(self) -> int:
        """The exit code this verdict gives a run on its own (questions never fail one)."""
        if self in (Status.VIOLATED, Status.VACUOUS):
            return EXIT_VIOLATED
        return EXIT_INCOMPLETE if self in (Status.UNKNOWN, Status.BOUNDED) else EXIT_OK

    @property
    def fails(self) -> bool:
        """Violated or vacuous: the run fails on this verdict."""
        return self.exit_code == EXIT_VIOLATED
