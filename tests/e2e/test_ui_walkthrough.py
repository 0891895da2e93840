"""The seed's walkthrough in a browser: the whole stack (`yurt up`), the nginx job run from
the scheduler's UI, its allocation turning running, `service-nginx` turning passing in the
catalog's UI and its route appearing in the router's UI, all without a reload, then the job
stopped from the UI and its route gone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.support.process import free_port
from tests.ui.browser import CHROMIUM_ARGS, ensure_chromium, new_ui_page

REPO = Path(__file__).resolve().parents[2]
AGENTS = ("consul", "nomad-1-server", "nomad-1-client", "fabio")


@dataclass
class Stack:
    catalog: str
    scheduler: str
    router_ui: str
    proxy: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("ui-walkthrough")
    ports = {name: free_port() for name in ("catalog", "scheduler", "ui", "proxy")}
    config = tmp / "agent.hcl"
    config.write_text(
        f"""
datacenter = "dc1"
ports {{ http = {ports["scheduler"]} }}
consul {{
  address             = "127.0.0.1:{ports["catalog"]}"
  server_service_name = "nomad-1-server"
  client_service_name = "nomad-1-client"
}}
plugin "raw_exec" {{
  config {{ enabled = true }}
}}
client {{ enabled = true }}
router {{
  proxy_addr = "127.0.0.1:{ports["proxy"]}"
  ui_addr    = "127.0.0.1:{ports["ui"]}"
}}
"""
    )
    log = (tmp / "yurt.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "yurt", "up", "-dev", "-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=REPO,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"yurt is ready" in line:
            break
    else:
        pytest.fail(f"yurt up exited: {(tmp / 'yurt.log').read_text()[-3000:]}")
    try:
        yield Stack(
            catalog=f"http://127.0.0.1:{ports['catalog']}",
            scheduler=f"http://127.0.0.1:{ports['scheduler']}",
            router_ui=f"http://127.0.0.1:{ports['ui']}",
            proxy=f"http://127.0.0.1:{ports['proxy']}",
        )
    finally:
        # Ctrl-C, as a user stops `yurt up` in a terminal: everything goes, tasks included.
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(30)
        log.close()
        left = subprocess.run(["pgrep", "-f", str(tmp)], capture_output=True, text=True).stdout
        assert code == 0 and not left.strip(), (code, left)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_the_seed_walkthrough_in_the_browser(stack: Stack, browser: Browser) -> None:
    expect.set_options(timeout=30_000)
    # Step 2: the catalog lists the four agents.
    catalog = new_ui_page(browser, stack.catalog)
    catalog.goto("/ui/")
    expect(catalog.page).to_have_url(re.compile(r"/ui/dc1/services$"))
    for name in AGENTS:
        expect(catalog.page.locator(f'tr[data-service-row="{name}"]')).to_be_visible()
    catalog.mark()

    # The router's table, open before the job exists.
    router = new_ui_page(browser, stack.router_ui)
    router.goto("/")
    expect(router.page).to_have_url(re.compile(r"/routes$"))
    router.mark()

    # Step 3: run the nginx job from the scheduler's UI.
    scheduler = new_ui_page(browser, stack.scheduler)
    scheduler.goto("/ui/")
    expect(scheduler.page).to_have_url(re.compile(r"/ui/jobs$"))
    scheduler.page.get_by_role("link", name="Run job").click()
    job_file = (REPO / "jobs" / "job.nginx-raw.nomad").read_text()
    scheduler.page.get_by_label("job file", exact=True).fill(job_file)
    scheduler.page.get_by_role("button", name="Plan").click()
    expect(scheduler.page.locator(".plan")).to_contain_text("All task groups can be placed.")
    scheduler.mark()
    scheduler.page.get_by_role("button", name="Run", exact=True).click()
    expect(scheduler.page).to_have_url(re.compile(r"/ui/jobs/job-nginx-raw$"))
    expect(scheduler.page.locator('tr[data-status="running"]')).to_have_count(1)
    scheduler.assert_not_reloaded()

    # Step 4: service-nginx appears in the catalog and its route in the router, live.
    row = catalog.page.locator('tr[data-service-row="service-nginx"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("urlprefix-/")
    catalog.assert_not_reloaded()
    catalog.page.locator('a[data-service="service-nginx"]').click()
    expect(catalog.page.locator('[data-check-status="passing"]').first).to_be_visible()
    route = router.page.locator('tr[data-service="service-nginx"]')
    expect(route).to_be_visible()
    router.assert_not_reloaded()

    # The allocation's files: the task's rendered nginx.conf, read through the scheduler.
    scheduler.page.locator('tr[data-status="running"] a.mono').click()
    files = scheduler.page.locator("section", has_text="Files")
    files.locator('[data-fs-entry="task-raw-nginx"]').click()
    files.locator('[data-fs-entry="local"]').click()
    files.locator('[data-fs-entry="nginx.conf"]').click()
    expect(files.locator(".fs-file")).to_contain_text("worker_processes 1;")
    files.locator('[data-fs-path="/"]').click()
    expect(files.locator('[data-fs-entry="alloc"]')).to_be_visible()
    scheduler.assert_not_reloaded()
    scheduler.page.locator(".job-crumb a").click()

    # Stop the job from its page: the route goes away without a reload.
    scheduler.page.get_by_role("button", name="Stop", exact=True).click()
    scheduler.page.get_by_role("button", name="Yes, stop job").click()
    expect(route).to_have_count(0)
    router.assert_not_reloaded()
    for ui in (catalog, router, scheduler):
        ui.check_clean()
