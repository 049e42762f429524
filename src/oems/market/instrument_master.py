"""The instrument master: seeded US equities and ETFs, and option chains generated around them.

Equities and ETFs come from `data/equities.csv` shipped in the package. Option chains are generated
for the underliers the CSV marks `has_options`, relative to an `as_of` date: weekly Friday expiries
for the next six weeks and the standard monthly expiries (third Friday) for the next six months,
each moved to the previous trading day when the Friday is an exchange holiday. Strikes sit on the
listing increments around the underlier's reference price (within 25% for monthlies, 10% for
weeklies), with a CALL and a PUT at each.

Ids are stable across restarts and builds: equities are `stable_uuid("equity", symbol)`, options
`stable_uuid("option", osi)`. The master is immutable once built; building the full seed takes
about a tenth of a second (about 5,700 options).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from importlib import resources
from typing import Any

from oems.domain.decimals import CENT, plain
from oems.domain.ids import stable_uuid
from oems.domain.instruments import Instrument, OptionTerms, normalize_osi, osi_symbol
from oems.market.calendar import TradingCalendar
from oems.market.pricing import theo_value

EQUITY = "EQUITY"
OPTION = "OPTION"
COMMON_STOCK = "COMMON_STOCK"
OPTION_VENUE = "BATO"  # Cboe BZX Options, the listing venue the vendor's examples show
WEEKLY_WEEKS = 6
MONTHLY_MONTHS = 6
MONTHLY_BAND = Decimal("0.25")
WEEKLY_BAND = Decimal("0.10")
OPTION_LONG_MARGIN_RATE = Decimal("1.00")  # long options are paid in full

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_WORDS = {
    **{m.upper(): i + 1 for i, m in enumerate(_MONTHS)},
    **{
        name: i + 1
        for i, name in enumerate(
            (
                "JANUARY",
                "FEBRUARY",
                "MARCH",
                "APRIL",
                "MAY",
                "JUNE",
                "JULY",
                "AUGUST",
                "SEPTEMBER",
                "OCTOBER",
                "NOVEMBER",
                "DECEMBER",
            )
        )
    },
    "SEPT": 9,
}
_RIGHT_WORDS = {
    "C": "CALL",
    "CALL": "CALL",
    "CALLS": "CALL",
    "P": "PUT",
    "PUT": "PUT",
    "PUTS": "PUT",
}
_OSI_PREFIX = re.compile(r"^([A-Z.]{1,6})(\d{1,6}(?:[CP]\d{0,8})?)?$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


@dataclass(frozen=True, slots=True)
class _EquityRow:
    instrument: Instrument
    has_options: bool


def _flag(text: str) -> bool:
    return text.strip() == "1"


def _rate(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


@cache
def _seed_rows() -> tuple[_EquityRow, ...]:
    """The equities and ETFs of the packaged seed CSV, parsed once per process."""
    text = resources.files("oems.market").joinpath("data/equities.csv").read_text(encoding="utf-8")
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        symbol = rec["symbol"].strip().upper()
        instrument = Instrument(
            id=stable_uuid("equity", symbol),
            symbol=symbol,
            name=rec["name"].strip(),
            instrument_type=rec["instrument_type"].strip() or COMMON_STOCK,
            venue=rec["venue"].strip(),
            reference_price=Decimal(rec["reference_price"]),
            is_etf=_flag(rec["is_etf"]),
            country_of_issue=rec["country"].strip() or "US",
            currency="USD",
            is_marginable=_flag(rec["is_marginable"]),
            easy_to_borrow=_flag(rec["easy_to_borrow"]),
            is_short_prohibited=_flag(rec["is_short_prohibited"]),
            is_threshold_security=_flag(rec["is_threshold_security"]),
            is_liquidation_only=_flag(rec["is_liquidation_only"]),
            is_tradable=_flag(rec["is_tradable"]),
            is_fractionable=_flag(rec["is_fractionable"]),
            is_ptp=_flag(rec["is_ptp"]),
            long_margin_rate=_rate(rec["long_margin_rate"]),
            short_margin_rate=_rate(rec["short_margin_rate"]),
            volatility=Decimal(rec["volatility"]),
        )
        rows.append(_EquityRow(instrument, _flag(rec["has_options"])))
    rows.sort(key=lambda row: row.instrument.symbol)
    return tuple(rows)


def strike_increment(price: Decimal) -> Decimal:
    """The listing strike increment for an underlier trading at `price`."""
    if price < 25:
        return Decimal("0.5")
    if price < 100:
        return Decimal(1)
    if price < 200:
        return Decimal("2.5")
    if price < 500:
        return Decimal(5)
    if price < 1000:
        return Decimal(10)
    return Decimal(25)


def strikes_around(price: Decimal, band: Decimal) -> list[Decimal]:
    """Strikes on the listing increment within `price * (1 +- band)`, ascending."""
    step = strike_increment(price)
    low = math.ceil(price * (1 - band) / step)
    high = math.floor(price * (1 + band) / step)
    return [_plain_strike(step * k) for k in range(max(low, 1), high + 1)]


def _plain_strike(value: Decimal) -> Decimal:
    return Decimal(plain(value))


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def listed_expiries(as_of: dt.date, calendar: TradingCalendar) -> list[tuple[dt.date, bool]]:
    """Expiry dates listed on `as_of`, ascending, each with True when it is a standard monthly."""
    monthly: set[dt.date] = set()
    year, month = as_of.year, as_of.month
    while len(monthly) < MONTHLY_MONTHS:
        day = calendar.trading_day_on_or_before(_third_friday(year, month))
        if day >= as_of:
            monthly.add(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    weekly: set[dt.date] = set()
    friday = as_of + dt.timedelta(days=(4 - as_of.weekday()) % 7)
    horizon = as_of + dt.timedelta(weeks=WEEKLY_WEEKS)
    while friday <= horizon:
        day = calendar.trading_day_on_or_before(friday)
        if day >= as_of and day not in monthly:
            weekly.add(day)
        friday += dt.timedelta(days=7)
    return sorted([(d, True) for d in monthly] + [(d, False) for d in weekly])


def _seed_option_price(
    spot: Decimal, strike: Decimal, vol: Decimal, days: int, contract_type: str
) -> Decimal:
    """A Black-Scholes value to seed synthetic quotes, in cents and at least one cent."""
    years = max(days, 0.5) / 365.0
    value = theo_value(contract_type, float(spot), float(strike), years, float(vol))
    price = Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return max(price, CENT)


def option_name(root: str, expiry: dt.date, strike: Decimal, contract_type: str) -> str:
    """The display name of an option, e.g. `AAPL Dec 19 2025 150 Call`."""
    right = "Call" if contract_type == "CALL" else "Put"
    return f"{root} {_MONTHS[expiry.month - 1]} {expiry.day} {expiry.year} {plain(strike)} {right}"


def _make_option(
    underlier: Instrument, expiry: dt.date, strike: Decimal, contract_type: str, days: int
) -> Instrument:
    root = underlier.symbol
    osi = osi_symbol(root, expiry, contract_type, strike)
    return Instrument(
        id=stable_uuid("option", osi),
        symbol=osi,
        name=option_name(root, expiry, strike, contract_type),
        instrument_type=OPTION,
        venue=OPTION_VENUE,
        reference_price=_seed_option_price(
            underlier.reference_price, strike, underlier.volatility, days, contract_type
        ),
        country_of_issue=underlier.country_of_issue,
        currency=underlier.currency,
        is_marginable=underlier.is_marginable,
        easy_to_borrow=True,
        is_short_prohibited=False,
        is_threshold_security=False,
        is_liquidation_only=underlier.is_liquidation_only,
        is_tradable=underlier.is_tradable,
        is_fractionable=False,
        is_ptp=underlier.is_ptp,
        long_margin_rate=OPTION_LONG_MARGIN_RATE,
        short_margin_rate=None,
        volatility=underlier.volatility,
        option=OptionTerms(
            underlying_id=underlier.id,
            root=root,
            expiry=expiry,
            contract_type=contract_type,
            strike=strike,
        ),
    )


def build_option_chain(
    underlier: Instrument, expiries: Iterable[tuple[dt.date, bool]], as_of: dt.date
) -> list[Instrument]:
    """The listed options of `underlier`, sorted by (expiry, strike, CALL before PUT)."""
    chain: list[Instrument] = []
    monthly_strikes = strikes_around(underlier.reference_price, MONTHLY_BAND)
    weekly_strikes = strikes_around(underlier.reference_price, WEEKLY_BAND)
    for expiry, is_monthly in expiries:
        days = (expiry - as_of).days
        for strike in monthly_strikes if is_monthly else weekly_strikes:
            chain.append(_make_option(underlier, expiry, strike, "CALL", days))
            chain.append(_make_option(underlier, expiry, strike, "PUT", days))
    return chain


class InstrumentMaster:
    """Every instrument the server knows, indexed by id, ticker, OSI symbol and underlier."""

    def __init__(self, equities: Iterable[Instrument], options: Iterable[Instrument]) -> None:
        self._equities = sorted(equities, key=lambda i: i.symbol)
        by_underlier: dict[uuid.UUID, list[Instrument]] = {}
        for option in options:
            assert option.option is not None, f"{option.symbol} has no option terms"
            by_underlier.setdefault(option.option.underlying_id, []).append(option)
        self._by_id: dict[uuid.UUID, Instrument] = {}
        self._by_ticker: dict[str, Instrument] = {}
        self._by_osi: dict[str, Instrument] = {}
        self._chains: dict[uuid.UUID, list[Instrument]] = {}
        self._expiries: dict[uuid.UUID, list[dt.date]] = {}
        self._roots: dict[str, uuid.UUID] = {}
        self._options: list[Instrument] = []
        for equity in self._equities:
            self._by_id[equity.id] = equity
            self._by_ticker[equity.symbol] = equity
        for equity in self._equities:
            chain = by_underlier.pop(equity.id, None)
            if not chain:
                continue
            chain.sort(key=_chain_key)
            self._chains[equity.id] = chain
            self._expiries[equity.id] = sorted({_terms(o).expiry for o in chain})
            self._options.extend(chain)
            for option in chain:
                self._by_id[option.id] = option
                self._by_osi[option.symbol] = option
                self._roots[_terms(option).root] = equity.id
        if by_underlier:
            raise ValueError("options whose underlier is not in the master")
        self._all = [*self._equities, *self._options]
        self._rank = {inst.id: n for n, inst in enumerate(self._all)}

    def __len__(self) -> int:
        """How many instruments (equities and options) the master holds."""
        return len(self._all)

    def get(self, instrument_id: uuid.UUID) -> Instrument | None:
        """The instrument with this id, or None."""
        return self._by_id.get(instrument_id)

    def by_symbol(self, symbol: str) -> Instrument | None:
        """The equity with this ticker (any case) or the option with this OSI (padded or not)."""
        text = symbol.strip().upper()
        found = self._by_ticker.get(text)
        if found is not None:
            return found
        osi = normalize_osi(text)
        if osi is not None:
            return self._by_osi.get(osi)
        for sep in ("/", "-", " "):  # BRK/B, BRK-B, BRK B -> BRK.B
            if sep in text:
                return self._by_ticker.get(text.replace(sep, "."))
        return None

    def resolve(self, text: str) -> Instrument | None:
        """Resolve an `InstrumentIdOrSymbol`: a UUID, an equity ticker or an OSI option symbol."""
        text = text.strip()
        if not text:
            return None
        if len(text) >= 32:
            try:
                return self._by_id.get(uuid.UUID(text))
            except ValueError:
                pass
        return self.by_symbol(text)

    def equities(self) -> list[Instrument]:
        """All equities and ETFs, in symbol order."""
        return list(self._equities)

    def options(self) -> list[Instrument]:
        """All options, by underlier symbol then (expiry, strike, CALL before PUT)."""
        return list(self._options)

    def all(self) -> list[Instrument]:
        """Every instrument: equities in symbol order, then options in `options()` order."""
        return list(self._all)

    def options_of(self, underlying_id: uuid.UUID) -> list[Instrument]:
        """The listed options of an underlier, sorted by (expiry, strike, CALL before PUT)."""
        return list(self._chains.get(underlying_id, ()))

    def expiry_dates(self, underlying_id: uuid.UUID) -> list[dt.date]:
        """The distinct expiry dates listed for an underlier, ascending (empty when none)."""
        return list(self._expiries.get(underlying_id, ()))

    def expiring_on(self, day: dt.date) -> list[Instrument]:
        """Every option that expires on `day`, in `options()` order."""
        return [o for o in self._options if _terms(o).expiry == day]

    def underliers(self) -> list[Instrument]:
        """The equities that have listed options, in symbol order."""
        return [e for e in self._equities if e.id in self._chains]

    def search(
        self,
        q: str,
        asset_classes: set[str] | frozenset[str] = frozenset({EQUITY}),
        *,
        include_inactive: bool = False,
        include_ptp: bool = True,
        currency: str | None = None,
        country: str | None = None,
    ) -> list[Instrument]:
        """Instruments matching `q`, best first: exact symbol, symbol prefix, name or phrase."""
        text = q.strip().upper()
        if not text:
            return []
        want_currency = currency.strip().upper() if currency else None
        want_country = country.strip().upper() if country else None

        def wanted(inst: Instrument) -> bool:
            return (
                (include_inactive or inst.is_tradable)
                and (include_ptp or not inst.is_ptp)
                and (not want_currency or inst.currency.upper() == want_currency)
                and (not want_country or inst.country_of_issue.upper() == want_country)
            )

        results: dict[uuid.UUID, Instrument] = {}
        for _, inst in sorted(self._scored(text, asset_classes), key=lambda pair: pair[0]):
            if inst.id not in results and wanted(inst):
                results[inst.id] = inst
        return list(results.values())

    def _scored(
        self, text: str, asset_classes: set[str] | frozenset[str]
    ) -> Iterator[tuple[tuple[int, int, int, int], Instrument]]:
        """Each match with its sort key: (tier, PTP last, shorter symbol first, listing rank)."""
        if EQUITY in asset_classes:
            for inst in self._equities:
                tier = _equity_tier(inst, text)
                if tier is not None:
                    yield (tier, int(inst.is_ptp), len(inst.symbol), self._rank[inst.id]), inst
        if OPTION in asset_classes:
            for tier, inst in self._search_options(text):
                yield (tier, int(inst.is_ptp), 0, self._rank[inst.id]), inst

    def _search_options(self, text: str) -> list[tuple[int, Instrument]]:
        """Options matching `text`: exact OSI (tier 0), OSI prefix (1), root-scoped phrase (2)."""
        found: list[tuple[int, Instrument]] = []
        osi = normalize_osi(text)
        exact = self._by_osi.get(osi) if osi else None
        if exact is not None:
            found.append((0, exact))
        compact = text.replace(" ", "")
        match = _OSI_PREFIX.match(compact)
        if match is not None and match.group(1) in self._roots:
            root, tail = match.group(1), match.group(2) or ""
            chain = self._chains[self._roots[root]]
            found.extend((1, o) for o in chain if o.symbol[6:].startswith(tail) and o is not exact)
        tokens = text.replace(",", " ").split()
        if len(tokens) > 1 and tokens[0] in self._roots:
            chain = self._chains[self._roots[tokens[0]]]
            predicate = _phrase_predicate(tokens[1:])
            if predicate is not None:
                found.extend((2, o) for o in chain if predicate(_terms(o)))
        return found


def _terms(option: Instrument) -> OptionTerms:
    assert option.option is not None
    return option.option


def _chain_key(option: Instrument) -> tuple[dt.date, Decimal, int]:
    terms = _terms(option)
    return terms.expiry, terms.strike, 0 if terms.contract_type == "CALL" else 1


def _equity_tier(inst: Instrument, text: str) -> int | None:
    """How well an equity matches an upper-cased query: 0 exact symbol .. 3 name substring."""
    ticker = text.replace("/", ".").replace("-", ".")  # BRK/B, BRK-B -> BRK.B
    if inst.symbol == ticker:
        return 0
    if inst.symbol.startswith(ticker):
        return 1
    name = inst.name.upper()
    if name.startswith(text):
        return 2
    if text in name:
        return 3
    return None


@dataclass(frozen=True, slots=True)
class _Phrase:
    """What a phrase like `DEC 19 2025 250 CALL` pins down of an option's terms."""

    right: str | None = None
    month: int | None = None
    day: int | None = None
    year: int | None = None
    expiry: dt.date | None = None
    strike: Decimal | None = None

    def matches(self, terms: OptionTerms) -> bool:
        """True when the option's terms agree with every part the phrase names."""
        expiry = terms.expiry
        return (
            (self.right is None or terms.contract_type == self.right)
            and (self.strike is None or terms.strike == self.strike)
            and (self.expiry is None or expiry == self.expiry)
            and (self.month is None or expiry.month == self.month)
            and (self.day is None or expiry.day == self.day)
            and (self.year is None or expiry.year == self.year)
        )


