"""Debian's Chromium driven by Playwright, kept off the network, and a page wrapper that
fails a test on any JavaScript error or unexpected failed request in the console."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Error, Page

REPO = Path(__file__).resolve().parents[2]
# Screenshots go to docs/screenshots/ when YURT_SCREENSHOTS=1 (the README shows them), and
# to a scratch directory otherwise, so that an ordinary test run leaves the checkout clean.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("YURT_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "yurt-screenshots"
)
CHROMIUM = Path("/usr/bin/chromium")
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}

# Everything that would make Chromium talk to the outside world on its own is off, and every
# host name except the loopback resolves to nothing.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt when it is missing and we are root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        check=True,
        env=env,
    )
    return CHROMIUM


@dataclass
class UIPage:
    """A browser tab on one component's UI that records what went wrong in its console."""

    page: Page
    base: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        where = msg.location.get("url", "") if msg.location else ""
        text = f"{msg.text} ({where})"
        if any(p.search(text) for p in self.allowed):
            return
        self.problems.append(f"console error: {text}")

    def allow(self, *patterns: str) -> None:
        """Failed requests the test provokes on purpose (e.g. a 404 it asked for)."""
        self.allowed.extend(re.compile(p) for p in patterns)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def mark(self) -> None:
        """Tag the document, so `assert_not_reloaded` proves an update came without a reload."""
        self.page.evaluate("window.__yurtMark = 1")

    def assert_not_reloaded(self) -> None:
        assert self.page.evaluate("window.__yurtMark") == 1, "the page was reloaded"

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    def assert_fits(self) -> None:
        """Nothing sticks out sideways: the page itself never scrolls horizontally (wide
        tables scroll inside their own box)."""
        over = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert over <= 1, f"page is {over}px wider than the window at {self.page.url}"

    def check_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def new_ui_page(browser: Browser, base: str, viewport: dict[str, int] | None = None) -> UIPage:
    context = browser.new_context(viewport=viewport or WIDE)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    return UIPage(context.new_page(), base)


def close(ui: UIPage) -> None:
    with contextlib.suppress(Error):
        ui.page.context.close()


def paths_all_fit(ui: UIPage, paths: Iterable[str], ready: str = "main#app > *") -> None:
    for path in paths:
        ui.goto(path)
        ui.page.wait_for_selector(ready)
        ui.assert_fits()
