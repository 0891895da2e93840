"""The catalog UI with ACLs on (Chromium against a real catalog): a page refused by the
anonymous token says so, the Tokens page logs in with a secret kept in the browser, and
every API call then carries it."""

from __future__ import annotations

from collections.abc import Iterator

import consul
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.catalog.conftest import ROOT_TOKEN, CatalogProcess
from tests.ui.browser import CHROMIUM_ARGS, UIPage, close, ensure_chromium, new_ui_page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def ui(browser: Browser, acl_catalog: CatalogProcess) -> Iterator[UIPage]:
    page = new_ui_page(browser, acl_catalog.url)
    # the refusals this test provokes on purpose
    page.allow(r"status of 403", r"403 \(Forbidden\)")
    try:
        yield page
        page.check_clean()
    finally:
        close(page)


def test_log_in_with_a_token(ui: UIPage, root: consul.Consul) -> None:
    root.kv.put("ui/secret", "shown only with a token")
    ui.goto("/ui/dc1/kv/ui/secret/edit")
    hint = ui.page.locator("[data-acl-hint]").first
    expect(hint).to_contain_text("log in with a token")
    expect(ui.page.locator(".error-box").first).to_contain_text("lacks permission 'key:read'")

    hint.locator("a").click()
    expect(ui.page.locator("[data-logged-out]")).to_be_visible()
    ui.page.fill("input[name=secret]", "not-a-token")
    ui.page.click("button[type=submit]")
    expect(ui.page.locator("[data-login-error]")).to_have_text("ACL not found")

    ui.page.fill("input[name=secret]", ROOT_TOKEN)
    ui.page.click("button[type=submit]")
    expect(ui.page.locator("[data-logged-in]")).to_contain_text("Initial Management Token")

    ui.goto("/ui/dc1/kv/ui/secret/edit")
    expect(ui.page.locator("textarea").first).to_have_value("shown only with a token")
    ui.goto("/ui/dc1/services")
    expect(ui.page.locator("[data-service=consul]")).to_be_visible()

    ui.goto("/ui/dc1/acls/tokens")
    ui.page.click("text=Log out")
    expect(ui.page.locator("[data-logged-out]")).to_be_visible()
    ui.goto("/ui/dc1/services")
    expect(ui.page.locator("text=No services registered")).to_be_visible()
