"""`yurt catalog acl ...`: Consul's `consul acl` commands (bootstrap, policy, token, role),
printing what the consul CLI prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from yurt.cli._consul_http import ConsulHTTPError, http_addr_option, request

_CONTEXT = {"help_option_names": ["-h", "-help", "--help"]}


def _addr(ctx: click.Context, own: str | None) -> str | None:
    if own:
        return own
    for parent in (ctx.find_root(), *([ctx.parent] if ctx.parent else [])):
        found = parent.obj.get("http_addr") if isinstance(parent.obj, dict) else None
        if isinstance(found, str):
            return found
    return None


def _call(
    ctx: click.Context, addr: str | None, method: str, path: str, body: Any = None, **query: str
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    _, raw = request(_addr(ctx, addr), method, path, body=data, query=query or None)
    return json.loads(raw) if raw.strip() else None


def _field(label: str, value: Any, indent: str = "") -> str:
    return f"{indent}{label + ':':<{12 if indent else 18}}{value}"


def _links(title: str, links: list[dict[str, str]] | None, indent: str = "") -> list[str]:
    if not links:
        return []
    return [f"{indent}{title}:", *(f"{indent}   {p['ID']} - {p['Name']}" for p in links)]


def _identities(data: dict[str, Any], indent: str = "") -> list[str]:
    out: list[str] = []
    services = data.get("ServiceIdentities") or []
    if services:
        out.append(f"{indent}Service Identities:")
        for s in services:
            dcs = ", ".join(s.get("Datacenters") or []) or "all"
            out.append(f"{indent}   {s['ServiceName']} (Datacenters: {dcs})")
    nodes = data.get("NodeIdentities") or []
    if nodes:
        out.append(f"{indent}Node Identities:")
        out.extend(f"{indent}   {n['NodeName']} (Datacenter: {n['Datacenter']})" for n in nodes)
    templated = data.get("TemplatedPolicies") or []
    if templated:
        out.append(f"{indent}Templated Policies:")
        for t in templated:
            out.append(f"{indent}   {t['TemplateName']}")
            for key, value in (t.get("TemplateVariables") or {}).items():
                out.append(f"{indent}      {key}: {value}")
    return out


def format_token(token: dict[str, Any], *, listing: bool = False) -> str:
    lines = [
        f"{'AccessorID:':<18}{token['AccessorID']}",
        f"{'SecretID:':<18}{token['SecretID']}",
        f"{'Description:':<18}{token['Description']}",
        f"{'Local:':<18}{str(token.get('Local', False)).lower()}",
        f"{'Create Time:':<18}{token.get('CreateTime', '')}",
    ]
    if token.get("ExpirationTime"):
        lines.append(f"{'Expiration Time:':<18}{token['ExpirationTime']}")
    if listing:
        lines.append(f"{'Legacy:':<18}false")
    lines += _links("Policies", token.get("Policies"))
    lines += _links("Roles", token.get("Roles"))
    lines += _identities(token)
    return "\n".join(lines)


def format_policy(policy: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{'ID:':<14}{policy['ID']}",
            f"{'Name:':<14}{policy['Name']}",
            f"{'Description:':<14}{policy['Description']}",
            f"{'Datacenters:':<14}{', '.join(policy.get('Datacenters') or [])}",
            "Rules:",
            policy.get("Rules", ""),
        ]
    )


def format_role(role: dict[str, Any], indent: str = "") -> str:
    lines = [
        f"{indent}{'ID:':<14}{role['ID']}",
        f"{indent}{'Description:':<14}{role['Description']}",
    ]
    if not indent:
        lines.insert(1, f"{'Name:':<14}{role['Name']}")
    lines += _links("Policies", role.get("Policies"), indent)
    lines += _identities(role, indent)
    return "\n".join(lines)


def _show_token(token: dict[str, Any]) -> str:
    return format_token(token) + "\n"


def _show_role(role: dict[str, Any]) -> str:
    return format_role(role) + "\n"


def _echo(data: Any, fmt: str, pretty: str) -> None:
    click.echo(json.dumps(data, indent=4) if fmt == "json" else pretty)


def _put(
    ctx: click.Context,
    addr: str | None,
    path: str,
    body: Any,
    fmt: str,
    show: Callable[[Any], str],
) -> None:
    """PUT `body` and print the policy, role or token the catalog answers with."""
    saved = _call(ctx, addr, "PUT", path, body)
    _echo(saved, fmt, show(saved))


_FORMAT = click.option(
    "-format",
    "--format",
    "fmt",
    type=click.Choice(["pretty", "json"]),
    default="pretty",
    help="Output format.",
)


F = TypeVar("F", bound=Callable[..., Any])


def _options(*options: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator applying `options` in the order they are listed."""

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


