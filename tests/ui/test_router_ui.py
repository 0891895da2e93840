"""The router's web UI in Chromium against a real `yurt router` process that follows a real
`yurt catalog` process: routes appearing as services turn healthy, the filter, and the
manual-routes editor with its version check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import consul
import pytest
from playwright.sync_api import Browser, expect

from tests.catalog.conftest import CatalogProcess, Target
from tests.support.process import YurtProcess, free_port
from tests.ui.browser import NARROW, UIPage, close, new_ui_page


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.catalog = CatalogProcess(tmp / "catalog", node="node-1").start()
        self.ui_port = free_port()
        self.url = f"http://127.0.0.1:{self.ui_port}"
        self.router = YurtProcess(
            [
                "router",
                "-proxy.addr",
                f"127.0.0.1:{free_port()}",
                "-ui.addr",
                f"127.0.0.1:{self.ui_port}",
                "-registry.consul.addr",
                f"127.0.0.1:{self.catalog.port}",
                "-registry.retry",
                "100ms",
            ],
            ready_url=f"{self.url}/health",
            log_path=tmp / "router.log",
        ).start()
        self.consul: consul.Consul = self.catalog.client()

    def stop(self) -> None:
        self.router.stop()
        self.catalog.proc.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("ui-router"))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = Target()
    try:
        yield t
    finally:
        t.close()


@pytest.fixture
def ui(browser: Browser, stack: Stack) -> Iterator[UIPage]:
    page = new_ui_page(browser, stack.url)
    try:
        yield page
        page.check_clean()
    finally:
        close(page)


def test_routes_appear_when_the_service_turns_healthy(
    ui: UIPage, stack: Stack, target: Target
) -> None:
    page = ui.page
    ui.goto("/")
    expect(page.locator("h1")).to_have_text("Routes")
    ui.mark()
    stack.consul.agent.service.register(
        "service-nginx",
        service_id="nginx-1",
        address="127.0.0.1",
        port=target.port,
        tags=["nginx-tag", "urlprefix-/"],
        check={"TTL": "60s", "CheckID": "nginx-1-ttl", "Name": "alive"},
    )
    stack.consul.agent.service.register(
        "service-api",
        service_id="api-1",
        address="127.0.0.1",
        port=target.port,
        tags=["urlprefix-/api strip=/api"],
        check={"TTL": "60s", "CheckID": "api-1-ttl", "Name": "alive"},
    )
    stack.consul.agent.check.ttl_pass("api-1-ttl")
    expect(page.locator('tr[data-service="service-api"]')).to_contain_text("strip=/api")
    expect(page.locator('tr[data-service="service-nginx"]')).to_have_count(0)
    stack.consul.agent.check.ttl_pass("nginx-1-ttl")
    nginx = page.locator('tr[data-service="service-nginx"]')
    expect(nginx).to_contain_text(f"http://127.0.0.1:{target.port}/")
    expect(nginx).to_contain_text("100%")
    ui.assert_not_reloaded()
    ui.shot("router-routes")
    box = page.get_by_placeholder("Filter routes (service, source, destination, tags)")
    box.fill("api")
    expect(page.locator("tr[data-route]")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?filter=api$"))
    box.fill("")
    expect(page.locator("tr[data-route]")).to_have_count(2)


def test_manual_routes_editor_saves_and_refuses_stale_versions(
    ui: UIPage, stack: Stack, target: Target
) -> None:
    ui.allow(r"409.*/api/manual", r"400.*/api/manual")
    page = ui.page
    ui.goto("/")
    page.get_by_role("link", name="Manual overrides").click()
    expect(page).to_have_url(re.compile(r"/manual$"))
    editor = page.get_by_label("manual routes")
    expect(editor).to_have_value("")
    editor.fill("route add bad-syntax")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".error-box")).to_contain_text("Not saved")
    editor.fill(f"route add manual-svc /manual http://127.0.0.1:{target.port}/")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    _, entry = stack.consul.kv.get("fabio/config")
    assert entry is not None and b"manual-svc" in entry["Value"]
    # Someone else changes the routes; saving over that is refused and said so.
    stack.consul.kv.put("fabio/config", "route add other /other http://127.0.0.1:1/")
    editor.fill("route add mine /mine http://127.0.0.1:2/")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-conflict]")).to_be_visible()
    assert stack.consul.kv.get("fabio/config")[1]["Value"].startswith(b"route add other")
    page.get_by_role("button", name="Load theirs").click()
    expect(editor).to_have_value("route add other /other http://127.0.0.1:1/")
    editor.fill(f"route add manual-svc /manual http://127.0.0.1:{target.port}/")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    ui.shot("router-manual")
    page.get_by_role("link", name="Routes").click()
    expect(page.locator('tr[data-service="manual-svc"]')).to_contain_text("/manual")


def test_pages_fit_a_narrow_window(browser: Browser, stack: Stack) -> None:
    ui = new_ui_page(browser, stack.url, NARROW)
    try:
        for path, shot in (("/routes", "router-routes-narrow"), ("/manual", None)):
            ui.goto(path)
            ui.page.wait_for_selector("main#app .table-wrap, main#app textarea")
            ui.assert_fits()
            if shot:
                ui.shot(shot)
        ui.check_clean()
    finally:
        close(ui)
