"""The step memo: each visible step fired once per valuation of its footprint, not once per state.

A step's outcomes depend on the slots of its footprint alone and change only those (footprint.py), so
the memo keeps, per step and footprint valuation, each outcome as a patch: the footprint slots whose
value it changes, with the new values (or the violation the outcome is). Any state with that valuation
then gets its successors by patching, without running the step: on the net specs some 97% of step
firings are answered so (LTSmin's PINS caches transitions on read sets the same way).

What the memo keeps exact:
- the run counts coverage reads: a remembered answer counts as a pending run of its entry, which
  `flush` adds by firing the entry once with every run counted that many times (runtime.Counts.weight);
- the footprints themselves: every CHECK_EVERY-th answer from the memo is fired again (counting
  nothing) and compared, and a difference is an internal error (`MemoError`), never a wrong successor.

The native expander (_memo.c, where the install compiled it) does what `_expand` does, in C, with the
valuations kept as compact byte strings (_codec.h) instead of tuples in dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from operator import itemgetter

from .footprint import Footprint, footprints
from .runtime import Step, Violation
from .system import TransitionSystem

try:   # the native expander: optional, so that netcheck runs where no C compiler is
    from ._memo import Expander, Valuation
except ImportError:   # pragma: no cover - exercised where the extension was not built
    Expander = Valuation = None   # type: ignore[assignment,misc]

CHECK_EVERY = 256   # every how many answers from the memo one is fired again and compared
FLUSH_BATCH = 4096  # entries counted at a time by `flush` (their valuations decoded in Python meanwhile)
Patch = tuple | Violation   # (slot, value, slot, value, ...) an outcome changes, or its violation
Outcomes = tuple[tuple[Patch, ...], tuple[Patch, ...]]   # (the step's outcomes, its fatal signal's)


class MemoError(RuntimeError):
    """A remembered answer differs from the step's own: a slot missing from a footprint (a bug in netcheck)."""


