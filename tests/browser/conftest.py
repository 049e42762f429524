"""Browser fixtures: Debian's Chromium driven by Playwright against a real `oems serve`.

Playwright's own browser download does not work here, so it launches the system Chromium
(`chromium`, installed by scripts/test.sh when missing). Screenshots of each step go to
`build/browser/<test name>/` (or under `$OEMS_SCREENSHOTS`), named in order.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from tests.support.servers import ADMIN_KEY, API_KEY, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> str | None:
    """The system Chromium's executable, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module (skipped without one, except in CI, where it fails).

    Not for the session: Playwright's sync API holds an event loop while it runs, and the tests
    after these call `asyncio.run`, which refuses to start inside one."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("no system Chromium: scripts/test.sh installs Debian's `chromium`")
        pytest.skip("no system Chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class Steps:
    """Numbered screenshots of a test's steps in its own folder."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def shot(self, name: str) -> Path:
        """Screenshot the page as the next step, `NN-name.png`."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page at 1280x800 that fails the test on any uncaught error in the page."""
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()
    assert errors == [], f"errors in the page: {errors}"


@pytest.fixture
def steps(page: Any, request: pytest.FixtureRequest) -> Steps:
    """Where this test's screenshots go: build/browser/<test name>/ (printed at the end)."""
    base = Path(os.environ.get("OEMS_SCREENSHOTS", ROOT / "build" / "browser"))
    folder = base / request.node.name
    print(f"screenshots: {folder}")
    return Steps(page, folder)


def sign_in(page: Any, server: ServerProcess, admin: bool = True) -> None:
    """Open the console and sign in with the sandbox user's key (and the admin key)."""
    page.goto(server.base_url + "/")
    page.get_by_test_id("api-key").fill(API_KEY)
    if admin:
        page.get_by_test_id("admin-key").fill(ADMIN_KEY)
    page.get_by_test_id("sign-in").get_by_role("button", name="Sign in").click()
    page.get_by_test_id("balances").locator("[data-key=equity] dd").wait_for()


def place_limit(page: Any, symbol: str, quantity: str, price: str, tif: str = "DAY") -> Any:
    """Fill the ticket with a BUY LIMIT order, submit it, and return its blotter row."""
    ticket = page.get_by_test_id("order-ticket").locator("#ticket-form")
    ticket.get_by_label("Symbol").fill(symbol)
    ticket.get_by_label("Side").select_option("BUY")
    ticket.get_by_label("Quantity").fill(quantity)
    ticket.get_by_label("Type").select_option("LIMIT")
    ticket.get_by_label("Limit price").fill(price)
    ticket.get_by_label("Time in force").select_option(tif)
    before = page.get_by_test_id("order-row").count()
    ticket.get_by_role("button", name="Submit order").click()
    expect(page.get_by_test_id("order-row")).to_have_count(before + 1)
    row = page.get_by_test_id("order-row").filter(has_text=f"${price}").first
    expect(row).to_be_visible()
    return row