def _phrase_predicate(tokens: list[str]) -> Callable[[OptionTerms], bool] | None:
    """A filter on option terms from words like `DEC 19 2025 250 CALL`; None if unparseable."""
    words = _phrase_words(tokens)
    if words is None:
        return None
    named, numbers = words
    if len(numbers) == 2 and "month" in named:
        named["day"], named["strike"] = int(numbers[0]), numbers[1]
    elif len(numbers) == 1:
        named["strike"] = numbers[0]
    elif numbers:
        return None
    return _Phrase(**named).matches


def _phrase_words(tokens: list[str]) -> tuple[dict[str, Any], list[Decimal]] | None:
    """The terms the words name (right, month, year, ISO expiry) and the bare numbers, in order;
    None when a word is none of these."""
    named: dict[str, Any] = {}
    numbers: list[Decimal] = []
    for token in tokens:
        if token in _RIGHT_WORDS:
            named["right"] = _RIGHT_WORDS[token]
        elif token in _MONTH_WORDS:
            named["month"] = _MONTH_WORDS[token]
        elif len(token) == 10 and token[4] == "-":
            try:
                named["expiry"] = dt.date.fromisoformat(token)
            except ValueError:
                return None
        elif len(token) == 4 and token.isdigit() and 1990 <= int(token) <= 2099:
            named["year"] = int(token)
        elif _NUMBER.match(token.lstrip("$")):
            numbers.append(Decimal(token.lstrip("$")))
        else:
            return None
    return named, numbers


def build_instrument_master(as_of: dt.date, calendar: TradingCalendar) -> InstrumentMaster:
    """The seeded master: the packaged equities and ETFs, and their option chains as of `as_of`."""
    rows = _seed_rows()
    expiries = listed_expiries(as_of, calendar)
    options: list[Instrument] = []
    for row in rows:
        if row.has_options:
            options.extend(build_option_chain(row.instrument, expiries, as_of))
    return InstrumentMaster([row.instrument for row in rows], options)
