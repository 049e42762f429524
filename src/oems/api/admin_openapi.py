"""The admin surface's own OpenAPI document: built from the admin routes, their docstrings and
their body structs, kept in the repository as `admin-openapi.json` and served at
`GET /admin/v1/openapi.json`. After changing an admin route, rewrite the file with
`python -m oems.api.admin_openapi` (a test checks it is current and covers every route)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oems.api import admin, admin_market
from oems.api.wire import Routes

DOCUMENT_PATH = Path(__file__).with_name("admin-openapi.json")
OPENAPI_ROUTE = "/admin/v1/openapi.json"
routes = Routes()

# The body each admin operation decodes (`decode_body(raw, ...)` in its handler).
BODIES: dict[tuple[str, str], type[msgspec.Struct]] = {
    ("POST", "/admin/v1/reset"): admin._ResetBody,
    ("POST", "/admin/v1/faults"): admin._FaultsBody,
    ("POST", "/admin/v1/clock"): admin._ClockBody,
    ("POST", "/admin/v1/clock/advance"): admin._AdvanceBody,
    ("PUT", "/admin/v1/quotes/{symbol}"): admin_market._QuoteBody,
    ("POST", "/admin/v1/market-data/replay"): admin_market._ReplayBody,
    ("POST", "/admin/v1/accounts"): admin._AccountBody,
    ("POST", "/admin/v1/accounts/{account_id}/cash"): admin._CashBody,
    ("POST", "/admin/v1/accounts/{account_id}/status"): admin._StatusBody,
    ("POST", "/admin/v1/api-keys"): admin._KeyBody,
    ("POST", "/admin/v1/scenarios"): admin._ScenarioBody,
}
QUERIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("DELETE", "/admin/v1/market-data/replay"): [
        {
            "name": "symbols",
            "in": "query",
            "required": False,
            "description": "comma-separated instruments whose replayed rows to forget "
            "(absent: all); empty is a 400",
            "schema": {"type": "string"},
        }
    ],
}

_METHOD_ORDER = ("GET", "PUT", "POST", "PATCH", "DELETE")
_ENVELOPE = {
    "type": "object",
    "required": ["data", "error", "metadata"],
    "properties": {
        "data": {"description": "the operation's answer (see its description)"},
        "error": {"$ref": "#/components/schemas/Error"},
        "metadata": {
            "type": "object",
            "properties": {"request_id": {"type": "string", "format": "uuid"}},
        },
    },
}
_ERROR = {
    "type": ["object", "null"],
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer", "description": "equal to the HTTP status"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "string"}},
    },
}


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every admin route (this one's own included)."""
    _, components = msgspec.json.schema_components(
        list(BODIES.values()), ref_template="#/components/schemas/{name}"
    )
    schemas = {name.strip("_"): _renamed(schema) for name, schema in components.items()}
    paths: dict[str, dict[str, Any]] = {}
    operations = [
        (route, method)
        for route in [*admin.routes, *admin_market.routes, *routes]
        for method in (route.methods or set()) - {"HEAD"}
    ]
    # The document lists a path's methods in one fixed order, whatever order the handlers are in.
    operations.sort(key=lambda operation: _METHOD_ORDER.index(operation[1]))
    for route, method in operations:
        paths.setdefault(route.path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oems admin surface",
            "version": "1",
            "description": "Sandbox administration of an oems server (admin key only, "
            "`Authorization: Bearer <admin key>`); answers wear the trading API's envelope. "
            "See the README's `Admin surface` section.",
        },
        "components": {
            "securitySchemes": {"adminKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Envelope": _ENVELOPE, "Error": _ERROR, **schemas},
        },
        "security": [{"adminKey": []}],
        "paths": dict(sorted(paths.items())),
    }


def _renamed(schema: Any) -> Any:
    """The schema with references to private struct names made public (`_ClockBody` -> `ClockBody`)."""
    text = json.dumps(schema)
    return json.loads(re.sub(r"#/components/schemas/_+", "#/components/schemas/", text))


def _operation(route: Route, method: str) -> dict[str, Any]:
    doc = inspect.getdoc(route.endpoint) or ""
    summary, _, rest = doc.partition("\n")
    operation: dict[str, Any] = {
        "operationId": route.endpoint.__name__,
        "summary": summary.strip(),
        "responses": {
            "default": {
                "description": "the envelope: `data` on success, `error` otherwise",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}
                },
            }
        },
    }
    if rest.strip():
        operation["description"] = " ".join(rest.split())
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ] + QUERIES.get((method, route.path), [])
    if parameters:
        operation["parameters"] = parameters
    body = BODIES.get((method, route.path))
    if body is not None:
        ref = {"$ref": f"#/components/schemas/{body.__name__.strip('_')}"}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref}},
        }
    if route.path == OPENAPI_ROUTE:
        operation["security"] = []
    return operation


def render_document() -> str:
    """The document as it is kept in the repository (stable key order, two-space indent)."""
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


@routes.plain("GET", OPENAPI_ROUTE)
async def get_openapi(request: Request) -> Response:
    """This OpenAPI document of the admin surface (no key needed: it holds no secret)."""
    return Response(DOCUMENT_PATH.read_bytes(), media_type="application/json")


if __name__ == "__main__":
    DOCUMENT_PATH.write_text(render_document())
    print(f"wrote {DOCUMENT_PATH}")
