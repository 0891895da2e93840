"""A server cut off from the others: three `yurt scheduler`, the leader on a second host
(a network namespace joined by a veth pair, tests/support/netns.py), the other two and
etcd on this one. Dropping the leader's link: the two elect a new leader within 5 s and
take writes; the cut-off server stops leading and answers writes with Nomad's "No cluster
leader". Bringing the link back: it follows the new leader and has the writes it missed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests

from tests.support.etcd import Etcd
from tests.support.netns import Peer, peer_host
from tests.support.process import YurtProcess, free_port, wait_for


def _job(job_id: str) -> dict[str, object]:
    group = {"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}
    return {"Job": {"ID": job_id, "Type": "batch", "Datacenters": ["dc1"], "TaskGroups": [group]}}


def _inside(peer: Peer, *curl: str) -> str:
    """curl run on the cut-off host itself (this host cannot reach it then)."""
    got = subprocess.run(
        [*peer.exec_prefix, "curl", "-s", "-m", "10", *curl],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return got.stdout


def _link(peer: Peer, state: str) -> None:
    subprocess.run(["ip", "-n", peer.name, "link", "set", peer.device, state], check=True)
    if state == "up":  # the default route went with the link
        subprocess.run(
            ["ip", "-n", peer.name, "route", "replace", "default", "via", peer.host_ip],
            check=True,
        )


def _leader(url: str) -> str:
    try:
        return str(requests.get(f"{url}/v1/status/leader", timeout=2).json())
    except (requests.RequestException, ValueError):
        return "?"


def test_a_cut_off_leader_steps_down_and_rejoins(tmp_path: Path) -> None:
    with peer_host() as peer:
        etcd = Etcd(tmp_path / "etcd", host=peer.host_ip).start()
        config = tmp_path / "agent.hcl"
        config.write_text(f'store {{\n  backend = "etcd"\n  endpoints = ["{etcd.endpoint}"]\n}}\n')
        hosts = [peer.ip, peer.host_ip, peer.host_ip]
        # the namespace is empty: any port free here is free there
        ports = [free_port(peer.host_ip) for _ in hosts]
        urls = [f"http://{h}:{p}" for h, p in zip(hosts, ports, strict=True)]
        procs = [
            YurtProcess(
                [
                    "scheduler",
                    "-http-addr",
                    f"{h}:{p}",
                    "-data-dir",
                    str(tmp_path / f"s{i}"),
                    "-config",
                    str(config),
                ],
                ready_url=f"{urls[i]}/v1/status/leader",
                log_path=tmp_path / f"s{i}.log",
                prefix=peer.exec_prefix if i == 0 else (),
            )
            for i, (h, p) in enumerate(zip(hosts, ports, strict=True))
        ]
        try:
            for proc in procs:
                proc.start()
            cut_off = f"{peer.ip}:{ports[0] + 1}"
            assert all(_leader(url) == cut_off for url in urls)

            _link(peer, "down")
            new = wait_for(
                lambda: _leader(urls[1]) not in (cut_off, "?", "") and _leader(urls[1]),
                5,
                "a new leader on this side within 5 s",
            )
            assert _leader(urls[2]) == new
            during = requests.post(f"{urls[2]}/v1/jobs", json=_job("during"), timeout=30)
            assert during.status_code == 200, during.text
            # the cut-off server no longer leads, and refuses writes
            wait_for(lambda: _inside(peer, f"{urls[0]}/v1/status/leader") == '""', 10)
            refused = _inside(
                peer, "-X", "POST", f"{urls[0]}/v1/jobs", "-d", json.dumps(_job("refused"))
            )
            assert refused == "No cluster leader"

            _link(peer, "up")
            wait_for(lambda: _leader(urls[0]) == new, 30, "the rejoined server to follow")
            wait_for(
                lambda: requests.get(f"{urls[0]}/v1/job/during", timeout=5).status_code == 200,
                30,
                "the write it missed",
            )
            assert requests.get(f"{urls[1]}/v1/job/refused", timeout=5).status_code == 404
        finally:
            for proc in procs:
                proc.stop()
            etcd.stop()
