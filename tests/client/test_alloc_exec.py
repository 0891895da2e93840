"""`alloc exec` in docker (Podman's Engine API), exec (namespaces + chroot) and raw_exec tasks:
Nomad's WebSocket frames against the node, and the `yurt alloc exec` CLI end to end through
the scheduler. One allocation holds one task of each driver."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from tests.client.conftest import Cluster, pid_alive, running_cluster, wait_for
from tests.client.test_docker import podman as podman  # the Podman service and local images
from yurt.client.drivers.docker import StreamDemux

JOB = """
job "shell" {
  datacenters = ["dc1"]
  group "g" {
    task "box" {
      driver = "docker"
      kill_timeout = "1s"
      env { GREETING = "hello from box" }
      config {
        image   = "localhost/yurt-busybox:latest"
        command = "/bin/sleep"
        args    = ["1000"]
        work_dir = "/local"
      }
    }
    task "jail" {
      driver = "exec"
      kill_timeout = "1s"
      env { GREETING = "hello from jail" }
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 1000"]
      }
    }
    task "raw" {
      driver = "raw_exec"
      kill_timeout = "1s"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 1000"]
      }
    }
  }
}
"""


@dataclass
class Session:
    stdout: bytes
    stderr: bytes
    exit_code: int | None


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory, podman: str) -> Iterator[tuple[Cluster, str]]:
    with running_cluster(tmp_path_factory.mktemp("exec"), "-docker-endpoint", podman) as c:
        c.run(JOB)
        alloc = c.wait_alloc("shell", "running", timeout=60)
        wait_for(
            lambda: all(
                s["State"] == "running" for s in c.alloc(alloc["ID"])["TaskStates"].values()
            ),
            what="all three tasks running",
        )
        yield c, str(alloc["ID"])
        c.stop_job("shell")


def exec_frames(
    url: str, alloc_id: str, task: str, command: list[str], *, tty: bool, frames: list[Any]
) -> Session:
    """One exec session: send `frames` (a float is a pause in seconds), read until `exited`."""

    async def run() -> Session:
        out, err, code = bytearray(), bytearray(), None
        params = {"task": task, "command": json.dumps(command), "tty": str(tty).lower()}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{url}/v1/client/allocation/{alloc_id}/exec", params=params) as ws,
        ):
            for frame in frames:
                if isinstance(frame, float):
                    await asyncio.sleep(frame)
                else:
                    await ws.send_str(json.dumps(frame))
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                body = json.loads(msg.data)
                for key, buf in (("stdout", out), ("stderr", err)):
                    if (body.get(key) or {}).get("data"):
                        buf += base64.b64decode(body[key]["data"])
                if body.get("exited"):
                    code = body["result"]["exit_code"]
                    break
        return Session(bytes(out), bytes(err), code)

    return asyncio.run(asyncio.wait_for(run(), 30))


def stdin(data: bytes) -> dict[str, Any]:
    return {"stdin": {"data": base64.b64encode(data).decode()}}


CLOSE = {"stdin": {"close": True}}
SPLIT = ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]


@pytest.mark.parametrize("task", ["box", "jail", "raw"])
def test_output_split_and_exit_code(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    got = exec_frames(c.client.url, alloc_id, task, SPLIT, tty=False, frames=[CLOSE])
    assert (got.stdout, got.stderr, got.exit_code) == (b"out\n", b"err\n", 3)


def test_malformed_frames_are_dropped_not_fatal(shell: tuple[Cluster, str]) -> None:
    c, alloc_id = shell
    frames = [
        {"stdin": {"data": "%%% not base64"}},
        {"tty_size": {"height": "tall"}},
        {"stdin": "nope"},
        stdin(b"kept\n"),
        CLOSE,
    ]
    got = exec_frames(c.client.url, alloc_id, "raw", ["cat"], tty=False, frames=frames)
    assert (got.stdout, got.exit_code) == (b"kept\n", 0)


@pytest.mark.parametrize("task", ["box", "jail", "raw"])
def test_stdin_reaches_cat_and_its_close_ends_it(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    frames = [stdin(b"one\n"), 0.1, stdin(b"two\n"), CLOSE]
    got = exec_frames(c.client.url, alloc_id, task, ["cat"], tty=False, frames=frames)
    assert (got.stdout, got.stderr, got.exit_code) == (b"one\ntwo\n", b"", 0)


@pytest.mark.parametrize("task", ["box", "jail", "raw"])
def test_tty_with_resize(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    command = ["/bin/sh", "-c", "read x; stty size; test -t 1 && echo tty:$x; exit 5"]
    frames = [{"tty_size": {"height": 33, "width": 101}}, stdin(b"go\n")]
    got = exec_frames(c.client.url, alloc_id, task, command, tty=True, frames=frames)
    text = got.stdout.decode()
    # A terminal: one stream, CRLF line ends, the caller's size.
    assert "33 101\r\n" in text and "tty:go\r\n" in text, got
    assert got.stderr == b""
    assert got.exit_code == 5


@pytest.mark.parametrize("task", ["box", "jail", "raw"])
def test_tty_stdin_close_ends_cat(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    frames = [stdin(b"abc\n"), 0.2, CLOSE]
    got = exec_frames(c.client.url, alloc_id, task, ["cat"], tty=True, frames=frames)
    assert got.exit_code == 0
    assert got.stdout.count(b"abc\r\n") == 2  # the terminal's echo, then cat's copy


def test_bad_requests_are_refused_before_the_upgrade(shell: tuple[Cluster, str]) -> None:
    c, alloc_id = shell
    url = f"{c.client.url}/v1/client/allocation/{alloc_id}/exec"
    for params, reason in [
        ({"command": '["ls"]'}, "missing task name"),
        ({"task": "nope", "command": '["ls"]'}, 'unknown task name "nope"'),
        ({"task": "box", "command": "ls"}, "command: expected a JSON array"),
        ({"task": "box", "command": "[]"}, "command: expected a non-empty JSON array"),
    ]:
        resp = requests.get(url, params=params, timeout=10)
        assert resp.status_code == 400 and reason in resp.text, (params, resp.text)


@pytest.mark.parametrize("task", ["box", "jail", "raw"])
def test_tty_ctrl_c_interrupts_the_command(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    script = 'trap "echo interrupted; exit 9" INT; read x; while :; do sleep 0.05; done'
    frames = [stdin(b"go\n"), 0.5, stdin(b"\x03")]
    got = exec_frames(
        c.client.url, alloc_id, task, ["/bin/sh", "-c", script], tty=True, frames=frames
    )
    assert b"interrupted" in got.stdout
    assert got.exit_code == 9


@pytest.mark.parametrize("task", ["jail", "raw"])
def test_tty_starts_with_the_size_sent_first(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    frames = [{"tty_size": {"height": 41, "width": 123}}, CLOSE]
    got = exec_frames(c.client.url, alloc_id, task, ["stty", "size"], tty=True, frames=frames)
    assert (got.stdout, got.exit_code) == (b"41 123\r\n", 0)


@pytest.mark.parametrize("task", ["box", "jail", "raw"])
def test_unknown_command_exits_127_with_the_reason(shell: tuple[Cluster, str], task: str) -> None:
    c, alloc_id = shell
    got = exec_frames(c.client.url, alloc_id, task, ["no-such-cmd"], tty=False, frames=[CLOSE])
    assert got.exit_code == 127
    assert b"no-such-cmd" in got.stderr
    assert b"not found" in got.stderr or b"No such file" in got.stderr


def test_exec_task_command_runs_in_the_task_namespaces(shell: tuple[Cluster, str]) -> None:
    c, alloc_id = shell
    command = ["/bin/sh", "-c", "echo pid=$$; pwd; ls /; echo $GREETING; echo $NOMAD_TASK_DIR"]
    got = exec_frames(c.client.url, alloc_id, "jail", command, tty=False, frames=[CLOSE])
    assert got.exit_code == 0, got
    lines = got.stdout.decode().split("\n")
    assert int(lines[0][4:]) < 100  # inside the task's PID namespace
    assert lines[1] == "/"  # the task's working directory: its chroot's root
    assert {"alloc", "local", "secrets", "bin", "usr"} <= set(lines)
    assert "hello from jail" in lines
    assert "/local" in lines


def test_docker_command_gets_the_task_environment_and_work_dir(
    shell: tuple[Cluster, str],
) -> None:
    c, alloc_id = shell
    command = ["/bin/sh", "-c", "pwd; echo $GREETING; echo $NOMAD_ALLOC_ID"]
    got = exec_frames(c.client.url, alloc_id, "box", command, tty=False, frames=[CLOSE])
    assert got.stdout.decode().split("\n")[:3] == ["/local", "hello from box", alloc_id]


def sleepers(seconds: str) -> list[int]:
    """Host PIDs of `sleep <seconds>` processes (containers' processes are host processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[-2:] == [seconds.encode(), b""] and argv[0].endswith(b"sleep"):
                found.append(int(entry))
    return [p for p in found if pid_alive(p)]


@pytest.mark.parametrize(("task", "seconds"), [("box", "991"), ("jail", "992"), ("raw", "993")])
def test_caller_leaving_kills_the_command(
    shell: tuple[Cluster, str], task: str, seconds: str
) -> None:
    c, alloc_id = shell

    async def leave_early() -> None:
        params = {
            "task": task,
            "command": json.dumps(["/bin/sh", "-c", f"echo up; sleep {seconds}"]),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"{c.client.url}/v1/client/allocation/{alloc_id}/exec", params=params
            ) as ws,
        ):
            msg = await ws.receive(timeout=10)
            assert b"up" in base64.b64decode(json.loads(msg.data)["stdout"]["data"])
            wait_for(lambda: sleepers(seconds), 10, f"sleep {seconds} running")

    asyncio.run(leave_early())
    wait_for(lambda: not sleepers(seconds), 10, "the exec'd command to be killed")


