"""The config entry kinds Consul has, and the fields each accepts, as data.

Taken from Consul 1.17's `api/config_entry*.go` and `agent/structs/config_entry*.go`: a body
is decoded against its kind's `Obj` (unknown keys are refused, as Consul's decoder refuses
them), and answered back with the fields in this order. Fields whose shapes Consul leaves to
Envoy or to later versions (`Config`, `EnvoyExtensions`, `Permissions`...) are `ANY`: kept
as given. `ALWAYS` holds what Consul writes even when it was not given (`"MeshGateway": {}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# leaf types
STR = "string"
INT = "int"
FLOAT = "float"
BOOL = "bool"
DURATION = "duration"
STRLIST = "strlist"
STRMAP = "strmap"
ANY = "any"


@dataclass(frozen=True)
class Obj:
    """A JSON object with exactly these fields (name, spec)."""

    fields: tuple[tuple[str, Spec], ...]

    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class MapOf:
    item: Spec


Spec = str | Obj | ListOf | MapOf


def obj(**fields: Spec) -> Obj:
    return Obj(tuple(fields.items()))


SERVICE_DEFAULTS = "service-defaults"
PROXY_DEFAULTS = "proxy-defaults"
SERVICE_ROUTER = "service-router"
SERVICE_SPLITTER = "service-splitter"
SERVICE_RESOLVER = "service-resolver"
INGRESS_GATEWAY = "ingress-gateway"
TERMINATING_GATEWAY = "terminating-gateway"
SERVICE_INTENTIONS = "service-intentions"
MESH = "mesh"
EXPORTED_SERVICES = "exported-services"
API_GATEWAY = "api-gateway"
HTTP_ROUTE = "http-route"
TCP_ROUTE = "tcp-route"
INLINE_CERTIFICATE = "inline-certificate"
JWT_PROVIDER = "jwt-provider"
SAMENESS_GROUP = "sameness-group"
CONTROL_PLANE_REQUEST_LIMIT = "control-plane-request-limit"

PROXY_CONFIG_GLOBAL = "global"
MESH_CONFIG_MESH = "mesh"

_MESH_GATEWAY = obj(Mode=STR)
_TPROXY = obj(OutboundListenerPort=INT, DialedDirectly=BOOL)
_EXPOSE = obj(
    Checks=BOOL,
    Paths=ListOf(
        obj(ListenerPort=INT, Path=STR, LocalPathPort=INT, Protocol=STR, ParsedFromCheck=BOOL)
    ),
)
_UPSTREAM = obj(
    Name=STR,
    Partition=STR,
    Namespace=STR,
    Peer=STR,
    EnvoyListenerJSON=STR,
    EnvoyClusterJSON=STR,
    Protocol=STR,
    ConnectTimeoutMs=INT,
    Limits=obj(MaxConnections=INT, MaxPendingRequests=INT, MaxConcurrentRequests=INT),
    PassiveHealthCheck=obj(
        Interval=DURATION,
        MaxFailures=INT,
        EnforcingConsecutive5xx=INT,
        MaxEjectionPercent=INT,
        BaseEjectionTime=DURATION,
    ),
    MeshGateway=_MESH_GATEWAY,
    BalanceOutboundConnections=STR,
)
_HEADERS = obj(Add=STRMAP, Set=STRMAP, Remove=STRLIST)
_COMMON = {"Partition": STR, "Namespace": STR}

KINDS: dict[str, Obj] = {
    SERVICE_DEFAULTS: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Protocol=STR,
        Mode=STR,
        TransparentProxy=_TPROXY,
        MutualTLSMode=STR,
        MeshGateway=_MESH_GATEWAY,
        Expose=_EXPOSE,
        ExternalSNI=STR,
        UpstreamConfig=obj(Overrides=ListOf(_UPSTREAM), Defaults=_UPSTREAM),
        Destination=obj(Addresses=STRLIST, Port=INT),
        MaxInboundConnections=INT,
        LocalConnectTimeoutMs=INT,
        LocalRequestTimeoutMs=INT,
        BalanceInboundConnections=STR,
        RateLimits=ANY,
        EnvoyExtensions=ListOf(ANY),
        Meta=STRMAP,
    ),
    PROXY_DEFAULTS: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Config=ANY,
        Mode=STR,
        TransparentProxy=_TPROXY,
        MutualTLSMode=STR,
        MeshGateway=_MESH_GATEWAY,
        Expose=_EXPOSE,
        AccessLogs=ANY,
        EnvoyExtensions=ListOf(ANY),
        FailoverPolicy=ANY,
        PrioritizeByLocality=ANY,
        Meta=STRMAP,
    ),
    SERVICE_ROUTER: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Routes=ListOf(
            obj(
                Match=obj(
                    HTTP=obj(
                        PathExact=STR,
                        PathPrefix=STR,
                        PathRegex=STR,
                        Header=ListOf(ANY),
                        QueryParam=ListOf(ANY),
                        Methods=STRLIST,
                    )
                ),
                Destination=obj(
                    Service=STR,
                    ServiceSubset=STR,
                    Namespace=STR,
                    Partition=STR,
                    PrefixRewrite=STR,
                    RequestTimeout=DURATION,
                    IdleTimeout=DURATION,
                    NumRetries=INT,
                    RetryOnConnectFailure=BOOL,
                    RetryOnStatusCodes=ListOf(INT),
                    RetryOn=STRLIST,
                    RequestHeaders=_HEADERS,
                    ResponseHeaders=_HEADERS,
                ),
            )
        ),
        Meta=STRMAP,
    ),
    SERVICE_SPLITTER: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Splits=ListOf(
            obj(
                Weight=FLOAT,
                Service=STR,
                ServiceSubset=STR,
                Namespace=STR,
                Partition=STR,
                RequestHeaders=_HEADERS,
                ResponseHeaders=_HEADERS,
            )
        ),
        Meta=STRMAP,
    ),
    SERVICE_RESOLVER: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        DefaultSubset=STR,
        Subsets=MapOf(obj(Filter=STR, OnlyPassing=BOOL)),
        Redirect=obj(
            Service=STR,
            ServiceSubset=STR,
            Namespace=STR,
            Partition=STR,
            Datacenter=STR,
            Peer=STR,
            SamenessGroup=STR,
        ),
        Failover=MapOf(
            obj(
                Service=STR,
                ServiceSubset=STR,
                Namespace=STR,
                Datacenters=STRLIST,
                Targets=ListOf(ANY),
                Policy=ANY,
                SamenessGroup=STR,
            )
        ),
        ConnectTimeout=DURATION,
        RequestTimeout=DURATION,
        PrioritizeByLocality=ANY,
        LoadBalancer=ANY,
        Meta=STRMAP,
    ),
    INGRESS_GATEWAY: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        TLS=ANY,
        Listeners=ListOf(
            obj(
                Port=INT,
                Protocol=STR,
                Services=ListOf(
                    obj(
                        Name=STR,
                        Hosts=STRLIST,
                        Namespace=STR,
                        Partition=STR,
                        TLS=ANY,
                        RequestHeaders=_HEADERS,
                        ResponseHeaders=_HEADERS,
                        MaxConnections=INT,
                        MaxPendingRequests=INT,
                        MaxConcurrentRequests=INT,
                        PassiveHealthCheck=ANY,
                    )
                ),
                TLS=ANY,
            )
        ),
        Defaults=ANY,
        Meta=STRMAP,
    ),
    TERMINATING_GATEWAY: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Services=ListOf(
            obj(
                Name=STR,
                Namespace=STR,
                Partition=STR,
                CAFile=STR,
                CertFile=STR,
                KeyFile=STR,
                SNI=STR,
                DisableAutoHostRewrite=BOOL,
            )
        ),
        Meta=STRMAP,
    ),
    SERVICE_INTENTIONS: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Sources=ListOf(
            obj(
                Name=STR,
                Peer=STR,
                Namespace=STR,
                Partition=STR,
                SamenessGroup=STR,
                Action=STR,
                Permissions=ListOf(ANY),
                Precedence=INT,
                LegacyID=STR,
                Type=STR,
                Description=STR,
                LegacyMeta=STRMAP,
                LegacyCreateTime=STR,
                LegacyUpdateTime=STR,
            )
        ),
        JWT=ANY,
        Meta=STRMAP,
    ),
    # the mesh entry has no name of its own: Consul refuses a `Name` key
    MESH: obj(
        Kind=STR,
        **_COMMON,
        TransparentProxy=obj(MeshDestinationsOnly=BOOL),
        AllowEnablingPermissiveMutualTLS=BOOL,
        ValidateClusters=BOOL,
        TLS=ANY,
        HTTP=ANY,
        Peering=ANY,
        Meta=STRMAP,
    ),
    EXPORTED_SERVICES: obj(
        Kind=STR,
        Name=STR,
        Partition=STR,
        Services=ListOf(
            obj(
                Name=STR,
                Namespace=STR,
                Consumers=ListOf(obj(Partition=STR, Peer=STR, SamenessGroup=STR)),
            )
        ),
        Meta=STRMAP,
    ),
    API_GATEWAY: obj(Kind=STR, Name=STR, **_COMMON, Listeners=ListOf(ANY), Status=ANY, Meta=STRMAP),
    HTTP_ROUTE: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Parents=ListOf(ANY),
        Rules=ListOf(ANY),
        Hostnames=STRLIST,
        Status=ANY,
        Meta=STRMAP,
    ),
    TCP_ROUTE: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Parents=ListOf(ANY),
        Services=ListOf(ANY),
        Status=ANY,
        Meta=STRMAP,
    ),
    INLINE_CERTIFICATE: obj(
        Kind=STR, Name=STR, **_COMMON, Certificate=STR, PrivateKey=STR, Meta=STRMAP
    ),
    JWT_PROVIDER: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Issuer=STR,
        JSONWebKeySet=ANY,
        Audiences=STRLIST,
        Locations=ListOf(ANY),
        Forwarding=ANY,
        ClockSkewSeconds=INT,
        CacheConfig=ANY,
        Meta=STRMAP,
    ),
    SAMENESS_GROUP: obj(
        Kind=STR,
        Name=STR,
        Partition=STR,
        DefaultForFailover=BOOL,
        IncludeLocal=BOOL,
        Members=ListOf(ANY),
        Meta=STRMAP,
    ),
    CONTROL_PLANE_REQUEST_LIMIT: obj(
        Kind=STR,
        Name=STR,
        **_COMMON,
        Mode=STR,
        ReadRate=FLOAT,
        WriteRate=FLOAT,
        ACL=ANY,
        Catalog=ANY,
        ConfigEntry=ANY,
        ConnectCA=ANY,
        Coordinate=ANY,
        DiscoveryChain=ANY,
        Health=ANY,
        Intention=ANY,
        KV=ANY,
        Tenancy=ANY,
        PreparedQuery=ANY,
        Session=ANY,
        Txn=ANY,
        Meta=STRMAP,
    ),
}

# What Consul's answer carries even when the body left it out (non-pointer structs).
ALWAYS: dict[str, dict[str, Any]] = {
    SERVICE_DEFAULTS: {"TransparentProxy": {}, "MeshGateway": {}, "Expose": {}},
    PROXY_DEFAULTS: {"TransparentProxy": {}, "MeshGateway": {}, "Expose": {}},
    INGRESS_GATEWAY: {"TLS": {"Enabled": False}},
}
