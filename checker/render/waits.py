"""Wait-for explanations (analyses/waitfor.py) as JSON; threads by their instance names."""

from __future__ import annotations

from collections.abc import Sequence

from netcheck.model.semantics.waits import WaitEdge

from ..analyses.waitfor import DeadlockExplanation, SlowWitness


def _name(names: Sequence[str], tid: int) -> str:
    return names[tid]


def edge_json(names: Sequence[str], edge: WaitEdge) -> dict:
    return {"waiter": _name(names, edge.waiter),
            "target": _name(names, edge.target) if edge.target >= 0 else None,
            "relation": edge.relation, "lock": edge.lock or None, "want": edge.want,
            "location": edge.location, "statement": edge.statement}


def deadlock_json(names: Sequence[str], explanation: DeadlockExplanation) -> dict:
    return {"kind": explanation.kind, "summary": explanation.summary, "cycle": explanation.cycle,
            "stuck_threads": [_name(names, tid) for tid in explanation.stuck],
            "chain": [edge_json(names, e) for e in explanation.chain], "threads": list(explanation.threads)}



def witness_json(names: Sequence[str], w: SlowWitness) -> dict:
    return {"waiter": w.waiter, "text": w.text, "shape": w.shape, "slow_thread": w.slow_thread,
            "slow_location": w.slow_location, "slow_statement": w.slow_statement,
            "slow_function": w.slow_function, "through_queued_writer": w.through_queued_writer,
            "trace_length": len(w.trace.steps), "chain": [edge_json(names, e) for e in w.chain],
            "trace": [{"thread": st.thread, "location": st.location, "statement": st.statement,
                       "note": st.note or None} for st in w.trace.steps]}
