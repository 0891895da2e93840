"""The scheduler's UI with ACLs on, in Chromium: a 403 says to set a token and links to the
token page; the token set there is kept in the browser and sent with every request."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.jobs import job
from tests.ui.browser import UIPage, close, new_ui_page


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(tmp_path_factory.mktemp("acl-ui"), "-acl-enabled").start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def root(sched: SchedulerProcess) -> str:
    token = requests.post(sched.url + "/v1/acl/bootstrap", timeout=10).json()["SecretID"]
    resp = requests.post(
        sched.url + "/v1/jobs",
        json={"Job": job("guarded-app")},
        headers={"X-Nomad-Token": token},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return str(token)


@pytest.fixture
def ui(browser: Browser, sched: SchedulerProcess) -> Iterator[UIPage]:
    page = new_ui_page(browser, sched.url)
    # the refusals this test provokes on purpose
    page.allow(r"403", r"Forbidden", r"404 \(Not Found\) \(http://[^)]*/v1/acl/token/self\)")
    try:
        yield page
        page.check_clean()
    finally:
        close(page)


def test_token_page_sets_the_token_for_every_request(ui: UIPage, root: str) -> None:
    page = ui.page
    ui.goto("/ui/jobs")
    refusal = page.locator(".not-authorized").first
    expect(refusal).to_contain_text("Not authorized: set a token")
    expect(refusal).to_contain_text("Permission denied")
    refusal.get_by_role("link", name="Set an ACL token").click()
    expect(page).to_have_url(re.compile(r"/ui/settings/tokens$"))
    expect(page.locator("#token-info")).to_contain_text("No token is set")
    page.locator("#token-secret").fill(root)
    page.locator("#token-save").click()
    info = page.locator("#token-info")
    expect(info).to_contain_text("Bootstrap Token")
    expect(info).to_contain_text("management")
    assert page.evaluate("localStorage.getItem('nomadTokenSecret')") == root
    ui.goto("/ui/jobs")
    expect(page.get_by_text("guarded-app")).to_be_visible()
    # cleared, the anonymous policy applies again
    ui.goto("/ui/settings/tokens")
    page.locator("#token-clear").click()
    expect(page.locator("#token-info")).to_contain_text("No token is set")
    ui.goto("/ui/jobs")
    expect(page.locator(".not-authorized").first).to_be_visible()


def test_a_bad_token_says_so(ui: UIPage) -> None:
    page = ui.page
    ui.goto("/ui/settings/tokens")
    page.locator("#token-secret").fill("00000000-0000-0000-0000-000000000000")
    page.locator("#token-save").click()
    expect(page.locator("#token-info")).to_contain_text(
        "This token does not work: ACL token not found"
    )
