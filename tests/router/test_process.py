"""The router as `yurt up` runs it: `yurt router` in a process of its own, configured
through FABIO_* variables, started again when it dies, ended with its parent."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.process import YurtProcess, free_port, wait_for
from yurt.agent import Agent
from yurt.agent_config import AgentConfig
from yurt.router.config import RouterConfig
from yurt.router.process import RouterProcess, child_environment


@pytest.mark.parametrize(
    ("props", "base", "expected"),
    [
        # the agent's properties become Fabio's variables
        (
            {"proxy.addr": ":1", "registry.consul.token": "t"},
            {"PATH": "/bin"},
            {"PATH": "/bin", "FABIO_proxy_addr": ":1", "FABIO_registry_consul_token": "t"},
        ),
        # the agent's own FABIO_* variables never reached its router: they do not now
        (
            {"ui.addr": ":2"},
            {"FABIO_proxy_addr": ":7", "fabio_ui_title": "x", "HOME": "/root"},
            {"HOME": "/root", "FABIO_ui_addr": ":2"},
        ),
    ],
)
def test_child_environment(
    props: dict[str, str], base: dict[str, str], expected: dict[str, str]
) -> None:
    assert child_environment(props, base) == expected


def test_the_agents_router_settings_read_back_as_they_were_given(tmp_path: Path) -> None:
    cfg = AgentConfig(data_dir=tmp_path)
    cfg.proxy_addr, cfg.ui_addr = "127.0.0.1:19999", "127.0.0.1:19998"
    cfg.consul_token = "secret-token"
    cfg.http_allowed_origins = ["https://ops.example.com"]
    cfg.router_service_name = "edge"
    agent = Agent(cfg)
    props = agent.router_properties()
    env = child_environment(props, {})
    from yurt.router.config import load

    got = load([], env)  # what `yurt router` reads in the child
    assert got == RouterConfig.from_properties(props)
    assert (got.proxy_addr, got.ui_addr) == ("127.0.0.1:19999", "127.0.0.1:19998")
    assert got.consul_addr == agent.consul_url.split("://", 1)[1]
    assert got.consul_token == "secret-token"
    assert got.service_name == "edge"
    assert got.ui_allowed_origins == ("https://ops.example.com",)


def _health(ui: str) -> bool:
    with urllib.request.urlopen(f"http://{ui}/health", timeout=2) as r:
        return bool(r.status == 200)


@pytest.mark.process
async def test_the_child_serves_is_started_again_when_killed_and_stops(tmp_path: Path) -> None:
    ui, proxy = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    router = RouterProcess(
        {
            "proxy.addr": proxy,
            "ui.addr": ui,
            "registry.consul.addr": f"127.0.0.1:{free_port()}",  # no catalog: it retries
            "registry.consul.register.enabled": "false",
            "registry.consul.token": "secret-token",
        }
    )
    await router.start()
    try:
        assert router.pid is not None and router.pid != os.getpid()
        assert _health(ui)  # start() returns once it serves
        # the token is in the child's environment, which only its user reads, not on the
        # command line, which every local user does
        assert b"secret-token" not in Path(f"/proc/{router.pid}/cmdline").read_bytes()
        assert (
            b"FABIO_registry_consul_token=secret-token"
            in Path(f"/proc/{router.pid}/environ").read_bytes()
        )
        first = router.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while router.restarts < 1:
            assert time.monotonic() < deadline, "not started again"
            await _sleep(0.05)
        assert router.pid != first
        assert _health(ui)
    finally:
        pid = router.pid
        await router.stop()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.process
async def test_a_router_that_cannot_bind_fails_the_start_with_its_status() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        router = RouterProcess(
            {
                "proxy.addr": f"127.0.0.1:{port}",
                "ui.addr": f"127.0.0.1:{free_port()}",
                "registry.consul.addr": f"127.0.0.1:{free_port()}",
                "registry.consul.register.enabled": "false",
            }
        )
        with pytest.raises(OSError, match="exited with status"):
            await router.start()
        await router.stop()


def test_the_router_ends_with_a_killed_yurt_up(tmp_path: Path) -> None:
    ui = free_port()
    config = tmp_path / "agent.hcl"
    config.write_text(
        f"ports {{ http = {free_port()} }}\n"
        f'consul {{ address = "127.0.0.1:{free_port()}" }}\n'
        f'router {{\n  proxy_addr = "127.0.0.1:{free_port()}"\n'
        f'  ui_addr = "127.0.0.1:{ui}"\n}}\n'
    )
    with YurtProcess(
        ["up", "-dev", "-config", str(config)],
        ready_url=f"http://127.0.0.1:{ui}/health",
        log_path=tmp_path / "yurt.log",
        timeout=60,
    ) as up:
        assert up.proc is not None
        agent = up.proc.pid
        children = Path(f"/proc/{agent}/task/{agent}/children").read_text().split()
        routers = [
            int(c)
            for c in children
            if b"router" in Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")
        ]
        assert len(routers) == 1
        os.kill(agent, signal.SIGKILL)
        wait_for(lambda: not _alive(routers[0]), timeout=10, what="the router to end")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has ended; its parent (init, after the agent died) reaps it
    status = Path(f"/proc/{pid}/status").read_text()
    return "zombie" not in status


def _lone_router(proxy_port: int, ui: str) -> RouterProcess:
    """A router child with no catalog to reach, registering nothing."""
    return RouterProcess(
        {
            "proxy.addr": f"127.0.0.1:{proxy_port}",
            "ui.addr": ui,
            "registry.consul.addr": f"127.0.0.1:{free_port()}",
            "registry.consul.register.enabled": "false",
        }
    )


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


@pytest.mark.process
async def test_a_restart_that_cannot_bind_is_tried_again_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy_port = free_port()
    ui = f"127.0.0.1:{free_port()}"
    router = _lone_router(proxy_port, ui)
    await router.start()
    try:
        assert router.pid is not None
        os.kill(router.pid, signal.SIGKILL)
        taken = socket.socket()
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:  # the port is free once the kernel has closed the child's socket
            try:
                taken.bind(("127.0.0.1", proxy_port))
                break
            except OSError:
                assert time.monotonic() < deadline
                await _sleep(0.01)
        taken.listen()
        while "exited with status 1" not in caplog.text:  # the restart's own failure
            assert time.monotonic() < deadline + 20, caplog.text
            await _sleep(0.05)
        assert router.restarts == 0
        assert "starting it again in 2s" in caplog.text  # the delay doubled
        taken.close()
        while router.restarts < 1:
            assert time.monotonic() < deadline + 40, caplog.text
            await _sleep(0.05)
        assert _health(ui)
    finally:
        await router.stop()


@pytest.mark.process
async def test_an_unexpected_error_starting_it_again_is_logged_and_tried_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui = f"127.0.0.1:{free_port()}"
    router = _lone_router(free_port(), ui)
    await router.start()
    try:
        real = router._spawn
        calls = 0

        async def broken_once() -> object:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("the spawn broke")
            return await real()

        monkeypatch.setattr(router, "_spawn", broken_once)
        assert router.pid is not None
        os.kill(router.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while router.restarts < 1:
            assert time.monotonic() < deadline, caplog.text
            await _sleep(0.05)
        assert "the spawn broke" in caplog.text
        assert calls == 2
        assert _health(ui)
    finally:
        await router.stop()
