"""The wire contract's error cases over a real socket: status codes and message shapes."""

from __future__ import annotations

import re

import httpx
from tests.support.contract import assert_error
from tests.support.servers import ServerProcess


def test_success_envelope_has_fresh_request_id(client: httpx.Client) -> None:
    first, second = client.get("/v1/version"), client.get("/v1/version")
    assert first.status_code == 200
    body = first.json()
    assert body["data"] == {"version": "2025-10-31"}
    assert body["error"] is None
    assert body["metadata"]["request_id"] == first.headers["x-request-id"]
    assert body["metadata"]["request_id"] != second.json()["metadata"]["request_id"]


def test_missing_and_invalid_bearer_are_401(server: ServerProcess) -> None:
    with server.client(None) as anonymous:
        assert_error(anonymous.get("/v1/accounts"), 401)
    with server.client("oems_not_a_key") as wrong:
        assert_error(wrong.get("/v1/accounts"), 401)
    with server.client(None) as basic:
        assert_error(basic.get("/v1/accounts", headers={"Authorization": "Basic abc"}), 401)


def test_other_users_account_is_403_with_vendor_message(
    client: httpx.Client, accounts: dict[str, int]
) -> None:
    message = "The caller does not have permission to execute the specified operation"
    other = accounts["other_user_account"]
    for path in ("", "/balances", "/portfolio-history?start_date=2025-01-01"):
        assert_error(client.get(f"/v1/accounts/{other}{path}"), 403, message)
    assert_error(
        client.patch(f"/v1/accounts/{other}", json={"risk": {"max_notional": "1"}}), 403, message
    )
    # An id that does not exist is refused the same way: the answer reveals nothing.
    assert_error(client.get("/v1/accounts/999999999"), 403, message)


def test_admin_key_cannot_use_trading_api_and_user_key_cannot_use_admin(
    server: ServerProcess, accounts: dict[str, int]
) -> None:
    with server.admin() as admin:
        assert_error(admin.get(f"/v1/accounts/{accounts['margin']}"), 403)
    with server.client() as user:
        assert_error(user.get("/admin/v1/clock"), 403)


def test_malformed_json_is_400_with_position(
    client: httpx.Client, accounts: dict[str, int]
) -> None:
    response = client.patch(
        f"/v1/accounts/{accounts['margin']}",
        content=b'{\n  "risk": {\n    "max_notional": "5"\n',
        headers={"content-type": "application/json"},
    )
    error = assert_error(response, 400)
    assert error["message"] == (
        "Failed to parse the request body as JSON: risk.?: EOF while parsing an object at line 4 column 0"
    )


def test_wrong_shape_is_422_naming_the_path(client: httpx.Client, accounts: dict[str, int]) -> None:
    response = client.patch(
        f"/v1/accounts/{accounts['margin']}", json={"risk": {"max_notional": 5}}
    )
    error = assert_error(response, 422)
    assert error["message"].startswith(
        "Failed to deserialize the JSON body into the target type: risk.max_notional: invalid type: integer `5`"
    )
    assert re.search(r"at line \d+ column \d+$", error["message"])
    unknown = client.patch(f"/v1/accounts/{accounts['margin']}", json={"limits": {}})
    assert "unknown field `limits`" in assert_error(unknown, 422)["message"]


def test_bad_query_and_path_parameters_are_400_naming_them(
    client: httpx.Client, accounts: dict[str, int]
) -> None:
    error = assert_error(client.get("/v1/accounts", params={"page_size": "abc"}), 400)
    assert "page_size" in error["message"]
    error = assert_error(client.get("/v1/accounts", params={"page_size": "0"}), 400)
    assert "page_size" in error["message"]
    error = assert_error(client.get("/v1/accounts/abc"), 400)
    assert error["message"].startswith("Cannot parse `account_id` with value `abc`")
    error = assert_error(client.get(f"/v1/accounts/{accounts['margin']}/portfolio-history"), 400)
    assert "start_date" in error["message"]
    error = assert_error(client.get("/v1/accounts", params={"page_token": "Zm9yZ2Vk"}), 400)
    assert "page_token" in error["message"]


def test_unknown_route_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing-here"), 404)
    assert_error(client.delete("/v1/version"), 405)


def test_refused_change_changes_nothing(
    client: httpx.Client, admin: httpx.Client, accounts: dict[str, int]
) -> None:
    account = accounts["cash"]
    before = client.get(f"/v1/accounts/{account}/balances").json()["data"]
    assert_error(
        admin.post(f"/admin/v1/accounts/{account}/cash", json={"amount": "-100000000"}), 400
    )
    assert_error(admin.post(f"/admin/v1/accounts/{account}/cash", json={"amount": "ten"}), 422)
    assert_error(
        client.patch(f"/v1/accounts/{account}", json={"risk": {"max_notional": "-5"}}), 400
    )
    after = client.get(f"/v1/accounts/{account}/balances").json()["data"]
    assert after == before


def test_pages_walk_forward_and_back_with_totals(client: httpx.Client) -> None:
    first = client.get(
        "/v1/instruments", params={"instrument_type": "COMMON_STOCK", "page_size": 20}
    ).json()
    meta = first["metadata"]
    assert (meta["page_number"], meta["previous_page_token"]) == (1, None)
    assert meta["total_items"] >= 50 and meta["total_pages"] == -(-meta["total_items"] // 20)
    second = client.get(
        "/v1/instruments",
        params={"instrument_type": "COMMON_STOCK", "page_token": meta["next_page_token"]},
    ).json()
    assert second["metadata"]["page_number"] == 2
    assert {i["id"] for i in second["data"]}.isdisjoint({i["id"] for i in first["data"]})
    back = client.get(
        "/v1/instruments",
        params={
            "instrument_type": "COMMON_STOCK",
            "page_token": second["metadata"]["previous_page_token"],
        },
    ).json()
    assert back["data"] == first["data"] and back["metadata"]["page_number"] == 1
    # A token is bound to the filters it was issued for, and cannot be altered.
    stale = client.get(
        "/v1/instruments",
        params={"instrument_type": "OPTION", "page_token": meta["next_page_token"]},
    )
    assert "page_token" in assert_error(stale, 400)["message"]
    forged = meta["next_page_token"][:-2] + (
        "AA" if not meta["next_page_token"].endswith("AA") else "BB"
    )
    assert_error(
        client.get(
            "/v1/instruments", params={"instrument_type": "COMMON_STOCK", "page_token": forged}
        ),
        400,
    )
