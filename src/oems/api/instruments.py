"""Instrument endpoints: list, details, search, and listed option contracts.

Every parameter the contract types `InstrumentIdOrSymbol` resolves a UUID, an equity ticker or an
OSI option symbol (padded or not) through the instrument master. Lists are ordered as the master
orders them (equities by symbol, then options by underlier, expiry, strike, CALL before PUT);
search results keep their ranking. Page tokens carry the position in that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from oems.api.pagination import fingerprint, paginate
from oems.api.params import Query
from oems.api.wire import USER, Call, Reply, Routes
from oems.domain.decimals import fixed, plain, price
from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.instruments import SECURITY_TYPES, Instrument
from oems.domain.timefmt import format_ns
from oems.market.calendar import REGULAR, TradingCalendar
from oems.market.instrument_master import EQUITY, OPTION, InstrumentMaster
from oems.market.quotes import Reference

routes = Routes()

ASSET_CLASSES = ("EQUITY", "OPTION", "WARRANT", "BOND", "FX", "OTHER")
CONTRACT_TYPES = ("CALL", "PUT")
LIST_FLAGS = (
    "is_marginable",
    "easy_to_borrow",
    "is_short_prohibited",
    "is_threshold_security",
    "is_liquidation_only",
    "is_ptp",
)
MAX_CONTRACT_IDS = 100
SEARCH_MAX_PAGE_SIZE = 100
ONE_IDENTIFIER = (
    "Exactly one identifier must be provided: underlier, underlying_instrument_id, or contract_ids"
)


def not_found(text: str) -> NotFound:
    """The contract's 404 for an identifier that names no instrument."""
    return NotFound(f"Instrument not found: {text}")


def _rate(value: Decimal | None) -> str | None:
    return fixed(value, 2) if value is not None else None


def render_instrument(inst: Instrument, reference: Reference) -> dict[str, Any]:
    """The vendor `Instrument` (and `InstrumentCore`, the same fields): reference data, margin
    rates, and the figures market data gives (`previous_close`, `adv`, `notional_adv`)."""
    close = reference.previous_close
    adv = reference.adv
    notional = adv * close * inst.multiplier if adv is not None and close is not None else None
    return {
        "adv": str(adv) if adv is not None else None,
        "cax_adjusted_previous_close": None,  # no corporate actions are simulated
        "country_of_issue": inst.country_of_issue,
        "currency": inst.currency,
        "easy_to_borrow": inst.easy_to_borrow,
        "id": str(inst.id),
        "instrument_type": inst.instrument_type,
        "is_fractionable": inst.is_fractionable,
        "is_liquidation_only": inst.is_liquidation_only,
        "is_marginable": inst.is_marginable,
        "is_ptp": inst.is_ptp,
        "is_short_prohibited": inst.is_short_prohibited,
        "is_threshold_security": inst.is_threshold_security,
        "is_tradable": inst.is_tradable,
        "long_margin_rate": _rate(inst.long_margin_rate),
        "name": inst.name,
        "notional_adv": fixed(notional, 0) if notional is not None else None,
        "previous_close": price(close) if close is not None else None,
        "short_margin_rate": _rate(inst.short_margin_rate),
        "symbol": inst.symbol,
        "venue": inst.venue,
    }


def _rendered(call: Call, instruments: Iterable[Instrument]) -> list[dict[str, Any]]:
    """Each instrument rendered with the market figures of the trading day in force now."""
    market = call.runtime.market_data
    now = call.runtime.engine.now_ns()
    return [render_instrument(inst, market.reference(inst, now)) for inst in instruments]


def render_expiry_dates(master: InstrumentMaster, inst: Instrument, out: dict[str, Any]) -> None:
    """Add `options_expiry_dates` and `options_contract_expiry_dates` (null for an option)."""
    if inst.is_option:
        out["options_contract_expiry_dates"] = None
        out["options_expiry_dates"] = None
        return
    chain = master.options_of(inst.id)
    settles: dict[str, set[bool]] = {}
    for option in chain:
        assert option.option is not None
        settles.setdefault(option.option.expiry.isoformat(), set()).add(
            option.option.is_settle_on_open
        )
    out["options_contract_expiry_dates"] = [
        {"date": day, "has_settles_on_close": False in kinds, "has_settles_on_open": True in kinds}
        for day, kinds in settles.items()
    ]
    out["options_expiry_dates"] = list(settles)


