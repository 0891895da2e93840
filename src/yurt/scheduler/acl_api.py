"""Nomad's ACL endpoints on the scheduler: bootstrap, policies, tokens, self, one-time tokens.

Paths, bodies, status codes and texts are Nomad's ("ACL Policies HTTP API", "ACL Tokens HTTP
API"). These handlers check the caller's token themselves, as Nomad's ACL RPCs do: most need
a management token, but a token may read itself and the policies it holds.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler import store as s
from yurt.scheduler.acl_enforce import request_token
from yurt.scheduler.acl_state import (
    ACL_DISABLED,
    ACLState,
    Resolved,
    denied,
)
from yurt.scheduler.api_common import index_headers


def acl_routes(api: ACLAPI) -> list[Route]:
    """The ACL endpoints' table; `self` before `{accessor}` (a literal path wins)."""
    return [
        routes.write("/v1/acl/bootstrap", api.bootstrap),
        routes.get("/v1/acl/policies", api.list_policies),
        routes.get("/v1/acl/policy/{name}", api.get_policy),
        routes.write("/v1/acl/policy/{name}", api.put_policy),
        routes.delete("/v1/acl/policy/{name}", api.delete_policy),
        routes.get("/v1/acl/tokens", api.list_tokens),
        routes.write("/v1/acl/token", api.create_token),
        routes.write("/v1/acl/token/onetime", api.create_one_time),
        routes.write("/v1/acl/token/onetime/exchange", api.exchange_one_time),
        routes.get("/v1/acl/token/self", api.token_self),
        routes.get("/v1/acl/token/{accessor}", api.get_token),
        routes.write("/v1/acl/token/{accessor}", api.update_token),
        routes.delete("/v1/acl/token/{accessor}", api.delete_token),
    ]


def add_acl_routes(app: web.Application, state: ACLState, enabled: bool) -> None:
    routes.add_routes(app.router, acl_routes(ACLAPI(state, enabled)))