_ID_OR_NAME = _options(
    click.option("-id", "--id", "ident", default=None),
    click.option("-name", "--name", "name", default=None),
)
_PLURAL = {"policy": "policies", "role": "roles", "token": "tokens"}


def _resolve(
    ctx: click.Context, addr: str | None, kind: str, ident: str | None, name: str | None = None
) -> str:
    """The ID of the policy, role or token that `-name` names, or that `-id` gives whole or
    as the prefix of exactly one, as the consul CLI resolves them."""
    if name:
        return str(_call(ctx, addr, "GET", f"/v1/acl/{kind}/name/{name}")["ID"])
    if not ident:
        raise click.UsageError("Must specify the -id or -name parameter")
    if len(ident) == 36:
        return ident
    key = "AccessorID" if kind == "token" else "ID"
    found = [
        o[key]
        for o in _call(ctx, addr, "GET", f"/v1/acl/{_PLURAL[kind]}")
        if o[key].startswith(ident)
    ]
    if len(found) != 1:
        raise ConsulHTTPError(
            f"Error determining {kind} ID: No such {kind} ID with prefix: {ident}"
        )
    return str(found[0])


def _list(group: click.Group, kind: str, show: Callable[[Any], str]) -> None:
    """`<kind> list`; `show` formats the rows."""

    @group.command("list")
    @http_addr_option
    @_FORMAT
    @click.pass_context
    def list_(ctx: click.Context, http_addr: str | None, fmt: str) -> None:
        rows = _call(ctx, http_addr, "GET", f"/v1/acl/{_PLURAL[kind]}")
        _echo(rows, fmt, show(rows))


def _read_and_delete(group: click.Group, kind: str, show: Callable[[Any], str]) -> None:
    """`<kind> read` and `<kind> delete` by -id or -name; `show` formats what is read."""

    @group.command("read")
    @http_addr_option
    @_ID_OR_NAME
    @_FORMAT
    @click.pass_context
    def read(
        ctx: click.Context, http_addr: str | None, ident: str | None, name: str | None, fmt: str
    ) -> None:
        found = _call(
            ctx, http_addr, "GET", f"/v1/acl/{kind}/{_resolve(ctx, http_addr, kind, ident, name)}"
        )
        _echo(found, fmt, show(found))

    @group.command("delete")
    @http_addr_option
    @_ID_OR_NAME
    @click.pass_context
    def delete(
        ctx: click.Context, http_addr: str | None, ident: str | None, name: str | None
    ) -> None:
        _delete(ctx, http_addr, kind, ident, name)


def _delete(
    ctx: click.Context, addr: str | None, kind: str, ident: str | None, name: str | None = None
) -> None:
    found_id = _resolve(ctx, addr, kind, ident, name)
    _call(ctx, addr, "DELETE", f"/v1/acl/{kind}/{found_id}")
    click.echo(f'{kind.capitalize()} "{found_id}" deleted successfully')


@click.group("acl", context_settings=_CONTEXT)
def acl() -> None:
    """Consul's ACL system of the catalog: bootstrap, policies, tokens and roles."""


@acl.command("bootstrap")
@http_addr_option
@_FORMAT
@click.pass_context
def bootstrap(ctx: click.Context, http_addr: str | None, fmt: str) -> None:
    """Create the initial management token (once), as `consul acl bootstrap`."""
    _put(ctx, http_addr, "/v1/acl/bootstrap", None, fmt, _show_token)


# -- policies ------------------------------------------------------------------------------


@acl.group("policy", context_settings=_CONTEXT)
def policy() -> None:
    """Create, list, read, update and delete ACL policies."""


def _rules(value: str | None) -> str | None:
    """`-rules` takes the rules, `@file` or `-` (stdin), as the consul CLI."""
    if value is None:
        return None
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        return Path(value[1:]).read_text()
    return value


@policy.command("create")
@http_addr_option
@click.option("-name", "--name", "name", required=True)
@click.option("-description", "--description", "description", default="")
@click.option("-rules", "--rules", "rules", default=None, help="Rules, @file or - for stdin.")
@click.option("-valid-datacenter", "--valid-datacenter", "datacenters", multiple=True)
@_FORMAT
@click.pass_context
def policy_create(
    ctx: click.Context,
    http_addr: str | None,
    name: str,
    description: str,
    rules: str | None,
    datacenters: tuple[str, ...],
    fmt: str,
) -> None:
    body = {
        "Name": name,
        "Description": description,
        "Rules": _rules(rules) or "",
        "Datacenters": list(datacenters),
    }
    _put(ctx, http_addr, "/v1/acl/policy", body, fmt, format_policy)


