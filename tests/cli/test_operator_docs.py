"""The operator's documents stay true: the admin OpenAPI document covers exactly the admin
routes, and the README's configuration table is what `oems serve --help` says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
from starlette.routing import Route, WebSocketRoute
from tests.support.servers import ServerProcess

from oems.api import admin_openapi
from oems.api.app import build_app
from oems.cli.main import SERVE_OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def admin_operations() -> set[tuple[str, str]]:
    """(method, path) of every route under /admin the application serves."""
    runtime = SimpleNamespace(config=SimpleNamespace(rate_limit=None))
    found = set()
    for route in build_app(runtime).routes:  # type: ignore[arg-type]
        if isinstance(route, WebSocketRoute):
            continue  # /v1/ws: no HTTP operation
        assert isinstance(route, Route) and route.methods is not None
        if route.path.startswith("/admin/"):
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}
    return found


def test_the_admin_openapi_document_covers_every_admin_route_and_no_other() -> None:
    document = json.loads(admin_openapi.DOCUMENT_PATH.read_text())
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert documented == admin_operations()
    for operations in document["paths"].values():
        for operation in operations.values():
            assert operation["summary"], operation["operationId"]


def test_the_admin_openapi_document_in_the_repository_is_current() -> None:
    assert admin_openapi.DOCUMENT_PATH.read_text() == admin_openapi.render_document(), (
        "rewrite it: python -m oems.api.admin_openapi"
    )


def test_the_server_serves_the_admin_openapi_document(server: ServerProcess) -> None:
    response = httpx.get(f"{server.base_url}{admin_openapi.OPENAPI_ROUTE}")
    assert response.status_code == 200
    assert response.json() == json.loads(admin_openapi.DOCUMENT_PATH.read_text())


def readme_configuration_rows() -> list[list[str]]:
    """The cells of the README's `oems serve` option table, backticks removed."""
    text = README.read_text()
    table = text[text.index("| option | env | default | meaning |") :].split("\n\n", 1)[0]
    rows = [line.strip("|").split(" | ") for line in table.splitlines()[2:]]
    return [[cell.strip().replace("`", "").replace("\\|", "|") for cell in row] for row in rows]


def test_the_readme_table_lists_every_serve_option_as_the_help_does() -> None:
    rows = readme_configuration_rows()
    expected = [
        [o.flag, o.env, o.default if o.default is not None else "none", o.meaning]
        for o in SERVE_OPTIONS
    ]
    assert [[r[0].split()[0], *r[1:]] for r in rows] == expected


def test_serve_help_gives_each_option_its_meaning_default_and_environment_variable() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "oems.cli.main", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    flat = re.sub(r"\s+", " ", shown)
    assert "Run the Clear Street Trading API v1 server" in flat
    for option in SERVE_OPTIONS:
        shown_default = option.default if option.default is not None else "none"
        assert f"{option.meaning} (default {shown_default}; env {option.env})" in flat
    assert "--debug" in flat and "OEMS_DEBUG" in flat
