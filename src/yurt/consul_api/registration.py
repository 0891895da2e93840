"""The one self-registration loop: a component's own service, kept in the catalog.

Registers (retrying with the one `Backoff` while the catalog is not up), then keeps the
registration alive: a TTL check is passed every `keepalive` seconds; a service without one is
looked up as often. A pass that fails, or a service the agent no longer has (a catalog that
restarted without it, a reaped critical service), is registered again. `stop` deregisters.
Used by the router (itself and its `register=` aliases), the scheduler and the client agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from yurt.consul_api.backoff import Backoff
from yurt.consul_api.client import ConsulClient
from yurt.consul_api.errors import ConsulAPIError, ConsulError

log = logging.getLogger(__name__)


class ServiceRegistration:
    """One service registered on behalf of this process, by its `ID`."""

    def __init__(
        self,
        client: ConsulClient,
        payload: dict[str, Any],
        *,
        ttl_check_id: str = "",
        keepalive: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.payload = payload
        self.service_id = str(payload["ID"])
        self.ttl_check_id = ttl_check_id
        self.keepalive = keepalive
        self.backoff = backoff or Backoff()
        self.registered = asyncio.Event()  # set once the catalog has taken it (ever)
        self.current = False  # in the catalog as far as we know now
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"consul-register-{self.service_id}"
            )

    async def attempt(self) -> bool:
        """Register now (and pass the TTL check); whether the catalog took it."""
        try:
            await self.client.register(self.payload)
            if self.ttl_check_id:
                await self.client.check_pass(self.ttl_check_id)
        except ConsulError as exc:
            if not self._warned:
                log.warning("registering %s: %s; will retry", self.service_id, exc)
            self._warned = True
            self.current = False
            return False
        log.info("registered %s in the catalog at %s", self.service_id, self.client.base_url)
        self._warned = False
        self.current = True
        self.backoff.reset()
        self.registered.set()
        return True

    async def _still_there(self) -> bool:
        """Keep the check passing, or look the service up; False when it must be sent again."""
        try:
            if self.ttl_check_id:
                await self.client.check_pass(self.ttl_check_id)
                return True
            return await self.client.agent_service(self.service_id) is not None
        except ConsulAPIError:
            # A refused pass means an unknown check, so an unknown service; a refused look-up
            # (a token that may not read services) says nothing about the registration.
            return not self.ttl_check_id
        except ConsulError:
            return False

    async def _run(self) -> None:
        while True:
            if not self.current and not await self.attempt():
                await asyncio.sleep(self.backoff.next())
                continue
            await asyncio.sleep(self.keepalive)
            if not await self._still_there():
                self.current = False

    async def stop(self, *, deregister: bool = True, unconfirmed: bool = False) -> None:
        """Stop keeping it alive and deregister it if it was ever registered (or, with
        `unconfirmed`, if it may have been: an attempt whose answer was lost)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not deregister or not (self.registered.is_set() or unconfirmed):
            return
        self.current = False
        try:
            await self.client.deregister(self.service_id)
            log.info("deregistered %s", self.service_id)
        except ConsulError as exc:
            log.warning("deregistering %s: %s", self.service_id, exc)
