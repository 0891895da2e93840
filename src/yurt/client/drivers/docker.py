"""docker: tasks as containers through the Docker Engine API (the `docker` SDK), so any
Docker-compatible engine works, Podman's service included."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import requests

from yurt.client.drivers.base import (
    Driver,
    DriverError,
    DriverHealth,
    ExecStreams,
    ExitResult,
    Obj,
    TaskContext,
    TaskHandle,
    TtySize,
)
from yurt.client.drivers.docker_options import extra_host_config
from yurt.client.logfiles import RotatingLog

log = logging.getLogger(__name__)
T = TypeVar("T")


def in_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call on its own thread: container waits and log streams block for the
    task's lifetime and must not starve the loop's small default executor."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting coroutine
            loop.call_soon_threadsafe(_set_exc, fut, exc)
        else:
            loop.call_soon_threadsafe(_set_result, fut, result)

    threading.Thread(target=work, daemon=True, name="docker-call").start()
    return fut


def _set_result(fut: asyncio.Future[T], value: T) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exc(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


def split_image(image: str) -> tuple[str, str]:
    """ "nginx:alpine" -> ("nginx", "alpine"); a registry port is not a tag."""
    name, _, digest = image.partition("@")
    if digest:
        return name, "@" + digest
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"


class StreamDemux:
    """The Engine's multiplexed attach stream (no tty): frames of an 8-byte header (stream
    type, 3 zero bytes, big-endian payload size) and the payload; 1 is stdout, 2 stderr."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self._buf += data
        out: list[tuple[str, bytes]] = []
        while len(self._buf) >= 8:
            size = int.from_bytes(self._buf[4:8], "big")
            if len(self._buf) < 8 + size:
                break
            kind = "stderr" if self._buf[0] == 2 else "stdout"
            out.append((kind, bytes(self._buf[8 : 8 + size])))
            del self._buf[: 8 + size]
        return out


def _read_past_headers(raw: Any) -> bytes:
    """What the HTTP parser buffered beyond the response headers of a hijacked connection: the
    command's first output when it came in the same read (docker-py keeps the response on the
    socket it returns). The socket is non-blocking by now, so this never waits."""
    try:
        buffered = raw._response.raw._fp.fp
        return bytes(buffered.read1(65536) or b"")
    except (AttributeError, OSError):
        return b""


