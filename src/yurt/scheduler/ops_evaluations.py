"""Evaluation processing: an evaluation is planned by the scheduler (`reconcile`), its plan
applied in one commit (`plan_apply`); a job's dry run (`nomad job plan`); and, after a
restart, pending evaluations back to the broker."""

from __future__ import annotations

import logging
import time

from yurt.scheduler import model as m
from yurt.scheduler import plan_apply
from yurt.scheduler.ops_base import spec_of
from yurt.scheduler.ops_nodes import NodeOps
from yurt.scheduler.reconcile import Plan
from yurt.scheduler.structs import Evaluation, Job

log = logging.getLogger(__name__)

# Latencies kept for the metrics' percentiles: trimmed by half past the cap.
_LATENCIES_KEPT = 100_000


class EvaluationOps(NodeOps):
    def process_eval(self, eval_id: str) -> None:
        """Plan one pending evaluation and apply its plan; a planning error fails it."""
        ev = self.store.evals.get(eval_id)
        if ev is None or ev["Status"] != m.EVAL_PENDING:
            return
        started = time.perf_counter_ns()
        try:
            plan = self.scheduler.plan(ev, m.now_ns())
        except Exception as exc:
            log.exception("evaluation %s failed", eval_id)
            with self.store.write() as txn:
                failed = ev.copy()
                failed["Status"] = m.EVAL_FAILED
                failed["StatusDescription"] = f"scheduler error: {exc}"
                failed["ModifyTime"] = m.now_ns()
                self._put_eval(txn, failed)
            return
        self.apply_plan(ev, plan)
        self.evals_processed += 1
        self.allocs_placed += plan.placed
        self.eval_latencies_ns.append(time.perf_counter_ns() - started)
        if len(self.eval_latencies_ns) > _LATENCIES_KEPT:
            del self.eval_latencies_ns[: _LATENCIES_KEPT // 2]

    def apply_plan(self, ev: Evaluation, plan: Plan) -> None:
        new_evals = plan_apply.apply_plan(self, ev, plan)
        self._enqueue(new_evals)
        self._finish_drains()

    def plan_job(self, job: Job) -> tuple[Evaluation, Plan]:
        """A dry run of registering `job`: the evaluation it would make and its plan."""
        namespace = job.get("Namespace") or m.DEFAULT_NAMESPACE
        existing = self.store.job(namespace, job["ID"])
        proposed = job.copy()
        proposed["Namespace"] = namespace
        if existing is not None and spec_of(existing) == spec_of(proposed):
            proposed["Version"] = existing["Version"]
        else:
            proposed["Version"] = int(existing["Version"]) + 1 if existing else 0
        ev = m.new_eval(proposed, m.TRIGGER_JOB_REGISTER, 0)
        ev["AnnotatePlan"] = True
        return ev, self.scheduler.plan(ev, m.now_ns(), job_override=proposed)

    def restore(self) -> None:
        """After a restart: every pending evaluation goes back to the broker."""
        pending = [e for e in self.store.evals.values() if e["Status"] == m.EVAL_PENDING]
        pending.sort(key=lambda e: e["CreateIndex"])
        self._enqueue(pending)