def render_contract(
    inst: Instrument, reference: Reference, calendar: TradingCalendar | None = None
) -> dict[str, Any]:
    """The vendor `OptionsContract`; `last_trade_cutoff` is the expiry day's regular close,
    `open_interest` the trading day's in force (null where market data does not know it)."""
    terms = inst.option
    assert terms is not None, f"{inst.symbol} is not an option"
    out: dict[str, Any] = {
        "contract_type": terms.contract_type,
        "currency": inst.currency,
        "exchange": inst.venue,
        "exercise_style": terms.exercise_style,
        "expiry": terms.expiry.isoformat(),
        "id": str(inst.id),
        "is_liquidation_only": inst.is_liquidation_only,
        "is_marginable": inst.is_marginable,
        "is_settle_on_open": terms.is_settle_on_open,
        "is_tradable": inst.is_tradable,
        "listing_type": "STANDARD",
        "multiplier": plain(terms.multiplier),
        "open_interest": reference.open_interest,
        "strike_price": plain(terms.strike),
        "symbol": inst.symbol,
        "underlying_instrument_id": str(terms.underlying_id),
    }
    if calendar is not None:
        try:
            session = calendar.day(terms.expiry).sessions.get(REGULAR)
        except ValueError:
            session = None
        if session is not None:
            out["last_trade_cutoff"] = format_ns(session[1])
    return out


def _indexed(items: Iterable[Instrument]) -> list[tuple[int, Instrument]]:
    return list(enumerate(items))


def _page(
    query: Query,
    items: Sequence[tuple[int, Instrument]],
    filters: str,
    max_page_size: int = 1000,
) -> tuple[list[Instrument], dict[str, Any]]:
    page_size = query.integer("page_size", None, 1, max_page_size)
    page, meta = paginate(
        items,
        lambda pair: pair[0],
        page_size,
        query.string("page_token"),
        filters,
        max_page_size=max_page_size,
    )
    return [inst for _, inst in page], meta


def _resolve_all(master: InstrumentMaster, texts: Iterable[str]) -> list[Instrument]:
    """The distinct instruments `texts` name, in request order; unknown identifiers are skipped."""
    found: list[Instrument] = []
    seen = set()
    for text in texts:
        inst = master.resolve(text)
        if inst is not None and inst.id not in seen:
            seen.add(inst.id)
            found.append(inst)
    return found


@routes.get(USER, "/v1/instruments")
async def get_instruments(call: Call) -> Any:
    """Instruments, filtered by type, identifiers and reference flags, in master order."""
    query = Query(call.query)
    master = call.runtime.instruments
    instrument_type = query.choice("instrument_type", SECURITY_TYPES)
    ids = query.csv("instrument_ids")
    flags = {name: query.boolean(name) for name in LIST_FLAGS}
    wanted = {name: value for name, value in flags.items() if value is not None}
    chosen = {inst.id for inst in _resolve_all(master, ids)} if ids else None

    def matches(inst: Instrument) -> bool:
        if instrument_type is not None and inst.instrument_type != instrument_type:
            return False
        if chosen is not None and inst.id not in chosen:
            return False
        return all(getattr(inst, name) is value for name, value in wanted.items())

    everything = enumerate(master.all())
    filtered = instrument_type is not None or chosen is not None or wanted
    items = [(n, inst) for n, inst in everything if matches(inst)] if filtered else list(everything)
    page, meta = _page(query, items, fingerprint("instruments", instrument_type, ids, wanted))
    return Reply(_rendered(call, page), meta)


