"""The catalog's web UI in Chromium against a real `yurt catalog` process: services turning
passing as their checks do, nodes, and the key/value editor with check-and-set."""

from __future__ import annotations

import re
from collections.abc import Iterator

import consul
import pytest
from playwright.sync_api import Browser, expect

from tests.catalog.conftest import CatalogProcess, Target
from tests.ui.browser import NARROW, UIPage, close, new_ui_page


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogProcess]:
    proc = CatalogProcess(tmp_path_factory.mktemp("ui-catalog"), node="node-1").start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = Target()
    try:
        yield t
    finally:
        t.close()


@pytest.fixture(scope="module")
def c(catalog: CatalogProcess) -> consul.Consul:
    return catalog.client()


@pytest.fixture
def ui(browser: Browser, catalog: CatalogProcess) -> Iterator[UIPage]:
    page = new_ui_page(browser, catalog.url)
    try:
        yield page
        page.check_clean()
    finally:
        close(page)


def test_services_turn_passing_live(ui: UIPage, c: consul.Consul, target: Target) -> None:
    page = ui.page
    ui.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/dc1/services$"))
    expect(page.locator('[data-service-row="consul"]')).to_be_visible()
    ui.mark()
    c.agent.service.register(
        "service-nginx",
        service_id="nginx-1",
        address="127.0.0.1",
        port=target.port,
        tags=["nginx-tag", "urlprefix-/"],
        check={"TTL": "60s", "CheckID": "nginx-1-ttl", "Name": "nginx alive"},
    )
    row = page.locator('[data-service-row="service-nginx"]')
    expect(row).to_contain_text("urlprefix-/")
    expect(row.locator(".health")).to_have_attribute("data-health", "critical")
    c.agent.check.ttl_pass("nginx-1-ttl", "serving")
    expect(row.locator(".health")).to_have_attribute("data-health", "passing")
    c.agent.service.register(
        "service-nginx",
        service_id="nginx-2",
        address="127.0.0.1",
        port=target.port,
        tags=["nginx-tag", "urlprefix-/"],
        check=consul.Check.http(target.url, interval="1s", timeout="1s"),
    )
    expect(row.locator("td").nth(2)).to_have_text("2")
    ui.assert_not_reloaded()
    ui.shot("catalog-services")
    box = page.get_by_placeholder("Filter services by name or tag")
    box.fill("urlprefix")
    expect(page.locator("[data-service-row]")).to_have_count(1)
    box.fill("")
    expect(page.locator("[data-service-row]")).to_have_count(2)


def test_service_instances_with_checks(ui: UIPage, c: consul.Consul, target: Target) -> None:
    page = ui.page
    ui.goto("/ui/dc1/services")
    page.get_by_role("link", name="service-nginx").click()
    expect(page).to_have_url(re.compile(r"/ui/dc1/services/service-nginx/instances$"))
    expect(page.locator("[data-instance]")).to_have_count(2)
    http_instance = page.locator('[data-instance="nginx-2"]')
    expect(http_instance.locator(".addr")).to_have_text(f"127.0.0.1:{target.port}")
    expect(http_instance.locator("[data-check-status]").first).to_have_attribute(
        "data-check-status", "passing"
    )
    expect(http_instance).to_contain_text("HTTP GET")
    ui.mark()
    target.status = 503  # the HTTP check fails on its next run, and the page shows it
    expect(http_instance.locator("[data-check-status]").first).to_have_attribute(
        "data-check-status", "critical", timeout=8000
    )
    target.status = 200
    expect(http_instance.locator("[data-check-status]").first).to_have_attribute(
        "data-check-status", "passing", timeout=8000
    )
    ui.assert_not_reloaded()
    ui.shot("catalog-service-instances")


def test_a_link_the_live_list_replaces_under_the_pointer_still_navigates(ui: UIPage) -> None:
    # the services list re-renders whenever a check changes: a press on a link and the
    # release on its replacement are one click for the user (the seed walkthrough lost one)
    page = ui.page
    ui.goto("/ui/dc1/services")
    link = page.locator('a[data-service="consul"]')
    expect(link).to_be_visible()
    ui.mark()
    box = link.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.evaluate(
        """() => { const a = document.querySelector('a[data-service="consul"]');
                   a.replaceWith(a.cloneNode(true)); }"""
    )
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"/ui/dc1/services/consul/instances$"))
    ui.assert_not_reloaded()


