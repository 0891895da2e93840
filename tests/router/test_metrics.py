"""Fabio's metrics for Prometheus: names, prefixes, buckets and the text format, read back
with the Prometheus project's own Python parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from yurt.router.config import ConfigError, RouterConfig
from yurt.router.metrics import ProxyMetrics, clean, metrics_prefix, parse_buckets
from yurt.router.table import Table


def families(
    metrics: ProxyMetrics,
) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """name -> {(sample name, sorted labels): value}"""
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for fam in text_string_to_metric_families(metrics.render()):
        out[fam.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in fam.samples}
    return out


def test_prefix_templates() -> None:
    assert metrics_prefix("default", "Web-01.example.com", "fabio") == "web-01_example_com.fabio"
    assert metrics_prefix("{{.Hostname}}-{{clean .Exec}}", "a.b", "My.Exec") == "a.b-my_exec"
    assert metrics_prefix("fabio", "h", "e") == "fabio"
    with pytest.raises(ConfigError, match="only"):
        metrics_prefix("{{.Env}}", "h", "e")
    assert clean("") == "_" and clean("A.B:C") == "a_b_c"


def test_buckets() -> None:
    assert parse_buckets("") == (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    assert parse_buckets("0.1, 1,10") == (0.1, 1.0, 10.0)
    with pytest.raises(ConfigError, match="must increase"):
        parse_buckets("1,0.5")
    with pytest.raises(ConfigError, match="comma-separated numbers"):
        parse_buckets("1,fast")


def test_recorded_values_render_as_prometheus_reads_them() -> None:
    m = ProxyMetrics("web-01_example_com.fabio", "proxy", (0.01, 0.1, 1.0))
    table = Table.from_text(
        'route add web example.com/app http://10.0.0.1:80/ tags "a"\n'
        "route add web example.com/app http://10.0.0.2:80/\n"
    )
    t1, t2 = table.all_targets()
    m.response(t1, 200, 0.005)
    m.response(t1, 200, 0.05)
    m.response(t2, 502, 2.0)
    m.notfound.value += 3
    m.redirect(301)
    m.ws_conn.value += 2
    m.ws_conn.value -= 1
    m.tcp_conn.value += 1
    got = families(m)
    ns = "web_01_example_com_fabio_proxy"  # '-' is not allowed in a Prometheus name
    requests = got[f"{ns}_requests"]
    assert requests[(f"{ns}_requests_count", ())] == 3
    assert requests[(f"{ns}_requests_bucket", (("le", "0.01"),))] == 1
    assert requests[(f"{ns}_requests_bucket", (("le", "0.1"),))] == 2
    assert requests[(f"{ns}_requests_bucket", (("le", "+Inf"),))] == 3
    assert requests[(f"{ns}_requests_sum", ())] == pytest.approx(2.055)
    status = got[f"{ns}_http_status"]
    assert status[(f"{ns}_http_status_count", (("code", "200"),))] == 2
    assert status[(f"{ns}_http_status_count", (("code", "502"),))] == 1
    route = got[f"{ns}_route"]
    labels = (
        ("host", "example.com"),
        ("path", "/app"),
        ("service", "web"),
        ("target", "http://10.0.0.1:80/"),
    )
    assert route[(f"{ns}_route_count", labels)] == 2
    # (The parser names counter samples `_total`; the text has Fabio's names, as Go's
    # Prometheus client writes them.)
    assert got[f"{ns}_notfound"][(f"{ns}_notfound_total", ())] == 3
    redirects = got[f"{ns}_http_redirect_count"]
    assert redirects[(f"{ns}_http_redirect_count_total", (("code", "301"),))] == 1
    assert got[f"{ns}_ws_conn"][(f"{ns}_ws_conn", ())] == 1
    assert got[f"{ns}_tcp_conn"][(f"{ns}_tcp_conn_total", ())] == 1
    text = m.render()
    assert f"\n{ns}_notfound 3\n" in text and f"# TYPE {ns}_ws_conn gauge\n" in text

    # A new table without the second target drops its series.
    m.forget_targets([t1])
    route = families(m)[f"{ns}_route"]
    assert {dict(k[1]).get("target") for k in route} == {"http://10.0.0.1:80/"}


def test_label_values_are_escaped() -> None:
    m = ProxyMetrics("x")
    table = Table.from_text('route add "we\\"ird" /p http://10.0.0.1:80/\n')
    [t] = table.all_targets()
    t.service = 'we"ird\\svc'
    m.response(t, 200, 0.001)
    route = families(m)["x_route"]
    assert any(dict(k[1]).get("service") == 'we"ird\\svc' for k in route)


@pytest.mark.parametrize(
    ("props", "error"),
    [
        ({"metrics.target": "graphite"}, "'graphite' is not supported"),
        ({"proxy.addr": ":9999,:9100;proto=prometheus"}, "needs metrics.target=prometheus"),
        ({"metrics.target": "prometheus", "metrics.prometheus.buckets": "x"}, "buckets"),
        ({"metrics.target": "prometheus", "metrics.prefix": "{{.Nope}}"}, "metrics.prefix"),
    ],
)
def test_config_errors(props: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        RouterConfig.from_properties(props)
