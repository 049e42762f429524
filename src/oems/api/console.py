"""The sandbox console: the page at `/`, its own assets under `/console/`, and the chart library
under `/console/vendor/` from the checkout's `node_modules` (installed by `npm ci`; the page says
so when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from oems.api.wire import Routes, error_response, new_request_id
from oems.domain.errors import NotFound

ASSETS = Path(__file__).resolve().parents[1] / "console"
# The repository root of a source checkout (editable install), then the working directory.
NODE_MODULES = (Path(__file__).resolve().parents[3] / "node_modules", Path.cwd() / "node_modules")
# What the page may load from node_modules: the chart library's ES module and its stylesheet.
VENDOR_FILES = {
    "uPlot.esm.js": Path("uplot/dist/uPlot.esm.js"),
    "uPlot.min.css": Path("uplot/dist/uPlot.min.css"),
}
# The page loads nothing from elsewhere, and nothing from it may be framed or sent on.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'none'; "
        "base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class _Assets(StaticFiles):
    """The console's files, with the page's security headers and revalidation on every load."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update({**SECURITY_HEADERS, "Cache-Control": "no-cache"})
        return response


routes = Routes()
_assets = _Assets(directory=ASSETS)


@routes.plain("GET", "/")
async def index(request: Request) -> Response:
    """The console's page."""
    return FileResponse(
        ASSETS / "index.html",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


def vendor_path(name: str) -> Path | None:
    """Where the installed third-party file `name` is, or None (not allowed, or not installed)."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        return None
    for root in NODE_MODULES:
        if (root / relative).is_file():
            return root / relative
    return None


@routes.plain("GET", "/console/vendor/{name}")
async def vendor(request: Request) -> Response:
    """A third-party asset from node_modules; 404 in the envelope when it is not installed."""
    name = request.path_params["name"]
    path = vendor_path(name)
    if path is None:
        why = (
            "is not installed: run `npm ci` in the oems checkout"
            if name in VENDOR_FILES
            else ("is not a console asset")
        )
        return error_response(NotFound(f"{name} {why}"), new_request_id())
    return FileResponse(path, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@routes.plain("GET", "/console/{path:path}")
async def asset(request: Request) -> Response:
    """One of the console's own files (404 in the envelope for anything else)."""
    return await _assets.get_response(os.path.normpath(request.path_params["path"]), request.scope)