def format_policies(rows: list[dict[str, Any]]) -> str:
    lines = []
    for p in rows:
        lines += [
            f"{p['Name']}:",
            f"   {'ID:':<14}{p['ID']}",
            f"   {'Description:':<14}{p['Description']}",
            f"   {'Datacenters:':<14}{', '.join(p.get('Datacenters') or [])}",
        ]
    return "\n".join(lines)


_list(policy, "policy", format_policies)
_read_and_delete(policy, "policy", format_policy)


@policy.command("update")
@http_addr_option
@_ID_OR_NAME
@click.option("-new-name", "--new-name", "new_name", default=None)
@click.option("-description", "--description", "description", default=None)
@click.option("-rules", "--rules", "rules", default=None)
@_FORMAT
@click.pass_context
def policy_update(
    ctx: click.Context,
    http_addr: str | None,
    ident: str | None,
    name: str | None,
    new_name: str | None,
    description: str | None,
    rules: str | None,
    fmt: str,
) -> None:
    """Update a policy: what is not given keeps its value, as `consul acl policy update`."""
    policy_id = _resolve(ctx, http_addr, "policy", ident, name)
    old = _call(ctx, http_addr, "GET", f"/v1/acl/policy/{policy_id}")
    body = {
        "ID": policy_id,
        "Name": new_name or old["Name"],
        "Description": old["Description"] if description is None else description,
        "Rules": old["Rules"] if rules is None else _rules(rules),
        "Datacenters": old.get("Datacenters") or [],
    }
    _put(ctx, http_addr, f"/v1/acl/policy/{policy_id}", body, fmt, format_policy)


# -- tokens ----------------------------------------------------------------------------------


@acl.group("token", context_settings=_CONTEXT)
def token() -> None:
    """Create, list, read, update, clone and delete ACL tokens."""


_grant_options = _options(
    click.option("-policy-id", "--policy-id", "policy_ids", multiple=True),
    click.option("-policy-name", "--policy-name", "policy_names", multiple=True),
    click.option("-role-id", "--role-id", "role_ids", multiple=True),
    click.option("-role-name", "--role-name", "role_names", multiple=True),
    click.option(
        "-service-identity",
        "--service-identity",
        "service_identities",
        multiple=True,
        help="NAME[:DC1,DC2]",
    ),
    click.option(
        "-node-identity", "--node-identity", "node_identities", multiple=True, help="NAME:DC"
    ),
    click.option("-templated-policy", "--templated-policy", "templated", default=None),
    click.option("-var", "--var", "variables", multiple=True, help="KEY:VALUE"),
)


def _grants(
    policy_ids: tuple[str, ...],
    policy_names: tuple[str, ...],
    role_ids: tuple[str, ...],
    role_names: tuple[str, ...],
    service_identities: tuple[str, ...],
    node_identities: tuple[str, ...],
    templated: str | None,
    variables: tuple[str, ...],
    *,
    roles: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Policies": [{"ID": p} for p in policy_ids] + [{"Name": p} for p in policy_names],
        "ServiceIdentities": [],
        "NodeIdentities": [],
    }
    if roles:
        body["Roles"] = [{"ID": r} for r in role_ids] + [{"Name": r} for r in role_names]
    for item in service_identities:
        name, _, dcs = item.partition(":")
        entry: dict[str, Any] = {"ServiceName": name}
        if dcs:
            entry["Datacenters"] = dcs.split(",")
        body["ServiceIdentities"].append(entry)
    for item in node_identities:
        name, sep, dc = item.partition(":")
        if not sep:
            raise click.UsageError(f"Malformed -node-identity argument: {item!r} (NAME:DC)")
        body["NodeIdentities"].append({"NodeName": name, "Datacenter": dc})
    if templated:
        tvars = {}
        for item in variables:
            key, sep, value = item.partition(":")
            if not sep:
                raise click.UsageError(f"Malformed -var argument: {item!r} (KEY:VALUE)")
            tvars[key.capitalize()] = value
        body["TemplatedPolicies"] = [{"TemplateName": templated, "TemplateVariables": tvars}]
    return body