class ACLAPI:
    def __init__(self, state: ACLState, enabled: bool) -> None:
        self.state = state
        self.enabled = enabled
        self.store = state.store

    def _enabled(self) -> None:
        if not self.enabled:
            raise APIError.bad_request(ACL_DISABLED)

    def _caller(self, request: web.Request) -> Resolved:
        self._enabled()
        return self.state.resolve(request_token(request))

    def _management(self, request: web.Request) -> Resolved:
        caller = self._caller(request)
        if not caller.acl.is_management:
            raise denied()
        return caller

    async def _blocking(self, request: web.Request, kind: str, run: Any) -> web.Response:
        query = BlockingQuery.from_query(request.query)
        result, index = await blocking_query(self.store.hub, [kind], query, run)
        return json_response(result, headers=index_headers(index), pretty=flag(request, "pretty"))

    # --- bootstrap ----------------------------------------------------------------------

    async def bootstrap(self, request: web.Request) -> web.Response:
        self._enabled()
        body = await read_json(request)
        secret = ""
        if body is not None:
            secret = expect_object(body, "body").get("BootstrapSecret") or ""
            if not isinstance(secret, str):
                raise APIError.bad_request("BootstrapSecret: expected a string")
        token = self.state.bootstrap(secret)
        return json_response(token, headers=index_headers(token["ModifyIndex"]))

    # --- policies -----------------------------------------------------------------------

    async def list_policies(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        prefix = request.query.get("prefix", "")
        held = _held_policies(caller)

        def run() -> tuple[Any, int]:
            out = [
                self.state.policy_stub(obj)
                for name, obj in sorted(self.state.policies.items())
                if name.startswith(prefix) and (caller.acl.is_management or name in held)
            ]
            return out, self.store.table_index[s.ACL_POLICY]

        return await self._blocking(request, s.ACL_POLICY, run)

    async def get_policy(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        name = request.match_info["name"]
        held = _held_policies(caller)
        if not caller.acl.is_management and name not in held:
            raise denied()

        def run() -> tuple[Any, int]:
            obj = self.state.policies.get(name)
            if obj is None:
                raise APIError.not_found("ACL policy not found")
            return self.state.policy_view(obj), obj["ModifyIndex"]

        return await self._blocking(request, s.ACL_POLICY, run)

    async def put_policy(self, request: web.Request) -> web.Response:
        self._management(request)
        name = request.match_info["name"]
        body = expect_object(await read_json(request), "body")
        if body.get("Name") not in (None, "", name):
            raise APIError.bad_request("ACL policy name does not match request path")
        body["Name"] = name
        index = self.state.upsert_policy(body)
        return web.Response(status=200, headers=index_headers(index))

    async def delete_policy(self, request: web.Request) -> web.Response:
        self._management(request)
        index = self.state.delete_policy(request.match_info["name"])
        return web.Response(status=200, headers=index_headers(index))

    # --- tokens -------------------------------------------------------------------------

    async def list_tokens(self, request: web.Request) -> web.Response:
        self._management(request)
        prefix = request.query.get("prefix", "")

        def run() -> tuple[Any, int]:
            tokens = [
                self.state.token_stub(t)
                for t in self.state.tokens.values()
                if t["AccessorID"].startswith(prefix)
            ]
            tokens.sort(key=lambda t: t["CreateIndex"])
            return tokens, self.store.table_index[s.ACL_TOKEN]

        return await self._blocking(request, s.ACL_TOKEN, run)

    async def create_token(self, request: web.Request) -> web.Response:
        self._management(request)
        body = expect_object(await read_json(request), "body")
        token = self.state.create_token(body)
        return json_response(token, headers=index_headers(token["ModifyIndex"]))

    async def token_self(self, request: web.Request) -> web.Response:
        self._enabled()
        secret = request_token(request)
        if not secret:
            # Nomad's answer to `nomad acl token self` without a token.
            raise APIError(500, "acl token lookup failed: missing secret id")
        token = self.state.token_by_secret(secret)
        if token is None:
            raise APIError.not_found("ACL token not found")
        self.state.resolve(secret)  # an expired token is refused here too
        return json_response(
            self.state.token_view(token, secret), headers=index_headers(token["ModifyIndex"])
        )

    async def get_token(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        accessor = request.match_info["accessor"]
        own = caller.token is not None and caller.token["AccessorID"] == accessor
        if not caller.acl.is_management and not own:
            raise denied()

        def run() -> tuple[Any, int]:
            token = self.state.tokens.get(accessor)
            if token is None:
                raise APIError.not_found("ACL token not found")
            return self.state.token_view(token, caller.secret if own else ""), token["ModifyIndex"]

        return await self._blocking(request, s.ACL_TOKEN, run)

    async def update_token(self, request: web.Request) -> web.Response:
        self._management(request)
        body = expect_object(await read_json(request), "body")
        token = self.state.update_token(request.match_info["accessor"], body)
        return json_response(token, headers=index_headers(token["ModifyIndex"]))

    async def delete_token(self, request: web.Request) -> web.Response:
        self._management(request)
        index = self.state.delete_token(request.match_info["accessor"])
        return web.Response(status=200, headers=index_headers(index))

    # --- one-time tokens ----------------------------------------------------------------

    async def create_one_time(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        out = self.state.create_one_time(caller)
        return json_response(out, headers=index_headers(out["Index"]))

    async def exchange_one_time(self, request: web.Request) -> web.Response:
        self._enabled()
        body = expect_object(await read_json(request), "body")
        secret = body.get("OneTimeSecretID")
        if not isinstance(secret, str) or not secret:
            raise APIError.bad_request("OneTimeSecretID: expected the one-time secret")
        out = self.state.exchange_one_time(secret)
        return json_response(out, headers=index_headers(out["Index"]))


def _held_policies(caller: Resolved) -> set[str]:
    """The policies the caller's token holds (without a token: the anonymous policy)."""
    policies = caller.token.get("Policies") if caller.token else None
    return set(policies or ["anonymous"])