class StepMemo:
    """The memo of one transition system's steps; `expand` is the system's expand through it."""

    def __init__(self, system: TransitionSystem, check_every: int = CHECK_EVERY, native: bool = True):
        self.system = system
        self.check_every = check_every
        self.prints = footprints(system)
        self.weight = system.threads[0].builder.counts.weight if system.threads else [1]
        self.outcomes: dict[str, Outcomes] = {}   # every entry's outcomes, each kept once
        self.counting = True   # off inside system.uncounted(): answers add no pending runs
        self.native = None
        if native and Expander is not None and len(system.threads) < 64:
            self.native = Expander([(t.tid, t.pcslot, t.steps, t.daemon, self.prints[t.tid]) for t in system.threads],
                                   self._miss, self._check, self._plain, check_every)
            return
        # the memo in Python: per thread, per program point, (footprint, its getter, valuation -> entry)
        self.tables: list[list[tuple[Footprint, Callable[[Sequence], tuple], dict[tuple, int]] | None]] = [
            [(fp, _getter(fp), {}) if fp is not None else None for fp in prints] for prints in self.prints]
        self.entries: list[tuple[int, int, tuple, Outcomes]] = []   # (thread, program point, valuation, outcomes)
        self.hits: list[int] = []     # per entry: answers not counted yet
        self.dirty: list[int] = []    # the entries with answers not counted yet
        self.answers = 0
        self._expansion = [(t.tid, t.pcslot, t.steps, 1 << t.tid, t.daemon, self.tables[t.tid]) for t in system.threads]

    @property
    def size(self) -> int:
        """Entries remembered so far."""
        return self.native.entries if self.native is not None else len(self.entries)

    def expand(self, s: tuple) -> tuple[list, int]:
        """TransitionSystem.expand, through the memo."""
        if self.native is not None:
            return self.native.expand(s, self.counting)
        return self._expand(s)

    @property
    def covered(self) -> int:
        """How many steps have a footprint (the others are fired on every state)."""
        return sum(fp is not None for prints in self.prints for fp in prints)

    def interning(self) -> Callable[..., tuple] | None:
        """`expand` with each successor encoded in C and interned into a store, where the native expander is
        (else None): called with the state, whether answers count (`counting`), the store's intern capsule
        (_codec.h), the store and the bytes an action takes (2 or 4), it gives (blocked mask, target ids,
        actions, choices (native uint32, unsigned, uint16 bytes), the signal edges' offsets, and in edge
        order (id, action, choice, state) per new state and (tid, action, choice, signal, violation) per
        violation)."""
        return self.native.expand_into if self.native is not None else None

    def _expand(self, s: tuple) -> tuple[list, int]:
        out: list = []
        blocked = 0
        for tid, pcslot, steps, bit, daemon, table in self._expansion:
            pc = s[pcslot]
            step = steps[pc]
            if step is None:
                continue
            m = table[pc]
            if m is None:
                results, signalled = self._plain(tid, pc, s)
            else:
                key = m[1](s)
                number = m[2].get(key)
                if number is None:
                    number = m[2][key] = len(self.entries)
                    self.entries.append((tid, pc, key, self._miss(tid, pc, s)))
                    self.hits.append(0)
                else:
                    self.answers += 1
                    if self.counting:
                        if not self.hits[number]:
                            self.dirty.append(number)
                        self.hits[number] += 1
                    if self.answers % self.check_every == 0:
                        self._check(tid, pc, s, self.entries[number][3])
                outcomes = self.entries[number][3]
                results = [_patched(s, p) for p in outcomes[0]]
                signalled = [_patched(s, p) for p in outcomes[1]]
            if results:
                action = step.action
                out += [(tid, action, choice, False, r) for choice, r in enumerate(results)]
            elif not (daemon and step.idle):
                blocked |= bit
            if signalled:
                action = step.sig_action
                out += [(tid, action, choice, True, r) for choice, r in enumerate(signalled)]
        return out, blocked

    def _plain(self, tid: int, pc: int, s: tuple) -> tuple[list, list]:
        """The outcomes of a step fired on `s` (its runs counted, as the plain expand counts them)."""
        step = self.system.threads[tid].steps[pc]
        assert step is not None
        results, signalled = _fire(step, s)
        ran = self.system.threads[tid].builder.counts.ran
        if results:
            ran[pc] += 1
        if signalled:
            ran[pc] += 1
        return results, signalled

    def _miss(self, tid: int, pc: int, s: tuple) -> Outcomes:
        """Fire the step on `s` (counted): its outcomes as patches, to remember for its footprint's valuation."""
        fp = self.prints[tid][pc]
        assert fp is not None
        results, signalled = self._plain(tid, pc, s)
        outcomes = (tuple(_patch(s, r, fp) for r in results), tuple(_patch(s, r, fp) for r in signalled))
        # kept once by their text, which tells 0 from False (as equality does not)
        return self.outcomes.setdefault(repr(outcomes), outcomes)

    def _check(self, tid: int, pc: int, s: tuple, outcomes: Outcomes) -> None:
        """Fire the step again on `s`, counting nothing, and compare with the remembered answer."""
        step = self.system.threads[tid].steps[pc]
        assert step is not None
        saved, self.weight[0] = self.weight[0], 0
        try:
            results, signalled = _fire(step, s)
        finally:
            self.weight[0] = saved
        if not (_same([_patched(s, p) for p in outcomes[0]], results)
                and _same([_patched(s, p) for p in outcomes[1]], signalled)):
            thread = self.system.threads[tid]
            raise MemoError(f"the step memo's answer for {thread.name} at program point {pc} differs from the "
                            f"step's own on state {s}: its footprint {self.prints[tid][pc]} misses a slot")

    def flush(self) -> None:
        """Add the runs of every answer from the memo since the last flush to the run counts."""
        while True:
            batch = self._pending(FLUSH_BATCH)
            if not batch:
                return
            for tid, pc, key, pending in batch:
                self._replay(tid, pc, key, pending)

    def _replay(self, tid: int, pc: int, key: tuple, times: int) -> None:
        """Count the runs of a step with footprint valuation `key`, `times` over (one firing, weighted)."""
        thread = self.system.threads[tid]
        step = thread.steps[pc]
        fp = self.prints[tid][pc]
        assert step is not None and fp is not None
        state = list(self.system.base_state)
        for slot, value in zip(fp, key):
            state[slot] = value
        saved, self.weight[0] = self.weight[0], times
        try:
            results, signalled = _fire(step, tuple(state))
        finally:
            self.weight[0] = saved
        thread.builder.counts.ran[pc] += times * (bool(results) + bool(signalled))

    def _pending(self, limit: int) -> list[tuple[int, int, tuple, int]]:
        """(thread, program point, valuation, answers) for up to `limit` entries with answers not counted yet,
        which are then forgotten."""
        if self.native is not None:
            return self.native.pending(limit)
        taken = self.dirty[-limit:]
        del self.dirty[-limit:]
        out = [(*self.entries[number][:3], self.hits[number]) for number in taken]
        for number in taken:
            self.hits[number] = 0
        return out

    def forget(self) -> None:
        """Drop the pending runs (the run counts were set back to a point before them)."""
        if self.native is not None:
            self.native.forget()
            return
        for number in self.dirty:
            self.hits[number] = 0
        self.dirty.clear()


