"""`yurt job|alloc|node|eval` against a real scheduler process, with a simulated client node
that speaks the internal protocol (the real client has its own end-to-end tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(tmp_path_factory.mktemp("cli-sched")).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def node(sched: SchedulerProcess) -> Iterator[SimNode]:
    n = SimNode(sched.url, "nomad-1-client")
    n.register()
    n.start_heartbeats()
    yield n
    n.stop_heartbeats()


def yurt(sched: SchedulerProcess, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": sched.url}
    proc = subprocess.run(
        [sys.executable, "-m", "yurt", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_run_status_allocs_and_alloc_status(sched: SchedulerProcess, node: SimNode) -> None:
    out = yurt(sched, "job", "run", "-detach", "jobs/job.sleep.nomad").stdout
    assert "Job registration successful" in out
    assert "Evaluation ID: " in out

    wait_for(lambda: node.allocs(wait="10ms")[0], what="an allocation for the node")
    node.act()

    listing = yurt(sched, "job", "status").stdout.splitlines()
    assert listing[0].split() == ["ID", "Type", "Priority", "Status", "Submit", "Date"]
    assert listing[1].split()[:4] == ["job-sleep", "service", "50", "running"]

    status = yurt(sched, "job", "status", "job-sleep").stdout
    assert "ID            = job-sleep" in status
    summary = status[status.index("Summary") :].splitlines()
    assert summary[2].split() == ["sleep", "0", "0", "1", "0", "0", "0", "0"]

    # what the seed's Makefile does to find the running allocation
    allocs = yurt(sched, "job", "allocs", "job-sleep").stdout
    running = [line.split()[0] for line in allocs.splitlines() if "running" in line]
    assert len(running) == 1 and len(running[0]) == 8

    alloc = yurt(sched, "alloc", "status", running[0]).stdout
    assert "Client Status       = running" in alloc
    assert "Job ID              = job-sleep" in alloc
    assert 'Task "sleep" is "running"' in alloc

    nodes = yurt(sched, "node", "status").stdout.splitlines()
    assert nodes[0].split() == [
        "ID",
        "Node",
        "Pool",
        "DC",
        "Name",
        "Class",
        "Drain",
        "Eligibility",
        "Status",
    ]
    assert nodes[1].split()[1:] == [
        "default",
        "dc1",
        "nomad-1-client",
        "<none>",
        "false",
        "eligible",
        "ready",
    ]


def test_status_names_what_an_id_prefix_matches(sched: SchedulerProcess, node: SimNode) -> None:
    yurt(sched, "job", "run", "-detach", "jobs/job.sleep.nomad")
    alloc_id = wait_for(lambda: node.allocs(wait="10ms")[0], what="an allocation")[0]["ID"]
    node.act()
    # No argument: the jobs, as `job status`.
    assert yurt(sched, "status").stdout == yurt(sched, "job", "status").stdout
    # A job's name, an allocation's and a node's ID prefixes: each kind's own status.
    assert "ID            = job-sleep" in yurt(sched, "status", "job-sleep").stdout
    alloc = yurt(sched, "status", alloc_id[:6]).stdout
    assert f"ID                  = {alloc_id[:8]}" in alloc
    node_out = yurt(sched, "status", node.id[:6]).stdout
    assert node_out.startswith(f"ID            = {node.id}\nName          = nomad-1-client")
    missing = yurt(sched, "status", "zzzz-none", ok=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'No matches found for "zzzz-none"'


def test_run_monitors_the_evaluation(sched: SchedulerProcess, node: SimNode) -> None:
    out = yurt(sched, "job", "run", "jobs/job.sleep.nomad").stdout
    assert "Monitoring evaluation" in out
    assert 'finished with status "complete"' in out


def test_placement_failure_exits_2(sched: SchedulerProcess, node: SimNode, tmp_path: Path) -> None:
    big = tmp_path / "big.nomad"
    big.write_text(
        'job "too-big" {\n  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
        '      config { command = "/bin/true" }\n      resources { memory = 900000 }\n'
        "    }\n  }\n}\n"
    )
    proc = yurt(sched, "job", "run", str(big), ok=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "failed to place all allocations" in proc.stdout
    assert 'Dimension "memory" exhausted' in proc.stdout


def test_prefix_lookup_and_errors(sched: SchedulerProcess, node: SimNode) -> None:
    proc = yurt(sched, "job", "status", "no-such-job", ok=False)
    assert proc.returncode == 1
    assert 'No job(s) with prefix or id "no-such-job" found' in proc.stderr
    proc = yurt(sched, "alloc", "status", "z", ok=False)
    assert "at least two characters" in proc.stderr
    status = yurt(sched, "job", "status", "job-sl").stdout
    assert "ID            = job-sleep" in status


def test_stop_marks_allocs_and_status_says_dead(sched: SchedulerProcess, node: SimNode) -> None:
    out = yurt(sched, "job", "stop", "job-sleep").stdout
    assert "Monitoring evaluation" in out
    node.act()
    listing = yurt(sched, "job", "status").stdout
    assert "dead (stopped)" in next(ln for ln in listing.splitlines() if "job-sleep" in ln)
    allocs = yurt(sched, "job", "allocs", "job-sleep").stdout
    assert "running" not in allocs


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "NOMAD_ADDR": "http://127.0.0.1:1"}
    proc = subprocess.run(
        [sys.executable, "-m", "yurt", "job", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "Error: " in proc.stderr and "127.0.0.1:1" in proc.stderr


def test_run_on_a_terminal_shows_the_deployment_live(
    sched: SchedulerProcess, node: SimNode, tmp_path: Path
) -> None:
    import pty
    import select
    import threading

    job = tmp_path / "web.nomad"
    job.write_text(
        'job "web-live" {\n  update {\n    min_healthy_time = "1s"\n  }\n'
        '  group "web" {\n    count = 2\n    task "t" {\n      driver = "raw_exec"\n'
        '      config { command = "/bin/sleep" }\n    }\n  }\n}\n'
    )
    stop = threading.Event()

    def healthy_node() -> None:
        while not stop.is_set():
            node.act(healthy=True)
            stop.wait(0.3)

    acting = threading.Thread(target=healthy_node, daemon=True)
    acting.start()
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        os.chdir(REPO)
        os.environ["NOMAD_ADDR"] = sched.url
        os.execv(sys.executable, [sys.executable, "-m", "yurt", "job", "run", str(job)])
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            assert ready, b"".join(chunks).decode(errors="replace")
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        _, status = os.waitpid(pid, 0)
        stop.set()
        acting.join()
    screen = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert "in progress" in screen  # the live view, redrawn while the deployment runs
    assert 'Deployment "' in screen and "successful" in screen
    final = screen[screen.rindex("Deployed") :].splitlines()
    assert final[1].split()[:5] == ["Task", "Group", "Desired", "Placed", "Healthy"]
    assert final[2].split()[:4] == ["web", "2", "2", "2"]


def _cmds_job(tmp_path: Path, seconds: str) -> Path:
    path = tmp_path / f"cmds-{seconds}.nomad"
    text = (REPO / "jobs/job.sleep.nomad").read_text()
    path.write_text(text.replace('"job-sleep"', '"job-cmds"').replace("1000", seconds))
    return path


def test_plan_history_inspect_revert_scale_and_deployments(
    sched: SchedulerProcess, node: SimNode, tmp_path: Path
) -> None:
    import json

    yurt(sched, "job", "run", "-detach", str(_cmds_job(tmp_path, "1000")))
    wait_for(lambda: node.act() or "running" in yurt(sched, "job", "allocs", "job-cmds").stdout)

    changed = _cmds_job(tmp_path, "2000")
    plan = yurt(sched, "job", "plan", str(changed), ok=False)
    assert plan.returncode == 1, plan.stderr  # Nomad's: 1 when allocations change
    assert '+/- Job: "job-cmds"' in plan.stdout
    assert "forces create/destroy update" in plan.stdout
    assert "-check-index" in plan.stdout

    yurt(sched, "job", "run", "-detach", str(changed))
    history = yurt(sched, "job", "history", "job-cmds").stdout
    assert "Version     = 1" in history and "Version     = 0" in history
    inspected = json.loads(yurt(sched, "job", "inspect", "job-cmds").stdout)["Job"]
    assert inspected["TaskGroups"][0]["Tasks"][0]["Config"]["args"] == ["2000"]

    yurt(sched, "job", "revert", "-detach", "job-cmds", "0")
    inspected = json.loads(yurt(sched, "job", "inspect", "job-cmds").stdout)["Job"]
    assert inspected["Version"] == 2
    assert inspected["TaskGroups"][0]["Tasks"][0]["Config"]["args"] == ["1000"]

    yurt(sched, "job", "scale", "-detach", "job-cmds", "2")
    wait_for(
        lambda: (
            node.act() is not None
            and yurt(sched, "job", "status", "job-cmds").stdout.count(" running ") >= 2
        ),
        what="two running allocations after scale",
    )
    summary = yurt(sched, "job", "status", "job-cmds").stdout
    assert next(ln for ln in summary.splitlines() if ln.startswith("sleep ")).split()[3] == "2"
    deployments = yurt(sched, "job", "deployments", "job-cmds").stdout.splitlines()
    assert deployments[0].split() == ["ID", "Job", "ID", "Job", "Version", "Status", "Description"]
    dep_id = deployments[1].split()[0]
    dep = yurt(sched, "deployment", "status", dep_id).stdout
    assert "Job ID      = job-cmds" in dep
    listed = yurt(sched, "deployment", "list").stdout.splitlines()
    assert listed[0].split() == deployments[0].split()
    assert any(ln.split()[:2] == [dep_id, "job-cmds"] for ln in listed[1:])


def test_eval_status_alloc_stop_and_purge(sched: SchedulerProcess, node: SimNode) -> None:
    allocs = yurt(sched, "job", "allocs", "job-cmds").stdout.splitlines()
    alloc_id = next(ln.split()[0] for ln in allocs[1:] if " running " in ln)
    eval_id = yurt(sched, "alloc", "stop", "-detach", alloc_id).stdout.strip()
    assert len(eval_id) == 36
    status = yurt(sched, "eval", "status", eval_id[:8]).stdout
    assert f"ID                 = {eval_id[:8]}" in status
    assert "TriggeredBy        = alloc-stop" in status  # sic: Nomad's own label
    out = yurt(sched, "job", "stop", "-purge", "-detach", "job-cmds").stdout
    assert out.startswith("Evaluation ID: ")
    gone = yurt(sched, "job", "status", "job-cmds", ok=False)
    assert gone.returncode == 1 and 'No job(s) with prefix or id "job-cmds" found' in gone.stderr


def test_node_eligibility_and_drain(sched: SchedulerProcess, node: SimNode) -> None:
    short = node.id[:8]
    out = yurt(sched, "node", "eligibility", "-disable", short).stdout
    assert "ineligible for scheduling" in out
    listing = yurt(sched, "node", "status").stdout
    assert "ineligible" in listing
    yurt(sched, "node", "eligibility", "-enable", short)
    out = yurt(sched, "node", "drain", "-enable", "-yes", "-detach", short).stdout
    assert "drain strategy enabled" in out
    # No allocations to move: the drain is done at once, and leaves the node ineligible.
    assert "ineligible" in yurt(sched, "node", "status").stdout
    out = yurt(sched, "node", "drain", "-disable", "-yes", short).stdout
    assert "drain strategy disabled" in out
    yurt(sched, "node", "eligibility", "-enable", short)
    verbose = yurt(sched, "node", "status", "-verbose", node.id).stdout
    assert node.id in verbose and "eligible" in verbose


def test_dispatch_and_periodic_force(
    sched: SchedulerProcess, node: SimNode, tmp_path: Path
) -> None:
    report = tmp_path / "report.nomad"
    report.write_text(
        'job "report" {\n  type = "batch"\n  parameterized {\n    meta_required = ["who"]\n  }\n'
        '  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
        '      config { command = "/bin/true" }\n    }\n  }\n}\n'
    )
    yurt(sched, "job", "run", "-detach", str(report))
    missing = yurt(sched, "job", "dispatch", "report", ok=False)
    assert missing.returncode == 1 and "who" in missing.stderr
    out = yurt(sched, "job", "dispatch", "-detach", "-meta", "who=me", "report").stdout
    assert "Dispatched Job ID = report/dispatch-" in out
    child = out.split("Dispatched Job ID = ", 1)[1].split()[0]
    assert "Meta" in yurt(sched, "job", "inspect", child).stdout

    yurt(sched, "job", "run", "-detach", "jobs/job.cron.nomad")
    forced = yurt(sched, "job", "periodic", "force", "-detach", "job-cron").stdout
    assert "Force periodic successful" in forced
    children = yurt(sched, "job", "status").stdout
    assert "job-cron/periodic-" in children
