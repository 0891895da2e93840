"""Placement quality under the limit: scoring only L random feasible nodes, the chosen one
is the best of L drawn without replacement, so its rank among all feasible nodes has a
known law: P(rank > k) = C(n-k, L) / C(n, L), mean (n+1)/(L+1). Over many seeded runs
on a synthetic cluster the chosen node is never worse than the k-th best where that tail
is below one in a million, and the mean rank is what the law says (pure, no processes)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.test_placement_feasible import node
from yurt.scheduler import rank
from yurt.scheduler.placement import Placer
from yurt.scheduler.usage import NodeUsage

Obj = dict[str, Any]

NODES = 1024
RUNS = 400
ASK_CPU, ASK_MEM = 100, 64
CAP_CPU, CAP_MEM = 4000, 8192


def _cluster() -> tuple[list[Obj], dict[str, NodeUsage]]:
    rng = random.Random(20261202)
    cluster = [node(i) for i in range(NODES)]
    base = {
        n["ID"]: NodeUsage(cpu=rng.randint(0, CAP_CPU - ASK_CPU), memory=rng.randint(0, 7000))
        for n in cluster
    }
    return cluster, base


def _worst_rank(n: int, limit: int, tail: float) -> int:
    """The smallest k with P(rank > k) <= tail for the best of `limit` of `n`."""
    total = math.comb(n, limit)
    for k in range(1, n + 1):
        if math.comb(n - k, limit) / total <= tail:
            return k
    return n


@pytest.mark.parametrize(
    ("job_type", "algorithm"), [("service", "binpack"), ("batch", "binpack"), ("service", "spread")]
)
def test_chosen_node_is_within_the_bound_of_the_best(job_type: str, algorithm: str) -> None:
    cluster, base = _cluster()
    spread = algorithm == "spread"
    scores = {
        n["ID"]: rank.binpack_score(
            base[n["ID"]].cpu + ASK_CPU,
            base[n["ID"]].memory + ASK_MEM,
            CAP_CPU,
            CAP_MEM,
            spread=spread,
        )
        for n in cluster
    }
    assert min(scores.values()) > rank.SKIP_SCORE_THRESHOLD  # no skips: a pure best-of-L
    ordered = sorted(scores.values(), reverse=True)
    limit = rank.candidate_limit(job_type, NODES, preferences=False, count=1)
    assert limit == (2 if job_type == "batch" else 10)
    bound = _worst_rank(NODES, limit, 1e-6)
    job = J.job(
        "q",
        job_type=job_type,
        groups=[J.group(count=1, tasks=[J.task(cpu=ASK_CPU, memory=ASK_MEM)])],
    )
    tg = job["TaskGroups"][0]
    ranks = []
    for seed in range(RUNS):
        placer = Placer(cluster, base, algorithm=algorithm, rng=random.Random(seed))
        placement, metrics = placer.place(job, tg)
        assert placement is not None
        assert metrics["NodesEvaluated"] == limit
        chosen = scores[placement.node["ID"]]
        # the best of those it scored ...
        assert chosen == max(m["NormScore"] for m in metrics["ScoreMetaData"])
        # ... and, among all nodes, 1 + how many score strictly higher
        ranks.append(1 + sum(1 for s in ordered if s > chosen))
    assert max(ranks) <= bound
    expected_mean = (NODES + 1) / (limit + 1)
    assert sum(ranks) / RUNS == pytest.approx(expected_mean, rel=0.25)


def test_worst_rank_law() -> None:
    # best of 10 of 1024: 1 - (1 - k/n)^10 style tail; best of 2 is far looser
    assert _worst_rank(1024, 10, 1e-6) < _worst_rank(1024, 2, 1e-6)
    assert _worst_rank(1024, 1024, 1e-6) == 1  # scoring everything finds the best
    assert _worst_rank(100, 1, 0.5) == 50