def test_nodes_and_node_page(ui: UIPage) -> None:
    page = ui.page
    ui.goto("/ui/dc1/nodes")
    expect(page.locator('a[data-node="node-1"]')).to_be_visible()
    ui.shot("catalog-nodes")
    page.get_by_role("link", name="node-1").click()
    expect(page.locator("h1")).to_have_text("node-1")
    expect(page.locator("main")).to_contain_text("service-nginx")
    expect(page.locator("[data-check]").first).to_be_visible()
    ui.shot("catalog-node")


def test_kv_create_browse_edit_with_cas_and_delete(ui: UIPage, c: consul.Consul) -> None:
    ui.allow(r"404.*/v1/kv/")  # Consul answers an empty folder or a missing key with 404
    page = ui.page
    ui.goto("/ui/dc1/kv/")
    expect(page.get_by_text("No keys yet")).to_be_visible()
    page.get_by_role("link", name="Create").click()
    page.get_by_label("key name").fill("fabio/config")
    page.get_by_label("value").fill("route add web / http://127.0.0.1:1/")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/ui/dc1/kv/$"))
    expect(page.locator('[data-kv-row="fabio/"]')).to_contain_text("folder")
    _, entry = c.kv.get("fabio/config")
    assert entry is not None and entry["Value"] == b"route add web / http://127.0.0.1:1/"

    c.kv.put("fabio/noroute.html", "<h1>no route</h1>")
    page.get_by_role("link", name="fabio/").click()
    expect(page.locator("[data-kv-row]")).to_have_count(2)
    ui.shot("catalog-kv")

    page.get_by_role("link", name="config").click()
    editor = page.get_by_label("value")
    expect(editor).to_have_value("route add web / http://127.0.0.1:1/")
    ui.mark()
    # A change by someone else shows up in an untouched editor ...
    c.kv.put("fabio/config", "route add web / http://127.0.0.1:2/")
    expect(editor).to_have_value("route add web / http://127.0.0.1:2/")
    # ... but a save over a newer change is refused (check-and-set) and said so.
    editor.fill("route add web / http://127.0.0.1:3/")
    c.kv.put("fabio/config", "route add web / http://127.0.0.1:4/")
    expect(page.locator("[data-changed]")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-stale]")).to_contain_text("Not saved.")
    assert c.kv.get("fabio/config")[1]["Value"] == b"route add web / http://127.0.0.1:4/"
    page.get_by_role("button", name="Load the latest value").first.click()
    expect(editor).to_have_value("route add web / http://127.0.0.1:4/")
    editor.fill("route add web / http://127.0.0.1:5/")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    assert c.kv.get("fabio/config")[1]["Value"] == b"route add web / http://127.0.0.1:5/"
    ui.assert_not_reloaded()
    ui.shot("catalog-kv-edit")

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page).to_have_url(re.compile(r"/ui/dc1/kv/fabio/$"))
    expect(page.locator("[data-kv-row]")).to_have_count(1)
    assert c.kv.get("fabio/config")[1] is None
    c.kv.delete("fabio/", recurse=True)
    expect(page.get_by_text("This folder is empty")).to_be_visible()

    c.kv.put("blob", b"\xff\xfe\x00binary")
    ui.goto("/ui/dc1/kv/blob/edit")
    expect(editor).to_have_value("(binary value, 9 bytes: not editable here)")
    expect(editor).not_to_be_editable()
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    c.kv.delete("blob")


def test_pages_fit_a_narrow_window(browser: Browser, catalog: CatalogProcess) -> None:
    ui = new_ui_page(browser, catalog.url, NARROW)
    ui.allow(r"404.*/v1/kv/")
    try:
        for path, shot in (
            ("/ui/dc1/services", "catalog-services-narrow"),
            ("/ui/dc1/services/service-nginx/instances", "catalog-service-instances-narrow"),
            ("/ui/dc1/nodes", None),
            ("/ui/dc1/nodes/node-1", None),
            ("/ui/dc1/kv/", None),
            ("/ui/dc1/kv/create", None),
        ):
            ui.goto(path)
            ui.page.wait_for_selector("main#app h1")
            ui.page.wait_for_selector("main#app .table-wrap, main#app .panel")
            ui.assert_fits()
            if shot:
                ui.shot(shot)
        ui.check_clean()
    finally:
        close(ui)
