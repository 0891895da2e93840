"""The limits' properties: Fabio's proxy.readtimeout/writetimeout/idleconntimeout and the
listener's rt=/wt=, yurt's header-read and idle timeouts and per-client cap."""

from __future__ import annotations

import pytest

from yurt.router.config import ConfigError, RouterConfig, load
from yurt.router.limits import Timeouts


def test_defaults() -> None:
    cfg = RouterConfig.from_properties({})
    assert cfg.keepalive_timeout == 15.0  # Fabio's proxy.idleconntimeout default
    assert (cfg.read_timeout, cfg.write_timeout) == (0.0, 0.0)  # Fabio's: none
    assert cfg.timeouts(cfg.listeners[0]) == Timeouts(header=10, read=0, write=0, idle=60)
    assert cfg.max_conns_per_client == 0
    assert cfg.inert_properties == []


def test_properties_and_listener_options() -> None:
    cfg = load(
        [
            "-proxy.addr",
            ":9999,:9997;rt=2s;wt=3s",
            "-proxy.readtimeout",
            "5s",
            "-proxy.writetimeout=6s",
            "-proxy.readheadertimeout=1s",
            "-proxy.idletimeout=7s",
            "-proxy.idleconntimeout=8s",
            "-proxy.maxconnsperclient=50",
        ],
        {},
    )
    first, second = cfg.listeners
    assert cfg.timeouts(first) == Timeouts(header=1, read=5, write=6, idle=7)
    assert cfg.timeouts(second) == Timeouts(header=1, read=2, write=3, idle=7)
    assert (second.read_timeout, second.write_timeout) == ("2s", "3s")
    assert cfg.keepalive_timeout == 8.0
    assert cfg.max_conns_per_client == 50
    assert cfg.inert_properties == []


def test_older_keepalive_name_wins() -> None:
    cfg = RouterConfig.from_properties(
        {"proxy.keepalivetimeout": "30s", "proxy.idleconntimeout": "8s"}
    )
    assert cfg.keepalive_timeout == 30.0


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"proxy.readtimeout": "soon"}, "proxy.readtimeout: invalid duration"),
        ({"proxy.readheadertimeout": "10"}, "proxy.readheadertimeout: invalid duration"),
        ({"proxy.maxconnsperclient": "many"}, "proxy.maxconnsperclient: expected an integer"),
        ({"proxy.maxconnsperclient": "-1"}, "proxy.maxconnsperclient: expected 0 or more"),
        ({"proxy.addr": ":9999;rt=fast"}, "rt: invalid duration"),
    ],
)
def test_bad_values_name_the_property(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RouterConfig.from_properties(props)


def test_api_config_shows_the_limits_in_effect() -> None:
    cfg = RouterConfig(read_timeout=5, write_timeout=0.5, idle_timeout=7, max_conns_per_client=9)
    shown = cfg.api_config()
    assert shown["proxy.readtimeout"] == "5s"
    assert shown["proxy.writetimeout"] == "500ms"
    assert shown["proxy.readheadertimeout"] == "10s"
    assert shown["proxy.idletimeout"] == "7s"
    assert shown["proxy.idleconntimeout"] == "15s"
    assert shown["proxy.maxconnsperclient"] == "9"
