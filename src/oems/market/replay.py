"""Replayed market data: replay CSV rows parsed and checked, each symbol's series of quotes and
daily trades, the `replay:FILE` source, and the overlay of rows replayed into a running server.

Where the server keeps the rows replayed into it (`<db>.replay.csv`) is storage:
`oems.store.replay_log` writes and repairs that file; this module parses it.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from oems.domain.decimals import PRICE, parse_decimal
from oems.domain.instruments import Instrument, normalize_osi
from oems.domain.timefmt import format_ns, parse_iso, to_datetime
from oems.market.calendar import EASTERN
from oems.market.quotes import DailyBar, Quote, Resolver, option_quote, spot_price

REPLAY_COLUMNS = ("ts", "symbol", "bid", "ask", "bid_size", "ask_size", "last", "last_size")


class ReplayRowError(ValueError):
    """A replay row that cannot be played: the `field` at fault and why (`message`).

    `index` is the row's position in the batch being loaded, when a batch is being loaded.
    """

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.index = index


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One parsed replay row. A None field was empty: the symbol keeps its previous value."""

    ts_ns: int
    symbol: str  # as the instrument master spells it: upper case, padded OSI for options
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int | None
    ask_size: int | None
    last: Decimal | None
    last_size: int | None

    def fields(self) -> list[str]:
        """The row as replay CSV fields, in `REPLAY_COLUMNS` order (`parse_replay_row` reads
        them back to an equal row; prices keep the digits they were given)."""
        return [
            format_ns(self.ts_ns),
            self.symbol,
            *("" if value is None else str(value) for value in (self.bid, self.ask)),
            *("" if value is None else str(value) for value in (self.bid_size, self.ask_size)),
            "" if self.last is None else str(self.last),
            "" if self.last_size is None else str(self.last_size),
        ]


def parse_replay_row(fields: Sequence[str]) -> ReplayRow:
    """Parse the eight text fields of a replay row (`REPLAY_COLUMNS` order, empty = keep).

    Raises `ReplayRowError` naming the first field that is not acceptable.
    """
    ts_text, symbol_text, bid, ask, bid_size, ask_size, last, last_size = (
        text.strip() for text in fields
    )
    try:
        ts = parse_iso(ts_text)
    except ValueError:
        raise ReplayRowError("ts", f"invalid timestamp `{ts_text}`") from None
    symbol = _canonical(symbol_text)
    if not symbol:
        raise ReplayRowError("symbol", "missing symbol")
    row_bid = _replay_price(bid, "bid")
    row_ask = _replay_price(ask, "ask")
    row_bid_size = _replay_size(bid_size, "bid_size")
    row_ask_size = _replay_size(ask_size, "ask_size")
    row_last = _replay_price(last, "last")
    if row_last is None and last_size:
        raise ReplayRowError("last_size", "last_size given without last")
    return ReplayRow(
        ts,
        symbol,
        row_bid,
        row_ask,
        row_bid_size,
        row_ask_size,
        row_last,
        _replay_size(last_size, "last_size"),
    )


def _replay_price(text: str, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = parse_decimal(text, PRICE)
    except ValueError:
        raise ReplayRowError(name, f"invalid {name} `{text}`") from None
    if value <= 0:
        raise ReplayRowError(name, f"{name} must be positive, got `{text}`")
    return value


def _replay_size(text: str, name: str) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ReplayRowError(name, f"invalid {name} `{text}`") from None
    if value < 0:
        raise ReplayRowError(name, f"{name} must not be negative, got `{text}`")
    return value


def read_replay_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, the eight fields in `REPLAY_COLUMNS` order) of each non-blank row of a
    replay CSV; its header names the columns (any order, extra columns ignored).

    Raises ValueError (`FILE:LINE: ...`) on an empty file or a header lacking a column.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty replay file (expected a header line)")
        names = [name.strip().lower() for name in header]
        missing = [column for column in REPLAY_COLUMNS if column not in names]
        if missing:
            raise ValueError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
        where = [names.index(column) for column in REPLAY_COLUMNS]
        for record in reader:
            if not record or all(not field.strip() for field in record):
                continue
            if len(record) != len(names):
                # A short row would play its missing fields as empty (keep the previous value):
                # an `ask_size` of 0 that nobody wrote. Refuse it, naming the line.
                raise ValueError(
                    f"{path}:{reader.line_num}: {len(record)} fields, but the header has "
                    f"{len(names)} ({','.join(names)})"
                )
            yield reader.line_num, [record[i] for i in where]


