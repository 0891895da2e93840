"""The election on a real etcd: one leader among three, the lead handed over on a clean
stop, and taken within the lease's TTL when the leader dies (SIGKILL of a process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.etcd import shared_endpoint
from tests.support.process import wait_for
from yurt.cluster.election import Election, leader_key
from yurt.cluster.leader import LEADER, Member, State
from yurt.storage.etcd_client import EtcdClient


def _elections(root: str, names: list[str], seen: list[tuple[str, State]]) -> list[Election]:
    out = []
    for name in names:
        me = Member(name, f"http://{name}:4646", f"{name}:4647")
        out.append(
            Election(
                [shared_endpoint()], root, "scheduler", me, lambda st, n=name: seen.append((n, st))
            )
        )
    return out


def _leaders(elections: list[Election]) -> list[str]:
    return [e.me.name for e in elections if e.state.role == LEADER]


def test_one_of_three_leads_and_a_clean_stop_hands_over(tmp_path: Path) -> None:
    seen: list[tuple[str, State]] = []
    elections = _elections(f"/test{tmp_path}", ["a", "b", "c"], seen)
    try:
        for e in elections:
            e.start()
        assert _leaders(elections) == ["a"]  # the first to campaign, before start returned
        wait_for(lambda: all(e.state.leader == elections[0].me for e in elections[1:]), 5)
        wait_for(lambda: all(len(e.peers) == 3 for e in elections), 5, "every member seen")
        assert [p.name for p in elections[1].peers] == ["a", "b", "c"]
        fence = elections[0].state.fence
        kvs, _more, _rev = EtcdClient([shared_endpoint()]).range(
            leader_key(f"/test{tmp_path}", "scheduler")
        )
        assert kvs[0].create_revision == fence
        assert Member.decode(kvs[0].value) == elections[0].me

        elections[0].stop()  # revokes its lease: the key goes at once
        new = wait_for(lambda: _leaders(elections[1:]), 3, "a new leader")
        assert len(new) == 1
        follower = next(e for e in elections[1:] if e.me.name not in new)
        wait_for(lambda: follower.state.leader and follower.state.leader.name == new[0], 3)
        assert ("a", State()) not in seen  # a clean stop is no step-down callback
    finally:
        for e in elections:
            e.stop()


_CHILD = """
import sys, time
from yurt.cluster.election import Election
from yurt.cluster.leader import Member
e = Election([sys.argv[1]], sys.argv[2], "scheduler", Member("dead", "http://dead:1"),
             lambda st: None)
e.start()
print("leader" if e.leading else "follower", flush=True)
time.sleep(600)
"""


def test_a_killed_leader_is_replaced_within_five_seconds(tmp_path: Path) -> None:
    root = f"/test{tmp_path}"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, shared_endpoint(), root], stdout=subprocess.PIPE
    )
    seen: list[tuple[str, State]] = []
    (survivor,) = _elections(root, ["b"], seen)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"leader"
        survivor.start()
        assert survivor.state.leader is not None and survivor.state.leader.name == "dead"
        child.kill()
        child.wait()
        # issue 18's bound: the lease's TTL (3 s) plus a watch event
        wait_for(lambda: survivor.leading, 5, "the survivor to lead within 5 s")
        assert seen[-1][1].leader == survivor.me
    finally:
        child.kill()
        survivor.stop()


def test_bootstrap_expect_waits_for_that_many_servers_once(tmp_path: Path) -> None:
    root = f"/test{tmp_path}"
    seen: list[tuple[str, State]] = []

    def server(name: str) -> Election:
        me = Member(name, f"http://{name}:4646", f"{name}:4647")
        return Election(
            [shared_endpoint()], root, "scheduler", me, lambda st: seen.append((name, st)), expect=2
        )

    first, second = server("a"), server("b")
    try:
        first.start()
        assert first.state == State()  # alone: no leader, no campaign
        second.start()  # the second registers; one of the two leads
        wait_for(lambda: first.leading or second.leading, 5, "a leader once two registered")
        leader = first if first.leading else second
        wait_for(lambda: (first.state.leader, second.state.leader) == (leader.me,) * 2, 5)
    finally:
        first.stop()
        second.stop()
    # bootstrapped once: a lone server of that cluster leads without waiting for a second
    third = server("c")
    try:
        third.start()
        assert third.leading
    finally:
        third.stop()