def test_cli_alloc_exec_through_the_scheduler(shell: tuple[Cluster, str]) -> None:
    c, alloc_id = shell
    env = {**os.environ, "NOMAD_ADDR": c.sched.url}

    def yurt(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "yurt", "alloc", "exec", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    split = yurt("-task", "box", alloc_id[:8], *SPLIT)
    assert (split.stdout, split.stderr, split.returncode) == ("out\n", "err\n", 3)
    piped = yurt("-task", "jail", alloc_id, "/bin/sh", "-c", "read x; echo got $x", stdin="7\n")
    assert (piped.stdout, piped.returncode) == ("got 7\n", 0)
    missing = yurt("-task", "box", alloc_id, "no-such-cmd")
    assert missing.returncode == 127 and "no-such-cmd" in missing.stderr


def test_engine_stream_frames_split_anywhere_are_reassembled() -> None:
    wire = b"".join(
        bytes([kind, 0, 0, 0]) + len(data).to_bytes(4, "big") + data
        for kind, data in [(1, b"out\n"), (2, b"err\n"), (1, b""), (1, b"x" * 70000)]
    )
    for step in (1, 3, 8, 4096, len(wire)):
        demux, got = StreamDemux(), []
        for i in range(0, len(wire), step):
            got += demux.feed(wire[i : i + step])
        joined = {k: b"".join(d for kk, d in got if kk == k) for k in ("stdout", "stderr")}
        assert joined == {"stdout": b"out\n" + b"x" * 70000, "stderr": b"err\n"}


def test_cli_on_a_terminal_sizes_the_command_terminal(shell: tuple[Cluster, str]) -> None:
    """`yurt alloc exec` run on a terminal (a pty here): a tty session, the caller's size."""
    c, alloc_id = shell
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 27, 91, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("LINES", "COLUMNS")}
    command = ["/bin/sh", "-c", "stty size; exit 4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "yurt", "alloc", "exec", "-task", "jail", alloc_id, *command],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "NOMAD_ADDR": c.sched.url},
        start_new_session=True,
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        assert ready, f"the CLI went silent without exiting: {out!r}"
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the CLI exited and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=30) == 4
    assert b"27 91" in out, out
