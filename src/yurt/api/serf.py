"""What Consul's and Nomad's agents both say of a gossip (Serf) member in their
`/v1/agent/members`: memberlist's protocol versions, the same in both products."""

from __future__ import annotations

# memberlist's protocol and delegate versions, in the order Serf's Member struct has them.
SERF_PROTOCOL_VERSIONS: dict[str, int] = {
    "ProtocolMin": 1,
    "ProtocolMax": 5,
    "ProtocolCur": 2,
    "DelegateMin": 2,
    "DelegateMax": 5,
    "DelegateCur": 4,
}