def _carried_quote(
    bid: Decimal | None, ask: Decimal | None, row: ReplayRow
) -> tuple[Decimal | None, Decimal | None]:
    """The bid and ask after `row` (its empty sides keep the previous ones); refuses a crossed
    quote, blaming the side the row gave."""
    bid = row.bid if row.bid is not None else bid
    ask = row.ask if row.ask is not None else ask
    if bid is not None and ask is not None and bid > ask:
        field = "bid" if row.bid is not None else "ask"
        raise ReplayRowError(field, f"crossed quote: bid {bid} > ask {ask}")
    return bid, ask


class _DayRange(NamedTuple):
    """A trading day's trades up to one of them: the high, the low and that trade's price."""

    high: Decimal
    low: Decimal
    close: Decimal


class _Series:
    """One symbol's replayed rows in time order: the quote in force after each, and running
    per-day trade aggregates (US/Eastern dates) for the daily bars.

    `add` plays one more row, carrying the fields it leaves empty over from the rows before.
    """

    __slots__ = (
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "day",
        "day_hilo",
        "day_open",
        "last",
        "last_size",
        "quotes",
        "trade_day",
        "trade_hilo",
        "trade_open",
        "trade_ts",
        "trade_vol",
        "ts",
        "volume",
    )

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.quotes: list[Quote] = []
        self.trade_ts: list[int] = []
        self.trade_day: list[dt.date] = []
        self.trade_open: list[Decimal] = []
        self.trade_hilo: list[_DayRange] = []
        self.trade_vol: list[int] = []
        # What the next row carries over:
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        self.bid_size = self.ask_size = self.last_size = 0
        self.last: Decimal | None = None
        self.day: dt.date | None = None  # the date of the latest row, and its volume so far
        self.volume = 0
        self.day_open = Decimal(0)  # the latest trade day's first trade, high and low
        self.day_hilo = (Decimal(0), Decimal(0))

    def add(self, row: ReplayRow) -> None:
        """Play `row`, which is not earlier than any row played before; `ReplayRowError` on a
        crossed quote (the series is then unchanged)."""
        ts = row.ts_ns
        if self.ts and ts < self.ts[-1]:
            raise ValueError("replay rows must be added in time order")
        self.bid, self.ask = _carried_quote(self.bid, self.ask, row)
        if row.bid_size is not None:
            self.bid_size = row.bid_size
        if row.ask_size is not None:
            self.ask_size = row.ask_size
        date = _market_date(ts)
        if date != self.day:
            self.day, self.volume = date, 0
        trade = row.last
        if trade is not None:
            self.last = trade
            self.last_size = row.last_size or 0
            self.volume += self.last_size
            if not self.trade_day or self.trade_day[-1] != date:
                self.day_open = trade
                high = low = trade
            else:
                high, low = self.day_hilo
            high, low = max(high, trade), min(low, trade)
            self.day_hilo = (high, low)
            self.trade_ts.append(ts)
            self.trade_day.append(date)
            self.trade_open.append(self.day_open)
            self.trade_hilo.append(_DayRange(high, low, trade))
            self.trade_vol.append(self.volume)
        self.ts.append(ts)
        self.quotes.append(
            Quote(
                self.bid,
                self.ask,
                self.bid_size,
                self.ask_size,
                self.last,
                self.last_size,
                self.volume,
                ts,
            )
        )

    def quote(self, now_ns: int) -> Quote | None:
        """The quote after the latest row at or before `now_ns`, or None before the first."""
        i = bisect.bisect_right(self.ts, now_ns) - 1
        return self.quotes[i] if i >= 0 else None

    def daily_bar(self, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The trades of `date` up to `as_of_ns`; None when there were none."""
        # The last trade at or before as_of that is not after `date` (trade_day is sorted too).
        j = min(
            bisect.bisect_right(self.trade_ts, as_of_ns),
            bisect.bisect_right(self.trade_day, date),
        )
        j -= 1
        if j < 0 or self.trade_day[j] != date:
            return None
        first = bisect.bisect_left(self.trade_day, date)
        high, low, close = self.trade_hilo[j]
        previous_close = self.trade_hilo[first - 1].close if first > 0 else None
        return DailyBar(
            trade_date=date,
            open=self.trade_open[j],
            high=high,
            low=low,
            close=close,
            volume=self.trade_vol[j],
            previous_close=previous_close,
        )


def _market_date(ns: int) -> dt.date:
    return to_datetime(ns).astimezone(EASTERN).date()


def _series_of(series: dict[str, _Series], instrument: Instrument) -> _Series | None:
    return series.get(instrument.symbol) or series.get(_canonical(instrument.symbol))


class ReplaySource:
    """Quotes and trades from a CSV file, played against the clock.

    Format (UTF-8, with this header; columns in any order, extra columns ignored)::

        ts,symbol,bid,ask,bid_size,ask_size,last,last_size
        2026-03-02T14:30:00.000000000Z,AAPL,210.10,210.14,300,200,210.12,100
        2026-03-02T14:30:01Z,AAPL,,,,,210.13,50
        2026-03-02T14:30:02Z,AAPL  260320C00200000,11.20,11.40,12,8,,

    `ts` is an ISO-8601 instant (UTC unless it carries an offset, nanoseconds kept); `symbol` is
    an equity ticker or an OSI option symbol (padded or not). Prices are decimals, sizes
    non-negative integers. An empty field keeps that symbol's previous value, so a trade-only row
    (only `last`/`last_size`) keeps the last bid and ask. A row with `last` is a trade of
    `last_size`: trades make the cumulative day volume (US/Eastern dates) and the daily bars.
    Rows need not be sorted. The quote at time t is the latest row with ts <= t for the symbol.

    With `master_lookup`, an option absent from the file is valued with Black–Scholes from its
    underlier's replayed price.
    """

    def __init__(self, path: str | Path, master_lookup: Resolver | None = None) -> None:
        self.path = Path(path)
        self.resolve = master_lookup
        self._series: dict[str, _Series] = {}
        self._load()

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The latest replayed row at or before `now_ns`, or a Black–Scholes value for options."""
        series = _series_of(self._series, instrument)
        if series is None:
            return self._valued_option(instrument, now_ns)
        return series.quote(now_ns)

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The trades of `date` up to `as_of_ns`; None when there were none."""
        series = _series_of(self._series, instrument)
        return series.daily_bar(date, as_of_ns) if series is not None else None

    def _valued_option(self, option: Instrument, now_ns: int) -> Quote | None:
        terms = option.option
        if terms is None or self.resolve is None or _market_date(now_ns) > terms.expiry:
            return None
        underlier = self.resolve(str(terms.underlying_id))
        if underlier is None:
            return None
        spot = spot_price(self.quote(underlier, now_ns))
        if spot is None or spot <= 0:
            return None
        return option_quote(option, float(spot), now_ns)

    def _load(self) -> None:
        rows: dict[str, list[tuple[ReplayRow, int]]] = {}
        for line, fields in read_replay_csv(self.path):
            try:
                row = parse_replay_row(fields)
            except ReplayRowError as exc:
                raise ValueError(f"{self.path}:{line}: {exc.message}") from None
            rows.setdefault(row.symbol, []).append((row, line))
        for symbol, entries in rows.items():
            entries.sort(key=lambda entry: entry[0].ts_ns)  # stable: file order breaks ties
            series = _Series()
            for row, line in entries:
                try:
                    series.add(row)
                except ReplayRowError as exc:
                    raise ValueError(f"{self.path}:{line}: {exc.message}") from None
            self._series[symbol] = series


class ReplayOverlay:
    """Replayed rows loaded into a running server, which `MarketData` consults after pinned
    quotes and before its source.

    A symbol follows its replayed rows from its first one on (quotes and daily bars); before
    that instant, and for symbols never replayed, the source answers. Batches may arrive in any
    time order: a batch that reaches back before a symbol's latest row rebuilds that symbol's
    series from all its rows (ties keep arrival order), otherwise it is appended.
    """

    def __init__(self) -> None:
        self.series: dict[str, _Series] = {}  # by symbol; read only outside the overlay
        self._rows: dict[str, list[ReplayRow]] = {}  # kept to rebuild a series out of order
        self.row_count = 0
        self._version = 0  # bumped by every commit: a batch prepared before one is stale

    def __bool__(self) -> bool:
        return bool(self.series)

    def symbols(self) -> list[str]:
        """The replayed symbols, sorted."""
        return sorted(self.series)

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The latest replayed row at or before `now_ns`; None where the source answers."""
        series = _series_of(self.series, instrument)
        return series.quote(now_ns) if series is not None else None

    def covers(self, instrument: Instrument, now_ns: int) -> bool:
        """True when `instrument` has a replayed row at or before `now_ns`."""
        series = _series_of(self.series, instrument)
        return series is not None and series.ts[0] <= now_ns

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The replayed trades of `date` up to `as_of_ns`; None when there were none."""
        series = _series_of(self.series, instrument)
        return series.daily_bar(date, as_of_ns) if series is not None else None

    def prepare(self, rows: Sequence[ReplayRow]) -> ReplayBatch:
        """Check `rows` against what is loaded and build what merging them takes; changes
        nothing. `ReplayRowError` (with the row's `index` in `rows`) on a crossed quote."""
        by_symbol: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            by_symbol.setdefault(row.symbol, []).append(i)
        appends: dict[str, list[ReplayRow]] = {}
        rebuilds: dict[str, _Rebuilt] = {}
        for symbol, indexes in by_symbol.items():
            indexes.sort(key=lambda i: rows[i].ts_ns)  # stable: arrival order breaks ties
            current = self.series.get(symbol)
            if current is None or rows[indexes[0]].ts_ns >= current.ts[-1]:
                bid = ask = None
                if current is not None:
                    bid, ask = current.bid, current.ask
                for i in indexes:
                    try:
                        bid, ask = _carried_quote(bid, ask, rows[i])
                    except ReplayRowError as exc:
                        raise ReplayRowError(exc.field, exc.message, i) from None
                appends[symbol] = [rows[i] for i in indexes]
            else:
                rebuilds[symbol] = self._rebuild(symbol, rows, indexes)
        return ReplayBatch(self, self._version, len(rows), appends, rebuilds)

    def _rebuild(self, symbol: str, rows: Sequence[ReplayRow], indexes: list[int]) -> _Rebuilt:
        entries: list[tuple[ReplayRow, int | None]] = [(row, None) for row in self._rows[symbol]]
        entries += [(rows[i], i) for i in indexes]
        entries.sort(key=lambda entry: entry[0].ts_ns)  # stable: loaded rows first on ties
        series = _Series()
        blame = indexes[0]  # the latest new row played: what changed an old row's carry-over
        for row, index in entries:
            if index is not None:
                blame = index
            try:
                series.add(row)
            except ReplayRowError as exc:
                raise ReplayRowError(exc.field, exc.message, blame) from None
        return _Rebuilt(series, [row for row, _ in entries])

    def _commit(self, batch: ReplayBatch) -> None:
        if batch.version != self._version:
            raise RuntimeError("the replay overlay changed since this batch was prepared")
        self._version += 1
        for symbol, added in batch.appends.items():
            series = self.series.get(symbol)
            if series is None:
                series = self.series[symbol] = _Series()
                self._rows[symbol] = []
            for row in added:
                series.add(row)
            self._rows[symbol].extend(added)
        for symbol, rebuilt in batch.rebuilds.items():
            self.series[symbol] = rebuilt.series
            self._rows[symbol] = rebuilt.rows
        self.row_count += batch.row_count

    def rows_without(self, symbols: Sequence[str] | None) -> list[ReplayRow]:
        """Every loaded row except those of `symbols` (None: of every symbol), in time order per
        symbol: what `<db>.replay.csv` keeps once those symbols are forgotten."""
        dropped = set(self.series) if symbols is None else set(symbols)
        return [row for symbol, rows in self._rows.items() if symbol not in dropped for row in rows]

    def forget(self, symbols: Sequence[str] | None) -> list[str]:
        """Drop the replayed rows of `symbols` (None: all); they follow their source again.
        Returns the symbols that had rows, sorted."""
        gone = sorted(self.series if symbols is None else set(symbols) & set(self.series))
        for symbol in gone:
            del self.series[symbol]
            self.row_count -= len(self._rows.pop(symbol))
        self._version += 1
        return gone

    def merge(self, rows: Sequence[ReplayRow]) -> None:
        """Check and merge `rows` in one step (`prepare`, then `ReplayBatch.commit`)."""
        self.prepare(rows).commit()

    def load_csv(self, path: Path) -> int:
        """Merge a replay CSV's rows; returns their count. ValueError names `FILE:LINE`."""
        rows: list[ReplayRow] = []
        lines: list[int] = []
        for line, fields in read_replay_csv(path):
            try:
                rows.append(parse_replay_row(fields))
            except ReplayRowError as exc:
                raise ValueError(f"{path}:{line}: {exc.message}") from None
            lines.append(line)
        try:
            self.merge(rows)
        except ReplayRowError as exc:
            assert exc.index is not None
            raise ValueError(f"{path}:{lines[exc.index]}: {exc.message}") from None
        return len(rows)


@dataclass(frozen=True, slots=True)
class _Rebuilt:
    """A symbol's series played again from all its rows, old and new (`rows` in time order)."""

    series: _Series
    rows: list[ReplayRow]


@dataclass(frozen=True, slots=True)
class ReplayBatch:
    """Rows checked by `ReplayOverlay.prepare`, ready to merge with `commit`."""

    overlay: ReplayOverlay
    version: int
    row_count: int
    appends: dict[str, list[ReplayRow]]  # symbol -> rows to add after its latest, in time order
    rebuilds: dict[str, _Rebuilt]  # symbol -> its new series and all its rows

    def symbols(self) -> list[str]:
        """The symbols the batch touches, sorted."""
        return sorted({*self.appends, *self.rebuilds})

    def commit(self) -> None:
        """Merge the rows; the overlay must not have changed since `prepare`."""
        self.overlay._commit(self)


def _canonical(symbol: str) -> str:
    """The symbol as the instrument master spells it: padded OSI for options, upper-case."""
    text = symbol.strip().upper()
    return normalize_osi(text) or text
