"""The instrument endpoints over a real socket, checked against the vendor document's schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.support.contract import assert_error
from tests.support.schema_check import assert_matches_schema

from oems.domain.ids import stable_uuid

AAPL_ID = str(stable_uuid("equity", "AAPL"))
AAPL_DEC_250_CALL = "AAPL  251219C00250000"  # listed on the shared server's date, 2025-10-15
NOT_ONE = (
    "Exactly one identifier must be provided: underlier, underlying_instrument_id, or contract_ids"
)


@pytest.fixture
def spec(vendor_spec: dict[str, Any]) -> dict[str, Any]:
    return vendor_spec


def _ok(response: httpx.Response, spec: dict[str, Any], path: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert_matches_schema(spec, "GET", path, body)
    assert body["error"] is None
    return body


def _symbols(body: dict[str, Any]) -> list[str]:
    return [item["symbol"] for item in body["data"]]


def test_list_pages_through_every_instrument(client: httpx.Client, spec: dict[str, Any]) -> None:
    first = _ok(client.get("/v1/instruments"), spec, "/v1/instruments")
    meta = first["metadata"]
    assert len(first["data"]) == 1000
    assert meta["page_number"] == 1 and meta["total_items"] > 2000
    assert meta["total_pages"] == -(-meta["total_items"] // 1000)
    assert first["data"][0]["symbol"] == "AAPL"
    assert first["data"][0]["venue"] == "XNMS"
    by_id = client.get(f"/v1/instruments/{first['data'][0]['id']}").json()["data"]
    assert first["data"][0] == by_id  # the list shows what get-by-id shows
    second = _ok(
        client.get("/v1/instruments", params={"page_token": meta["next_page_token"]}),
        spec,
        "/v1/instruments",
    )
    assert second["metadata"]["page_number"] == 2
    assert not {i["id"] for i in first["data"]} & {i["id"] for i in second["data"]}
    back = client.get(
        "/v1/instruments", params={"page_token": second["metadata"]["previous_page_token"]}
    )
    assert back.json()["data"] == first["data"]


def test_list_filters(client: httpx.Client, spec: dict[str, Any]) -> None:
    def symbols(**params: str) -> list[str]:
        return _symbols(_ok(client.get("/v1/instruments", params=params), spec, "/v1/instruments"))

    assert symbols(is_ptp="true") == ["ET"]
    assert symbols(is_short_prohibited="true") == ["DJT"]
    assert symbols(is_liquidation_only="true", instrument_type="COMMON_STOCK") == ["NKLA"]
    hard = symbols(easy_to_borrow="false")
    assert {"GME", "AMC"} <= set(hard)
    assert len(symbols(is_threshold_security="true")) >= 2
    assert "TWTR" in symbols(is_marginable="false")
    options = symbols(instrument_type="OPTION", page_size="5")
    assert len(options) == 5 and all(len(s) == 21 for s in options)
    assert symbols(instrument_type="INDEX") == []
    picked = symbols(instrument_ids=f"msft,{AAPL_ID},{AAPL_DEC_250_CALL.replace(' ', '')},NOPE")
    assert picked == ["AAPL", "MSFT", AAPL_DEC_250_CALL]
    assert symbols(instrument_ids="AAPL", is_marginable="false") == []


def test_list_rejects_bad_parameters(client: httpx.Client) -> None:
    assert_error(client.get("/v1/instruments", params={"instrument_type": "ETF"}), 400)
    assert_error(client.get("/v1/instruments", params={"is_ptp": "yes"}), 400)
    assert_error(client.get("/v1/instruments", params={"page_size": "1001"}), 400)
    assert_error(client.get("/v1/instruments", params={"page_token": "bogus"}), 400)


def test_instrument_by_ticker_uuid_and_osi(client: httpx.Client, spec: dict[str, Any]) -> None:
    path = "/v1/instruments/{instrument_id}"
    body = _ok(client.get("/v1/instruments/aapl"), spec, path)
    data = body["data"]
    assert data["id"] == AAPL_ID and data["symbol"] == "AAPL" and data["name"] == "Apple Inc."
    assert data["instrument_type"] == "COMMON_STOCK"
    assert data["long_margin_rate"] == "0.25" and data["short_margin_rate"] == "0.30"
    assert "options_expiry_dates" not in data
    # Market figures: the close the snapshot's session reports, the model's daily volume.
    snapshot = client.get("/v1/market-data/snapshot", params={"instrument_ids": "AAPL"})
    session = snapshot.json()["data"][0]["session"]
    assert data["previous_close"] == session["previous_close"]
    adv = int(data["adv"])
    assert 300_000 <= adv <= 30_000_000
    close = Decimal(data["previous_close"])
    assert data["notional_adv"] == str((adv * close).quantize(Decimal(1)))
    assert data["cax_adjusted_previous_close"] is None
    assert _ok(client.get(f"/v1/instruments/{AAPL_ID}"), spec, path)["data"] == data
    for text in (AAPL_DEC_250_CALL, AAPL_DEC_250_CALL.replace(" ", "")):
        option = _ok(client.get(f"/v1/instruments/{quote(text)}"), spec, path)["data"]
        assert option["symbol"] == AAPL_DEC_250_CALL
        assert option["instrument_type"] == "OPTION"
        assert option["name"] == "AAPL Dec 19 2025 250 Call"
        assert option["id"] == str(stable_uuid("option", AAPL_DEC_250_CALL))
        assert Decimal(option["previous_close"]) > 0 and int(option["adv"]) >= 50
        assert option["notional_adv"] == str(
            (int(option["adv"]) * Decimal(option["previous_close"]) * 100).quantize(Decimal(1))
        )
    assert _ok(client.get("/v1/instruments/BRK.B"), spec, path)["data"]["symbol"] == "BRK.B"


def test_instrument_with_expiry_dates(client: httpx.Client, spec: dict[str, Any]) -> None:
    path = "/v1/instruments/{instrument_id}"
    params = {"include_options_expiry_dates": "true"}
    data = _ok(client.get("/v1/instruments/AAPL", params=params), spec, path)["data"]
    dates = data["options_expiry_dates"]
    assert dates == sorted(dates) and "2025-12-19" in dates and dates[0] >= "2025-10-15"
    annotated = data["options_contract_expiry_dates"]
    assert [d["date"] for d in annotated] == dates
    assert all(d["has_settles_on_close"] and not d["has_settles_on_open"] for d in annotated)
    ko = _ok(client.get("/v1/instruments/KO", params=params), spec, path)["data"]
    assert ko["options_expiry_dates"] == [] and ko["options_contract_expiry_dates"] == []


def test_unknown_instrument_is_404_with_vendor_message(client: httpx.Client) -> None:
    assert_error(client.get("/v1/instruments/AAP"), 404, "Instrument not found: AAP")
    missing = "528ec5c3-cdbf-447c-b995-ec6c83cfbc03"
    assert_error(client.get(f"/v1/instruments/{missing}"), 404, f"Instrument not found: {missing}")


def test_search(client: httpx.Client, spec: dict[str, Any]) -> None:
    def search(**params: str) -> dict[str, Any]:
        return _ok(
            client.get("/v1/instruments/search", params=params), spec, "/v1/instruments/search"
        )

    assert _symbols(search(q="APPLE")) == ["AAPL"]
    assert _symbols(search(q="goog")) == ["GOOG", "GOOGL"]
    assert _symbols(search(q="energy")) == ["XLE", "ET"]
    assert _symbols(search(q="energy", include_ptp="false")) == ["XLE"]
    assert _symbols(search(q="twitter")) == []
    assert _symbols(search(q="twitter", include_inactive="true")) == ["TWTR"]
    assert _symbols(search(q="taiwan", country="TW", currency="USD")) == ["TSM"]
    assert _symbols(search(q=AAPL_DEC_250_CALL, asset_class="OPTION")) == [AAPL_DEC_250_CALL]
    assert _symbols(search(q="AAPL Dec 250 call", asset_class="OPTION")) == [AAPL_DEC_250_CALL]
    by_prefix = search(q="AAPL  251219", asset_class="OPTION", page_size="10")
    assert len(by_prefix["data"]) == 10 and by_prefix["metadata"]["total_items"] > 10
    assert all(s.startswith("AAPL  251219") for s in _symbols(by_prefix))
    mixed = search(q="AAPL", asset_class="EQUITY,OPTION", page_size="3")
    assert _symbols(mixed)[0] == "AAPL" and mixed["metadata"]["next_page_token"]


def test_search_rejects_bad_parameters(client: httpx.Client) -> None:
    assert_error(client.get("/v1/instruments/search"), 400)
    assert_error(client.get("/v1/instruments/search", params={"q": "a", "page_size": "101"}), 400)
    assert_error(
        client.get("/v1/instruments/search", params={"q": "a", "asset_class": "STOCK"}), 400
    )


def test_option_contracts_of_an_underlier(client: httpx.Client, spec: dict[str, Any]) -> None:
    path = "/v1/instruments/options/contracts"
    params = {"underlier": "AAPL", "expiry": "2025-12-19"}
    body = _ok(client.get(path, params=params), spec, path)
    contracts = body["data"]
    assert body["metadata"]["total_items"] == len(contracts) > 10
    strikes = [float(c["strike_price"]) for c in contracts]
    assert strikes == sorted(strikes)
    assert [c["contract_type"] for c in contracts[:2]] == ["CALL", "PUT"]
    call = next(c for c in contracts if c["symbol"] == AAPL_DEC_250_CALL)
    assert call == {
        "contract_type": "CALL",
        "currency": "USD",
        "exchange": "BATO",
        "exercise_style": "AMERICAN",
        "expiry": "2025-12-19",
        "id": str(stable_uuid("option", AAPL_DEC_250_CALL)),
        "is_liquidation_only": False,
        "is_marginable": True,
        "is_settle_on_open": False,
        "is_tradable": True,
        "last_trade_cutoff": "2025-12-19T21:00:00.000000000Z",
        "listing_type": "STANDARD",
        "multiplier": "100",
        "open_interest": call["open_interest"],
        "strike_price": "250",
        "symbol": AAPL_DEC_250_CALL,
        "underlying_instrument_id": AAPL_ID,
    }
    summary = client.get("/v1/market-data/daily-summary", params={"instrument_ids": call["id"]})
    assert call["open_interest"] == summary.json()["data"][0]["open_interest"] > 0
    puts = _ok(client.get(path, params={**params, "contract_type": "PUT"}), spec, path)["data"]
    assert len(puts) * 2 == len(contracts) and {c["contract_type"] for c in puts} == {"PUT"}
    by_id = _ok(client.get(path, params={"underlying_instrument_id": AAPL_ID}), spec, path)
    by_symbol = _ok(client.get(path, params={"underlying_instrument_id": "aapl"}), spec, path)
    assert by_id["data"] == by_symbol["data"] and len(by_id["data"]) > len(contracts)
    am = _ok(
        client.get(path, params={"underlier": "AAPL", "is_settle_on_open": "true"}), spec, path
    )
    assert am["data"] == []
    none = _ok(client.get(path, params={"underlier": "KO"}), spec, path)
    assert none["data"] == [] and none["metadata"]["total_items"] == 0


def test_option_contracts_by_id(client: httpx.Client, spec: dict[str, Any]) -> None:
    path = "/v1/instruments/options/contracts"
    wanted = [
        AAPL_DEC_250_CALL.replace(" ", ""),
        str(stable_uuid("option", "SPY   251219P00600000")),
    ]
    body = _ok(client.get(path, params={"contract_ids": ",".join([*wanted, "AAPL"])}), spec, path)
    assert _symbols(body) == [AAPL_DEC_250_CALL, "SPY   251219P00600000"]
    puts = client.get(path, params={"contract_ids": ",".join(wanted), "contract_type": "PUT"})
    assert _symbols(puts.json()) == ["SPY   251219P00600000"]
    too_many = ",".join([AAPL_DEC_250_CALL] * 101)
    assert_error(client.get(path, params={"contract_ids": too_many}), 400)


def test_option_contracts_need_exactly_one_identifier(client: httpx.Client) -> None:
    path = "/v1/instruments/options/contracts"
    assert_error(client.get(path), 400, NOT_ONE)
    assert_error(client.get(path, params={"expiry": "2025-12-19"}), 400, NOT_ONE)
    both = {"underlier": "AAPL", "underlying_instrument_id": AAPL_ID}
    assert_error(client.get(path, params=both), 400, NOT_ONE)
    assert_error(client.get(path, params={"underlier": "AAPL", "contract_ids": "x"}), 400, NOT_ONE)


def test_option_contracts_of_unknown_underlier_is_404(client: httpx.Client) -> None:
    path = "/v1/instruments/options/contracts"
    missing = "528ec5c3-cdbf-447c-b995-ec6c83cfbc03"
    response = client.get(path, params={"underlying_instrument_id": missing})
    assert_error(response, 404, f"Instrument not found: {missing}")
    assert_error(client.get(path, params={"underlier": "AAP"}), 404, "Instrument not found: AAP")
    assert_error(client.get(path, params={"underlier": AAPL_DEC_250_CALL}), 404)


def test_the_seeds_preferred_stock_type(client: httpx.Client, spec: dict[str, Any]) -> None:
    path = "/v1/instruments"
    body = _ok(client.get(path, params={"instrument_type": "PREFERRED_STOCK"}), spec, path)
    assert _symbols(body) == ["BAC.PRL", "JPM.PRC"]
    assert {i["instrument_type"] for i in body["data"]} == {"PREFERRED_STOCK"}
    other = _ok(client.get(path, params={"instrument_type": "OTHER"}), spec, path)
    assert other["data"] == []  # a valid filter that no listed instrument has
