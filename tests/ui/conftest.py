from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.ui.browser import CHROMIUM_ARGS, ensure_chromium

# Updates travel through real processes on a machine shared with other test runs: give each
# expectation room (it returns as soon as it holds).
expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per module (each test opens its own context in it). Not per
    session: Playwright's sync API keeps an event loop running in the main thread while it
    is open, which asyncio tests collected after it could not start their own."""
    executable = ensure_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
