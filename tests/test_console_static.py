"""The console's files as the server serves them: the page at `/`, its modules, the chart library."""

from __future__ import annotations

import re

import httpx
from tests.support.servers import ServerProcess

from oems.api.console import ASSETS, vendor_path

# The hooks issue 13 makes a contract for tests (order rows are made by the page's script).
TEST_IDS = (
    "sign-in",
    "api-key",
    "account-picker",
    "balances",
    "positions-table",
    "orders-table",
    "executions-table",
    "equity-chart",
    "order-ticket",
    "quote-panel",
    "clock-panel",
)


def test_the_page_is_served_at_the_root_with_its_hooks(server: ServerProcess) -> None:
    answer = httpx.get(server.base_url + "/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert answer.headers["referrer-policy"] == "no-referrer"
    for test_id in TEST_IDS:
        assert f'data-testid="{test_id}"' in answer.text, test_id
    assert 'testid: "order-row"' in (ASSETS / "js" / "app.js").read_text()


def test_every_module_the_page_imports_is_served(server: ServerProcess) -> None:
    pending, seen = ["/console/js/app.js"], set()
    while pending:
        path = pending.pop()
        seen.add(path)
        answer = httpx.get(server.base_url + path)
        assert answer.status_code == 200, path
        assert "javascript" in answer.headers["content-type"], path
        for name in re.findall(r'from "\./([a-z]+\.js)"', answer.text):
            if f"/console/js/{name}" not in seen:
                pending.append(f"/console/js/{name}")
    assert len(seen) >= 8
    css = httpx.get(server.base_url + "/console/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_assets_outside_the_console_are_not_served(server: ServerProcess) -> None:
    for path in (
        "/console/nope.js",
        "/console/vendor/../../pyproject.toml",
        "/console/vendor/x.js",
    ):
        answer = httpx.get(server.base_url + path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == 404
    assert "not a console asset" in httpx.get(server.base_url + "/console/vendor/x.js").text


def test_the_chart_library_comes_from_node_modules_or_says_how(server: ServerProcess) -> None:
    answer = httpx.get(server.base_url + "/console/vendor/uPlot.esm.js")
    if vendor_path("uPlot.esm.js") is None:
        assert answer.status_code == 404
        assert "npm ci" in answer.json()["error"]["message"]
    else:
        assert answer.status_code == 200
        assert "uPlot" in answer.text