def remember(system: TransitionSystem, check_every: int = CHECK_EVERY, native: bool = True) -> StepMemo | None:
    """Make `system` expand through a new step memo (in C where it was built, unless `native` is off); None,
    and nothing attached, where no step has a footprint (the memo would only add its own calls)."""
    memo = StepMemo(system, check_every, native)
    if not memo.covered:
        return None
    system.memo = memo
    return memo


def valuation(slots: Sequence[int]) -> Callable[[tuple], Hashable]:
    """A state's values at `slots` as a dict key: their encoding (bytes, made in C: no tuple to build and
    hash, and 0 and False kept apart) where the extension was built, else the tuple of them."""
    if Valuation is not None:
        return Valuation(tuple(slots))
    return _getter(tuple(slots))


def _getter(fp: Footprint) -> Callable[[Sequence], tuple]:
    """The values at slots `fp` in a state, always a tuple."""
    if not fp:
        return lambda s: ()
    if len(fp) == 1:
        i = fp[0]
        return lambda s: (s[i],)
    return itemgetter(*fp)


def _fire(step: Step, s: tuple) -> tuple[list, list]:
    return step.fire(s), (step.sig(s) if step.sig is not None else [])


def _patch(s: tuple, outcome: object, fp: Footprint) -> Patch:
    """An outcome of a step from `s` as the footprint slots it changes, with their new values."""
    if outcome.__class__ is not tuple:
        assert isinstance(outcome, Violation)
        return outcome
    assert isinstance(outcome, tuple)
    changed: list = []
    for slot in fp:
        if outcome[slot] is not s[slot]:   # the very object: surely unchanged (equal is not enough: 0 == False)
            changed += (slot, outcome[slot])
    return tuple(changed)


def _patched(s: tuple, patch: Patch) -> tuple | Violation:
    """The outcome a patch gives from `s`."""
    if patch.__class__ is not tuple:
        assert isinstance(patch, Violation)
        return patch
    assert isinstance(patch, tuple)
    if not patch:
        return s
    out = list(s)
    for k in range(0, len(patch), 2):
        out[patch[k]] = patch[k + 1]
    return tuple(out)


def _same(a: list, b: list) -> bool:
    """Two lists of outcomes alike: equal states, violations of the same property, message and place."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x.__class__ is tuple or y.__class__ is tuple:
            if x != y:
                return False
        elif (x.prop, x.message, x.tid, x.pc) != (y.prop, y.message, y.tid, y.pc):
            return False
    return True