def _asset_classes(query: Query) -> set[str]:
    raw = query.csv("asset_class")
    if not raw:
        return {EQUITY}
    classes = set()
    for value in raw:
        upper = value.upper()
        if upper not in ASSET_CLASSES:
            expected = ", ".join(f"`{a}`" for a in ASSET_CLASSES)
            raise InvalidRequest(
                "Failed to deserialize query string: asset_class: "
                f"unknown variant `{value}`, expected one of {expected}"
            )
        classes.add(upper)
    return classes


@routes.get(USER, "/v1/instruments/search")
async def search_instruments(call: Call) -> Any:
    """Instruments matching `q` by symbol, OSI symbol or prefix, option phrase, or company name."""
    query = Query(call.query)
    q = query.string("q", required=True) or ""
    classes = _asset_classes(query)
    include_inactive = bool(query.boolean("include_inactive", False))
    include_ptp = bool(query.boolean("include_ptp", True))
    currency = query.string("currency") or None
    country = query.string("country") or None
    results = call.runtime.instruments.search(
        q,
        classes & {EQUITY, OPTION},
        include_inactive=include_inactive,
        include_ptp=include_ptp,
        currency=currency,
        country=country,
    )
    filters = fingerprint(
        "search", q, sorted(classes), include_inactive, include_ptp, currency, country
    )
    page, meta = _page(query, _indexed(results), filters, SEARCH_MAX_PAGE_SIZE)
    return Reply(_rendered(call, page), meta)


@routes.get(USER, "/v1/instruments/options/contracts")
async def get_option_contracts(call: Call) -> Any:
    """Listed contracts of one underlier, or the contracts named, filtered by expiry and type."""
    query = Query(call.query)
    master = call.runtime.instruments
    underlier = (query.string("underlier") or "").strip()
    underlying_id = (query.string("underlying_instrument_id") or "").strip()
    contract_ids = query.csv("contract_ids")
    if sum(1 for given in (underlier, underlying_id, contract_ids) if given) != 1:
        raise InvalidRequest(ONE_IDENTIFIER)
    expiry = query.date("expiry")
    contract_type = query.choice("contract_type", CONTRACT_TYPES)
    settle_on_open = query.boolean("is_settle_on_open")
    if contract_ids:
        if len(contract_ids) > MAX_CONTRACT_IDS:
            raise InvalidRequest(
                f"Failed to deserialize query string: contract_ids: at most {MAX_CONTRACT_IDS} "
                f"values are allowed, got {len(contract_ids)}"
            )
        contracts = [found for found in _resolve_all(master, contract_ids) if found.is_option]
    else:
        text = underlier or underlying_id
        base = master.by_symbol(text) if underlier else master.resolve(text)
        if base is None or base.is_option:
            raise not_found(text)
        contracts = master.options_of(base.id)
    selected = []
    for option in contracts:
        terms = option.option
        assert terms is not None
        if expiry is not None and terms.expiry != expiry:
            continue
        if contract_type is not None and terms.contract_type != contract_type:
            continue
        if settle_on_open is not None and terms.is_settle_on_open is not settle_on_open:
            continue
        selected.append(option)
    filters = fingerprint(
        "contracts", underlier, underlying_id, contract_ids, expiry, contract_type, settle_on_open
    )
    page, meta = _page(query, _indexed(selected), filters)
    calendar = call.runtime.calendar
    market = call.runtime.market_data
    now = call.runtime.engine.now_ns()
    return Reply(
        [render_contract(option, market.reference(option, now), calendar) for option in page],
        meta,
    )


@routes.get(USER, "/v1/instruments/{instrument_id}")
async def get_instrument(call: Call) -> Any:
    """One instrument by UUID, ticker or OSI symbol; optionally with its option expiry dates."""
    query = Query(call.query)
    master = call.runtime.instruments
    text = call.path_param("instrument_id")
    include_expiries = query.boolean("include_options_expiry_dates", False)
    inst = master.resolve(text)
    if inst is None:
        raise not_found(text)
    (out,) = _rendered(call, [inst])
    if include_expiries:
        render_expiry_dates(master, inst, out)
    return out
