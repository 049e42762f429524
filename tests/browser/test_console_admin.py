"""The console's admin panel in a real browser: accounts, keys, faults and a replay upload, each
checked against the admin surface. Screenshots: build/browser/<test name>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import Steps, sign_in
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow


def test_accounts_and_keys_from_the_admin_panel(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    sign_in(page, fresh_server)
    panel = page.locator("#accounts-panel")
    panel.locator("summary").click()
    rows = panel.locator("tbody tr.account-head")
    expect(rows).to_have_count(3)
    form = page.locator("#account-form")
    form.get_by_label("Full name").fill("Desk Two")
    form.get_by_label("Starting cash").fill("50000")
    form.get_by_role("button", name="Create account").click()
    expect(rows).to_have_count(4)
    expect(rows.nth(3)).to_contain_text("Desk Two")
    new_id = rows.nth(3).locator("th").inner_text()
    new = panel.locator(f"tr[data-account-id='{new_id}']")
    # The sandbox user owns it: the picker lists it at once.
    expect(
        page.get_by_test_id("account-picker").locator(f"option[value='{new_id}']")
    ).to_have_count(1)
    new.get_by_label(f"Cash to move for {new_id}").fill("-60000")
    new.get_by_role("button", name="Fund").click()
    expect(page.locator("#admin-error")).to_contain_text("400")
    new.get_by_label(f"Cash to move for {new_id}").fill("2500.50")
    new.get_by_role("button", name="Fund").click()
    expect(rows.nth(3)).to_contain_text("$52,500.50")
    steps.shot("account-created-and-funded")

    keys = page.locator("#keys-panel")
    keys.locator("summary").click()
    expect(keys.locator("tbody tr")).to_have_count(2)  # the bootstrap's user and admin keys
    page.locator("#key-form").get_by_label("Account ids").fill(new_id)
    page.locator("#key-form").get_by_role("button", name="Create key").click()
    expect(keys.locator("tbody tr")).to_have_count(3)
    secret = page.locator("#key-secret code").inner_text()
    assert secret.startswith("oems_")
    with fresh_server.client(secret) as http:
        assert [a["id"] for a in http.get("/v1/accounts").json()["data"]] == [int(new_id)]
    steps.shot("key-created")
    keys.get_by_role("button", name="Revoke key").last.click()
    expect(keys.locator("tbody tr").last).to_contain_text("revoked")
    with fresh_server.client(secret) as http:
        assert http.get("/v1/accounts").status_code == 401
    steps.shot("key-revoked")


def test_faults_and_a_replay_upload(
    page: Any, steps: Steps, fresh_server: ServerProcess, tmp_path: Path
) -> None:
    sign_in(page, fresh_server)
    faults = page.locator("#faults-panel")
    faults.locator("summary").click()
    faults.get_by_label("Reject next N orders").fill("1")
    faults.get_by_label("Reason").fill("Venue halted")
    faults.get_by_role("button", name="Set faults").click()
    expect(page.locator("#faults-now")).to_contain_text("reject next 1")
    with fresh_server.admin() as http:
        assert http.get("/admin/v1/faults").json()["data"]["reject_reason"] == "Venue halted"
    steps.shot("faults-set")

    csv = tmp_path / "quotes.csv"
    csv.write_text(
        "ts,symbol,bid,ask,bid_size,ask_size,last,last_size\n"
        "2025-10-15T14:00:00Z,AAPL,210.10,210.14,300,200,,\n"
        "2025-10-15T14:20:00Z,AAPL,210.20,210.24,300,200,210.22,100\n"
    )
    replay = page.locator("#replay-panel")
    replay.locator("summary").click()
    replay.get_by_label("CSV file").set_input_files(str(csv))
    replay.get_by_role("button", name="Upload").click()
    expect(page.locator("#replay-status")).to_have_text("2 rows loaded for AAPL.")
    watch = page.get_by_test_id("quote-panel").locator("tr[data-symbol=AAPL]")
    expect(watch.locator("td.bid")).to_have_text("210.20")
    steps.shot("replayed")

    csv.write_text(
        "ts,symbol,bid,ask,bid_size,ask_size,last,last_size\n2025-10-15T14:21:00Z,AAPL,1\n"
    )
    replay.get_by_label("CSV file").set_input_files(str(csv))
    replay.get_by_role("button", name="Upload").click()
    expect(page.locator("#replay-status")).to_have_text(
        "quotes.csv:2: 3 fields, but the header has 8"
    )
    steps.shot("replay-refused")
