"""Health check runners: HTTP, TCP, script, gRPC, H2PING and TTL, run by the agent for the
checks on its node (script checks only where the agent's settings allow them, see
definitions.py; the HTTP/2 probes are in check_h2.py).

An interval check runs once at registration (so a healthy service is routable at once) and
then every `Interval`; until it has passed once, a failing check is retried sooner (from
0.25 s, doubling up to the interval), where Consul waits a random part of the interval
before the first run and then the whole interval. Results pass through Consul's thresholds
(`SuccessBeforePassing`, `FailuresBeforeCritical`) before they change the status, and a
check that stays critical for `DeregisterCriticalServiceAfter` removes its service. Output
text is Consul's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from yurt.api.durations import SECOND
from yurt.catalog.check_h2 import probe_grpc, probe_h2ping
from yurt.catalog.check_script import run_script
from yurt.catalog.model import CRITICAL, PASSING, WARNING, Check
from yurt.catalog.store import CatalogStore

log = logging.getLogger(__name__)
_FIRST_RETRY = 0.25  # seconds: the first early retry of a check that has not passed yet

HTTP_BODY_LIMIT = 4 * 1024
USER_AGENT = "Consul Health Check"


@dataclass
class _State:
    check: Check
    task: asyncio.Task[None] | None = None
    ttl_timer: asyncio.TimerHandle | None = None
    reap_timer: asyncio.TimerHandle | None = None
    successes: int = 0
    failures: int = 0
    # a TTL check's last reported output, quoted when the TTL expires
    last_output: str = ""


class CheckRunners:
    """Runs the checks of one node; `deregister_service` is called for deregister-after."""

    def __init__(
        self,
        store: CatalogStore,
        node: str,
        deregister_service: Callable[[str], None],
    ) -> None:
        self.store = store
        self.node = node
        self._deregister_service = deregister_service
        self._states: dict[str, _State] = {}
        self._session: aiohttp.ClientSession | None = None
        self._insecure = ssl.create_default_context()
        self._insecure.check_hostname = False
        self._insecure.verify_mode = ssl.CERT_NONE

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=0),
                auto_decompress=True,
            )
        return self._session

    async def close(self) -> None:
        for cid in list(self._states):
            self.stop(cid)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, check: Check) -> None:
        """Run `check` (again, if its definition changed); idempotent for an unchanged one."""
        old = self._states.get(check.check_id)
        if old is not None and old.check.definition == check.definition:
            old.check = check
            self._arm_reaper(old)
            return
        self.stop(check.check_id)
        state = _State(
            check,
            successes=check.definition.success_before_passing,
            failures=check.definition.failures_before_critical,
        )
        self._states[check.check_id] = state
        d = check.definition
        if d.kind in ("http", "tcp", "script", "grpc", "h2ping"):
            state.task = asyncio.get_running_loop().create_task(
                self._interval_loop(state), name=f"check {check.check_id}"
            )
        elif d.kind == "ttl":
            self._arm_ttl(state)
        self._arm_reaper(state)

    def stop(self, check_id: str) -> None:
        state = self._states.pop(check_id, None)
        if state is None:
            return
        if state.task is not None:
            state.task.cancel()
        for timer in (state.ttl_timer, state.reap_timer):
            if timer is not None:
                timer.cancel()

    def running(self) -> list[str]:
        return list(self._states)

    # -- TTL ----------------------------------------------------------------------------------

    def _arm_ttl(self, state: _State) -> None:
        if state.ttl_timer is not None:
            state.ttl_timer.cancel()
        ttl_s = state.check.definition.ttl_ns / SECOND
        state.ttl_timer = asyncio.get_running_loop().call_later(
            ttl_s, self._ttl_expired, state.check.check_id
        )

    def _ttl_expired(self, check_id: str) -> None:
        state = self._states.get(check_id)
        if state is None:
            return
        state.ttl_timer = None
        log.info("check %s: TTL expired", check_id)
        output = "TTL expired"
        if state.last_output:
            output += f" (last output before timeout follows): {state.last_output}"
        self._set(state, CRITICAL, output)

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        """`/v1/agent/check/pass|warn|fail|update`: set the status and restart the TTL."""
        state = self._states.get(check_id)
        if state is None:
            raise KeyError(check_id)
        self._arm_ttl(state)
        state.last_output = output
        self._set(state, status, output)

    # -- interval checks ---------------------------------------------------------------

    async def _interval_loop(self, state: _State) -> None:
        d = state.check.definition
        interval = d.interval_ns / SECOND
        retry = 0.0
        ever_passed = False
        while True:
            try:
                status, output = await self._probe(state.check)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a runner must survive whatever the target does
                log.exception("check %s failed to run", state.check.check_id)
                status, output = CRITICAL, str(exc)
            self._report(state, status, output)
            ever_passed = ever_passed or status == PASSING
            if ever_passed:
                await asyncio.sleep(interval)
                continue
            # Until it passes, retry sooner than the interval (0.25 s, doubling): a service
            # registered while its task is still binding its port becomes routable as soon
            # as it answers, not one interval later.
            retry = min(interval, retry * 2 if retry else _FIRST_RETRY)
            await asyncio.sleep(retry)

    async def _probe(self, check: Check) -> tuple[str, str]:
        """(status, output) of one run of an interval check."""
        d = check.definition
        if d.kind == "http":
            return await self._run_http(check)
        if d.kind == "tcp":
            return await self._run_tcp(check)
        if d.kind == "script":
            return await run_script(d.args, d.timeout_ns)
        probe, target, tls = (
            (probe_grpc, d.grpc, d.grpc_use_tls)
            if d.kind == "grpc"
            else (probe_h2ping, d.h2ping, d.h2ping_use_tls)
        )
        return await probe(
            target, use_tls=tls, skip_verify=d.tls_skip_verify, timeout_s=d.timeout_ns / SECOND
        )

    def _report(self, state: _State, status: str, output: str) -> None:
        """Apply SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical as
        Consul's StatusHandler does: a warning counts as a success, and the counters start
        at their thresholds so that the first result after registration applies at once."""
        d = state.check.definition
        if status in (PASSING, WARNING):
            state.successes += 1
            state.failures = 0
            if state.successes >= d.success_before_passing:
                self._set(state, status, output)
            return
        state.failures += 1
        state.successes = 0
        if state.failures >= d.failures_before_critical:
            self._set(state, status, output)
        elif state.failures >= (d.failures_before_warning or d.failures_before_critical):
            self._set(state, WARNING, output)

    def _set(self, state: _State, status: str, output: str) -> None:
        cid = state.check.check_id
        if (self.node, cid) not in self.store.checks:
            return
        self.store.update_check(self.node, cid, status, output)
        state.check = self.store.checks[(self.node, cid)]
        self._arm_reaper(state)

    # -- deregister critical services ----------------------------------------------

    def _arm_reaper(self, state: _State) -> None:
        check = state.check
        after_ns = check.definition.deregister_after_ns
        if not after_ns or not check.service_id:
            return
        if check.status != CRITICAL:
            if state.reap_timer is not None:
                state.reap_timer.cancel()
                state.reap_timer = None
            return
        if state.reap_timer is None:
            state.reap_timer = asyncio.get_running_loop().call_later(
                after_ns / SECOND, self._reap, check.check_id
            )

    def _reap(self, check_id: str) -> None:
        state = self._states.get(check_id)
        if state is None:
            return
        state.reap_timer = None
        if state.check.status != CRITICAL:
            return
        log.info(
            "check %s critical for %ss: deregistering service %s",
            check_id,
            state.check.definition.deregister_after_ns / SECOND,
            state.check.service_id,
        )
        self._deregister_service(state.check.service_id)

    # -- the probes ------------------------------------------------------------------------

    async def _run_http(self, check: Check) -> tuple[str, str]:
        d = check.definition
        method = d.method or "GET"
        headers: list[tuple[str, str]] = []
        for key, values in d.header.items():
            headers.extend((key, v) for v in values)
        names = {k.lower() for k, _ in headers}
        if "user-agent" not in names:
            headers.append(("User-Agent", USER_AGENT))
        if "accept" not in names:
            headers.append(("Accept", "text/plain, text/*, */*"))
        timeout = aiohttp.ClientTimeout(total=d.timeout_ns / SECOND)
        verb = method.capitalize()
        try:
            async with self._http().request(
                method,
                d.http,
                headers=headers,
                data=d.body.encode() if d.body else None,
                timeout=timeout,
                ssl=self._insecure if d.tls_skip_verify else True,
                allow_redirects=True,
            ) as resp:
                body = await resp.content.read(HTTP_BODY_LIMIT)
                text = body.decode("utf-8", errors="replace")
                output = f"HTTP {method} {d.http}: {resp.status} {resp.reason or ''} Output: {text}"
                if 200 <= resp.status < 300:
                    return PASSING, output
                if resp.status == 429:
                    return WARNING, output
                return CRITICAL, output
        except TimeoutError:
            return (
                CRITICAL,
                f'{verb} "{d.http}": context deadline exceeded '
                "(Client.Timeout exceeded while awaiting headers)",
            )
        except aiohttp.ClientConnectorError as exc:
            dial = _dial_error(exc.host, exc.port or 0, exc.os_error)
            return CRITICAL, f'{verb} "{d.http}": {dial}'
        except aiohttp.ClientError as exc:
            return CRITICAL, f'{verb} "{d.http}": {exc}'

    async def _run_tcp(self, check: Check) -> tuple[str, str]:
        d = check.definition
        host, _, port_text = d.tcp.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
        except ValueError:
            return CRITICAL, f"dial tcp {d.tcp}: address {d.tcp}: invalid port"
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), d.timeout_ns / SECOND
            )
        except TimeoutError:
            return CRITICAL, f"dial tcp {d.tcp}: i/o timeout"
        except OSError as exc:
            return CRITICAL, _dial_error(host, port, exc)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return PASSING, f"TCP connect {d.tcp}: Success"


def _dial_error(host: str, port: int, exc: OSError) -> str:
    """Go's net.Dial error text for the common cases."""
    addr = f"{host}:{port}"
    if exc.errno == errno.ECONNREFUSED:
        return f"dial tcp {addr}: connect: connection refused"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"dial tcp {addr}: connect: no route to host"
    if isinstance(exc, OSError) and "Name or service not known" in str(exc):
        return f"dial tcp: lookup {host}: no such host"
    return f"dial tcp {addr}: {exc.strerror or exc}"