class ContainerHandle(TaskHandle):
    def __init__(
        self, api: Any, stream_api: Any, container_id: str, ctx: TaskContext, since: int = 0
    ) -> None:
        self.api = api
        # Log streams stay silent as long as the task is: no read timeout on them.
        self.stream_api = stream_api
        self.id = container_id
        self._result: asyncio.Future[ExitResult] | None = None
        self._loggers = [
            threading.Thread(
                target=self._stream, args=(ctx, kind, since), daemon=True, name=f"logs-{kind}"
            )
            for kind in ("stdout", "stderr")
        ]
        for t in self._loggers:
            t.start()

    def _stream(self, ctx: TaskContext, kind: str, since: int) -> None:
        sink = RotatingLog(
            ctx.log_dir, ctx.task_name, kind, ctx.log_max_files, ctx.log_max_file_size
        )
        try:
            stream = self.stream_api.logs(
                self.id,
                stdout=kind == "stdout",
                stderr=kind == "stderr",
                stream=True,
                follow=True,
                since=since or None,
            )
            for chunk in stream:
                sink.write(chunk)
        except Exception as exc:  # the container went away: the stream just ends
            log.debug("log stream of %s ended: %s", self.id[:12], exc)
        finally:
            sink.close()

    def _wait_blocking(self) -> ExitResult:
        while True:
            try:
                status = self.api.wait(self.id, timeout=3600)
                break
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                continue
            except docker.errors.NotFound:
                return ExitResult(0, message="container vanished")
        code = int(status.get("StatusCode", 0))
        oom = False
        with contextlib.suppress(Exception):
            oom = bool(self.api.inspect_container(self.id)["State"].get("OOMKilled"))
        return ExitResult(code, 9 if code == 137 else 0, oom_killed=oom)

    async def wait(self) -> ExitResult:
        if self._result is None:
            self._result = in_thread(self._wait_blocking)
        return await asyncio.shield(self._result)

    async def signal(self, sig: int) -> None:
        try:
            await asyncio.to_thread(self.api.kill, self.id, sig)
        except docker.errors.APIError as exc:
            raise DriverError(f"cannot signal container: {exc.explanation or exc}") from None

    async def stop(self, sig: int, timeout: float) -> None:
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(self.api.kill, self.id, sig)
        try:
            await asyncio.wait_for(self.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(docker.errors.APIError):
                await asyncio.to_thread(self.api.kill, self.id, "SIGKILL")
            await self.wait()

    async def exec(self, argv: list[str], timeout: float) -> tuple[int, str]:
        def run() -> tuple[int, str]:
            try:
                created = self.api.exec_create(self.id, argv)
                out = self.api.exec_start(created["Id"])
                code = self.api.exec_inspect(created["Id"]).get("ExitCode")
            except docker.errors.APIError as exc:
                return 2, f"exec failed: {exc.explanation or exc}"
            text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
            return int(code if code is not None else 2), text

        try:
            return await asyncio.wait_for(in_thread(run), timeout)
        except TimeoutError:
            return 2, f"script check timed out after {timeout}s"

    exec_streaming_supported = True

    async def exec_streaming(self, argv: list[str], *, tty: bool, streams: ExecStreams) -> int:
        def start() -> tuple[str, Any]:
            created = self.api.exec_create(self.id, argv, stdin=True, tty=tty)
            return str(created["Id"]), self.api.exec_start(created["Id"], socket=True, tty=tty)

        try:
            exec_id, raw = await in_thread(start)
        except docker.errors.APIError as exc:
            raise DriverError(f"failed to exec into task: {exc.explanation or exc}") from None
        # docker-py hands back the hijacked connection wrapped in a SocketIO.
        sock: socket.socket = getattr(raw, "_sock", raw)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        feeder: asyncio.Task[None] | None = None
        demux = None if tty else StreamDemux()
        try:
            if tty and streams.tty_size is not None:
                # The Engine sizes an exec's terminal only once it runs: at once, then.
                await self._resize_exec(exec_id, streams.tty_size)
            feeder = asyncio.create_task(self._feed_exec(exec_id, sock, streams, tty))
            chunk = _read_past_headers(raw)
            while chunk or (chunk := await loop.sock_recv(sock, 65536)):
                for kind, data in [("stdout", chunk)] if demux is None else demux.feed(chunk):
                    await streams.output(kind, data)
                chunk = b""
            return await in_thread(lambda: self._exec_exit_code(exec_id))
        except asyncio.CancelledError:
            # The Engine API cannot stop an exec session: kill its process from here, as the
            # engine runs on this host.
            await in_thread(lambda: self._exec_kill(exec_id))
            raise
        finally:
            if feeder is not None:
                feeder.cancel()
            sock.close()
            with contextlib.suppress(Exception):
                raw.close()

    async def _feed_exec(
        self, exec_id: str, sock: socket.socket, streams: ExecStreams, tty: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await streams.input.get()
            try:
                if isinstance(item, TtySize):
                    await self._resize_exec(exec_id, item)
                elif item is None and tty:
                    # A terminal's input does not end when the socket's does: say it in-band.
                    await loop.sock_sendall(sock, b"\x04")
                elif item is None:
                    sock.shutdown(socket.SHUT_WR)  # stdin closed: the command reads EOF
                else:
                    await loop.sock_sendall(sock, item)
            except (OSError, docker.errors.APIError):
                continue  # the command stopped reading, or already exited

    async def _resize_exec(self, exec_id: str, size: TtySize) -> None:
        if size.height and size.width:
            with contextlib.suppress(docker.errors.APIError):  # it may have exited already
                await in_thread(
                    lambda: self.api.exec_resize(exec_id, height=size.height, width=size.width)
                )

    def _exec_exit_code(self, exec_id: str) -> int:
        # The stream ends a moment before the engine records the exit code.
        for _ in range(100):
            info = self.api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.05)
        raise DriverError("the container engine did not report the command's exit code")

    def _exec_kill(self, exec_id: str) -> None:
        with contextlib.suppress(Exception):
            info = self.api.exec_inspect(exec_id)
            pid = int(info.get("Pid") or 0)
            if pid > 0 and info.get("Running"):
                os.kill(pid, signal.SIGKILL)

    async def cleanup(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(self.api.remove_container, self.id, force=True)

    def state(self) -> Obj:
        return {"ContainerID": self.id}

    def pids(self) -> list[int]:
        try:
            top = self.api.top(self.id)
        except Exception:
            return []
        titles = [t.upper() for t in top.get("Titles") or []]
        col = titles.index("PID") if "PID" in titles else 1
        return [int(p[col]) for p in top.get("Processes") or [] if str(p[col]).isdigit()]


class DockerDriver(Driver):
    name = "docker"

    def __init__(
        self, endpoint: str | None, *, allow_privileged: bool = False, volumes_enabled: bool = True
    ) -> None:
        self.endpoint = endpoint
        self.allow_privileged = allow_privileged
        self.volumes_enabled = volumes_enabled
        self._api: Any = None
        self._stream_api: Any = None

    def _base_url(self) -> str:
        if self.endpoint:
            return self.endpoint
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if host.startswith("unix://") and not Path(host[7:]).exists():
            raise DriverError(f"no Docker engine socket at {host[7:]}")
        return host

    def _client(self) -> Any:
        if self._api is None:
            self._api = docker.APIClient(base_url=self._base_url(), timeout=120, version="auto")
        return self._api

    def _streams(self) -> Any:
        if self._stream_api is None:
            version = self._client().api_version
            self._stream_api = docker.APIClient(
                base_url=self._base_url(), timeout=None, version=version
            )
        return self._stream_api

    def fingerprint(self) -> DriverHealth:
        try:
            api = self._client()
            version = api.version()
        except Exception as exc:
            self._api = None
            return DriverHealth(False, False, f"Failed to connect to docker daemon: {exc}")
        return DriverHealth(
            True,
            True,
            "Healthy",
            {
                "driver.docker": "1",
                "driver.docker.version": str(version.get("Version", "")),
                "driver.docker.os_type": str(version.get("Os", "linux")),
                "driver.docker.runtimes": "runc",
                "driver.docker.privileged.enabled": str(self.allow_privileged).lower(),
                "driver.docker.volumes.enabled": str(self.volumes_enabled).lower(),
            },
        )

    async def close(self) -> None:
        for api in (self._api, self._stream_api):
            if api is not None:
                with contextlib.suppress(Exception):
                    api.close()

    async def start(self, ctx: TaskContext) -> TaskHandle:
        return await in_thread(lambda: self._start(ctx))

    def _ensure_image(self, api: Any, image: str, force: bool) -> None:
        if not force:
            try:
                api.inspect_image(image)
                return
            except docker.errors.ImageNotFound:
                pass
        repo, tag = split_image(image)
        try:
            api.pull(repo, tag=tag.lstrip("@") if not tag.startswith("@") else None)
        except docker.errors.APIError as exc:
            raise DriverError(f"Failed to pull `{image}`: {exc.explanation or exc}") from None

    def _start(self, ctx: TaskContext) -> TaskHandle:
        cfg = ctx.config
        image = str(cfg.get("image") or "")
        if not image:
            raise DriverError('missing required config "image"', recoverable=False)
        try:
            api = self._client()
        except DriverError:
            raise
        name = f"{ctx.task_name}-{ctx.alloc_id}"
        adopted = self._adopt(api, name, ctx)
        if adopted is not None:
            return adopted
        self._ensure_image(api, image, bool(cfg.get("force_pull")))
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(name, force=True)  # a leftover of an earlier attempt
        host_config = api.create_host_config(**self._host_config(ctx))
        create: Obj = {
            "image": image,
            "name": name,
            "environment": ctx.env,
            "labels": {
                **ctx.labels,
                **{str(k): str(v) for k, v in (cfg.get("labels") or {}).items()},
            },
            "host_config": host_config,
            "ports": self._exposed(ctx),
            "detach": True,
        }
        command = cfg.get("command")
        args = [str(a) for a in cfg.get("args") or []]
        if command:
            create["command"] = [str(command), *args]
        elif args:
            create["command"] = args
        if cfg.get("entrypoint"):
            create["entrypoint"] = [str(e) for e in cfg["entrypoint"]]
        if cfg.get("hostname"):
            create["hostname"] = str(cfg["hostname"])
        if cfg.get("work_dir"):
            create["working_dir"] = str(cfg["work_dir"])
        if ctx.user:
            create["user"] = ctx.user
        try:
            container = api.create_container(**create)
            api.start(container["Id"])
        except docker.errors.APIError as exc:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_container(name, force=True)
            raise DriverError(
                f"failed to start container {name}: {exc.explanation or exc}"
            ) from None
        return ContainerHandle(api, self._streams(), str(container["Id"]), ctx)

    def _adopt(self, api: Any, name: str, ctx: TaskContext) -> TaskHandle | None:
        """The task's container if it is already running: a client that died between
        starting it and persisting the handle adopts it instead of starting it twice (the
        name is the task's mark). A stopped one is a leftover, removed by the caller."""
        try:
            info = api.inspect_container(name)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise DriverError(f"inspecting container {name}: {exc.explanation or exc}") from None
        if not info.get("State", {}).get("Running"):
            return None
        return ContainerHandle(api, self._streams(), str(info["Id"]), ctx, since=int(time.time()))

    def _port_bindings(self, ctx: TaskContext) -> dict[str, tuple[str, int]]:
        labels = ctx.config.get("ports") or []
        if not isinstance(labels, list):
            raise DriverError('config "ports" must be a list of port labels', recoverable=False)
        by_label = {str(p.get("Label")): p for p in ctx.ports}
        out: dict[str, tuple[str, int]] = {}
        for label in labels:
            port = by_label.get(str(label))
            if port is None:
                raise DriverError(
                    f'port label "{label}" in config "ports" is not in the group network',
                    recoverable=False,
                )
            host = int(port.get("Value") or 0)
            inside = int(port.get("To") or 0) or host
            host_ip = str(port.get("HostIP") or "0.0.0.0")
            out[f"{inside}/tcp"] = (host_ip, host)
            out[f"{inside}/udp"] = (host_ip, host)
        return out

    def _exposed(self, ctx: TaskContext) -> list[Any]:
        out: list[Any] = []
        for spec in self._port_bindings(ctx):
            number, proto = spec.split("/")
            out.append((int(number), proto) if proto == "udp" else int(number))
        return out

    def _host_config(self, ctx: TaskContext) -> Obj:
        cfg = ctx.config
        binds = [
            f"{ctx.alloc_dir / 'alloc'}:/alloc",
            f"{ctx.task_dir / 'local'}:/local",
            f"{ctx.task_dir / 'secrets'}:/secrets",
        ]
        for vol in cfg.get("volumes") or []:
            host, sep, rest = str(vol).partition(":")
            if not sep:
                raise DriverError(f'volume "{vol}" must be "host_path:container_path"')
            if not host.startswith("/"):
                host = str(ctx.task_dir / host)
            elif not self.volumes_enabled:
                raise DriverError(
                    f'volume "{vol}": host paths outside the task dir need docker volumes enabled'
                )
            binds.append(f"{host}:{rest}")
        hc: Obj = {
            "binds": binds,
            "port_bindings": self._port_bindings(ctx),
            "extra_hosts": self._extra_hosts(cfg.get("extra_hosts") or []),
        }
        if cfg.get("network_mode"):
            hc["network_mode"] = str(cfg["network_mode"])
        if cfg.get("privileged"):
            if not self.allow_privileged:
                raise DriverError(
                    "privileged containers are not allowed on this client "
                    '(plugin "docker" { config { allow_privileged = true } })',
                    recoverable=False,
                )
            hc["privileged"] = True
        if cfg.get("dns_servers"):
            hc["dns"] = [str(d) for d in cfg["dns_servers"]]
        if cfg.get("cap_add"):
            hc["cap_add"] = [str(c) for c in cfg["cap_add"]]
        if cfg.get("cap_drop"):
            hc["cap_drop"] = [str(c) for c in cfg["cap_drop"]]
        # As Nomad's docker driver: the hard memory limit is memory_max when set, with memory
        # as the reservation; CPU is a share weighted by the task's MHz.
        if ctx.memory_max_mb > ctx.memory_mb:
            hc["mem_limit"] = f"{ctx.memory_max_mb}m"
            hc["mem_reservation"] = f"{ctx.memory_mb}m"
        elif ctx.memory_mb:
            hc["mem_limit"] = f"{ctx.memory_mb}m"
        if ctx.cpu_mhz:
            hc["cpu_shares"] = max(ctx.cpu_mhz, 2)
        hc.update(extra_host_config(cfg, ctx.task_dir, self.volumes_enabled))
        return hc

    @staticmethod
    def _extra_hosts(items: list[Any]) -> dict[str, str]:
        out = {}
        for item in items:
            host, sep, ip = str(item).partition(":")
            if not sep:
                raise DriverError(
                    f'extra_hosts entry "{item}" must be "host:ip"', recoverable=False
                )
            out[host] = ip
        return out

    async def recover(self, ctx: TaskContext, state: Obj) -> TaskHandle | None:
        container_id = str(state.get("ContainerID") or "")
        if not container_id:
            return None

        def inspect() -> bool:
            try:
                info = self._client().inspect_container(container_id)
            except Exception:
                return False
            return bool(info["State"].get("Running"))

        if not await in_thread(inspect):
            return None
        return ContainerHandle(
            self._client(), self._streams(), container_id, ctx, since=int(time.time())
        )