@token.command("create")
@http_addr_option
@click.option("-description", "--description", "description", default="")
@_grant_options
@click.option("-expires-ttl", "--expires-ttl", "expires_ttl", default="")
@click.option("-local", "--local", "local", is_flag=True)
@click.option("-accessor", "--accessor", "accessor", default="")
@click.option("-secret", "--secret", "secret", default="")
@_FORMAT
@click.pass_context
def token_create(
    ctx: click.Context,
    /,
    http_addr: str | None,
    description: str,
    expires_ttl: str,
    local: bool,
    accessor: str,
    secret: str,
    fmt: str,
    **grants: Any,
) -> None:
    body = _grants(**grants)
    body.update(Description=description, Local=local)
    if expires_ttl:
        body["ExpirationTTL"] = expires_ttl
    if accessor:
        body["AccessorID"] = accessor
    if secret:
        body["SecretID"] = secret
    _put(ctx, http_addr, "/v1/acl/token", body, fmt, _show_token)


_list(token, "token", lambda rows: "\n".join(format_token(t, listing=True) + "\n" for t in rows))


@token.command("read")
@http_addr_option
@click.option("-id", "--id", "tid", default=None)
@click.option("-self", "--self", "own", is_flag=True)
@_FORMAT
@click.pass_context
def token_read(
    ctx: click.Context, http_addr: str | None, tid: str | None, own: bool, fmt: str
) -> None:
    if own:
        found = _call(ctx, http_addr, "GET", "/v1/acl/token/self")
    elif tid:
        found = _call(
            ctx, http_addr, "GET", f"/v1/acl/token/{_resolve(ctx, http_addr, 'token', tid)}"
        )
    else:
        raise click.UsageError("Must specify the -id parameter or -self")
    _echo(found, fmt, _show_token(found))


@token.command("update")
@http_addr_option
@click.option("-id", "--id", "tid", required=True)
@click.option("-description", "--description", "description", default="")
@_grant_options
@_FORMAT
@click.pass_context
def token_update(
    ctx: click.Context,
    /,
    http_addr: str | None,
    tid: str,
    description: str,
    fmt: str,
    **grants: Any,
) -> None:
    """Replace a token's description and grants (as Consul's PUT does)."""
    accessor = _resolve(ctx, http_addr, "token", tid)
    body = _grants(**grants)
    body.update(AccessorID=accessor, Description=description)
    _put(ctx, http_addr, f"/v1/acl/token/{accessor}", body, fmt, _show_token)


@token.command("clone")
@http_addr_option
@click.option("-id", "--id", "tid", required=True)
@click.option("-description", "--description", "description", default="")
@_FORMAT
@click.pass_context
def token_clone(
    ctx: click.Context, http_addr: str | None, tid: str, description: str, fmt: str
) -> None:
    accessor = _resolve(ctx, http_addr, "token", tid)
    body = {"Description": description}
    _put(ctx, http_addr, f"/v1/acl/token/{accessor}/clone", body, fmt, _show_token)


@token.command("delete")
@http_addr_option
@click.option("-id", "--id", "tid", required=True)
@click.pass_context
def token_delete(ctx: click.Context, http_addr: str | None, tid: str) -> None:
    _delete(ctx, http_addr, "token", tid)


# -- roles ----------------------------------------------------------------------------------


@acl.group("role", context_settings=_CONTEXT)
def role() -> None:
    """Create, list, read, update and delete ACL roles."""


@role.command("create")
@http_addr_option
@click.option("-name", "--name", "name", required=True)
@click.option("-description", "--description", "description", default="")
@_grant_options
@_FORMAT
@click.pass_context
def role_create(
    ctx: click.Context,
    /,
    http_addr: str | None,
    name: str,
    description: str,
    fmt: str,
    **grants: Any,
) -> None:
    body = _grants(**grants, roles=False)
    body.update(Name=name, Description=description)
    _put(ctx, http_addr, "/v1/acl/role", body, fmt, _show_role)


_list(role, "role", lambda rows: "\n".join(f"{r['Name']}:\n{format_role(r, '   ')}" for r in rows))
_read_and_delete(role, "role", _show_role)


@role.command("update")
@http_addr_option
@_ID_OR_NAME
@click.option("-new-name", "--new-name", "new_name", default=None)
@click.option("-description", "--description", "description", default="")
@_grant_options
@_FORMAT
@click.pass_context
def role_update(
    ctx: click.Context,
    /,
    http_addr: str | None,
    ident: str | None,
    name: str | None,
    new_name: str | None,
    description: str,
    fmt: str,
    **grants: Any,
) -> None:
    role_id = _resolve(ctx, http_addr, "role", ident, name)
    old = _call(ctx, http_addr, "GET", f"/v1/acl/role/{role_id}")
    body = _grants(**grants, roles=False)
    body.update(ID=role_id, Name=new_name or old["Name"], Description=description)
    _put(ctx, http_addr, f"/v1/acl/role/{role_id}", body, fmt, _show_role)
