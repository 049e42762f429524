"""The history store: closed orders and every execution, in tables of the journal's database.

An order leaves memory when it closes (filled, canceled, rejected, expired): its row is written in
the journal transaction of the batch that closed it, and the writer drops it from the state once
that transaction is durable. Executions never change, so each is written in the transaction of the
fill that made it. The rows are derived data: `through_seq` says up to which journal event they are
complete, and recovery writes the rows of any later closing (a journal written by code that had no
history). Lists page by keyset over the primary key (account, id), ids being UUIDv7s.

Payloads are msgpack of the domain objects: Decimals are written as their exact text.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from oems.domain.orders import Order
from oems.domain.positions import Execution

SCHEMA = """
CREATE TABLE IF NOT EXISTS closed_orders (
    account_id INTEGER NOT NULL,
    id BLOB NOT NULL,
    client_order_id TEXT,
    status TEXT NOT NULL,
    instrument_type TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    underlying_instrument_id BLOB,
    symbols TEXT NOT NULL,
    instrument_ids TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    journal_seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX IF NOT EXISTS closed_orders_by_status ON closed_orders (account_id, status, id);
CREATE UNIQUE INDEX IF NOT EXISTS closed_orders_by_client_id
    ON closed_orders (account_id, client_order_id) WHERE client_order_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS executions (
    account_id INTEGER NOT NULL,
    id BLOB NOT NULL,
    order_id BLOB NOT NULL,
    instrument_id BLOB NOT NULL,
    underlying_instrument_id BLOB,
    ts_ns INTEGER NOT NULL,
    journal_seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX IF NOT EXISTS executions_by_order ON executions (account_id, order_id);
CREATE TABLE IF NOT EXISTS history_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_CLEAR = ("DELETE FROM closed_orders", "DELETE FROM executions")
_THROUGH = (
    "INSERT INTO history_meta (name, value) VALUES ('through_seq', ?) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)
_INSERT_ORDER = (
    "INSERT OR REPLACE INTO closed_orders (account_id, id, client_order_id, status, "
    "instrument_type, side, order_type, underlying_instrument_id, symbols, instrument_ids, "
    "created_ns, journal_seq, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EXECUTION = (
    "INSERT OR REPLACE INTO executions (account_id, id, order_id, instrument_id, "
    "underlying_instrument_id, ts_ns, journal_seq, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _closed_order_type() -> Any:
    """A struct with Order's fields to decode a closed order into: msgspec cannot decode the
    union of an open order's `pending_replace`, which a closed order never has."""
    hints = typing.get_type_hints(Order)
    fields: list[Any] = []
    for spec in dataclasses.fields(Order):
        kind = None if spec.name == "pending_replace" else hints[spec.name]
        if spec.default is not dataclasses.MISSING:
            fields.append((spec.name, kind, spec.default))
        elif spec.default_factory is not dataclasses.MISSING:
            fields.append((spec.name, kind, msgspec.field(default_factory=spec.default_factory)))
        else:
            fields.append((spec.name, kind))
    return msgspec.defstruct("ClosedOrder", fields, kw_only=True)


_ENCODER = msgspec.msgpack.Encoder()
_ORDER_DECODER = msgspec.msgpack.Decoder(_closed_order_type())
_EXECUTION_DECODER = msgspec.msgpack.Decoder(Execution)


def decode_order(payload: bytes) -> Order:
    """The closed order a payload holds."""
    closed = _ORDER_DECODER.decode(payload)
    return Order(**{name: getattr(closed, name) for name in closed.__struct_fields__})


def _blob(value: uuid.UUID | None) -> bytes | None:
    return None if value is None else value.bytes


def _id_blob(value: int) -> bytes:
    return max(0, min(value, (1 << 128) - 1)).to_bytes(16, "big")


def _between_bars(values: Sequence[str]) -> str:
    """'|a|b|': a set of values one `instr` finds exactly (case-sensitively, unlike LIKE)."""
    return "|" + "|".join(sorted(values)) + "|"


def order_row(order: Order, journal_seq: int) -> tuple[Any, ...]:
    """The `closed_orders` row of a closed order."""
    return (
        order.account_id,
        order.id.bytes,
        order.client_order_id,
        order.status,
        order.instrument.instrument_type,
        order.terms.side,
        order.terms.order_type,
        _blob(order.instrument.underlying_instrument_id),
        _between_bars(list(order.symbols)),
        _between_bars([i.hex for i in order.instrument_ids]),
        order.created_ns,
        journal_seq,
        _ENCODER.encode(order),
    )


def execution_row(execution: Execution, journal_seq: int) -> tuple[Any, ...]:
    """The `executions` row of an execution."""
    return (
        execution.account_id,
        execution.id.bytes,
        execution.order_id.bytes,
        execution.instrument_id.bytes,
        _blob(execution.underlying_instrument_id),
        execution.ts_ns,
        journal_seq,
        _ENCODER.encode(execution),
    )


class HistoryRows(NamedTuple):
    """What one journal transaction writes to the history: a reset first (a sandbox reset in the
    batch clears it), then the rows."""

    reset: bool
    orders: list[tuple[Any, ...]]
    executions: list[tuple[Any, ...]]


def history_rows(
    orders: Sequence[Order], executions: Sequence[Execution], reset: bool, journal_seq: int
) -> HistoryRows:
    """The rows of the orders closed and executions made by events up to `journal_seq`."""
    return HistoryRows(
        reset,
        [order_row(order, journal_seq) for order in orders],
        [execution_row(execution, journal_seq) for execution in executions],
    )


def write_history(conn: sqlite3.Connection, rows: HistoryRows, through_seq: int) -> None:
    """Write `rows` inside the caller's transaction and mark the history complete through `through_seq`."""
    if rows.reset:
        for statement in _CLEAR:
            conn.execute(statement)
    if rows.orders:
        conn.executemany(_INSERT_ORDER, rows.orders)
    if rows.executions:
        conn.executemany(_INSERT_EXECUTION, rows.executions)
    conn.execute(_THROUGH, (through_seq,))


def through_seq(conn: sqlite3.Connection) -> int:
    """The journal seq up to which the history holds every closing and execution (0: none)."""
    row = conn.execute("SELECT value FROM history_meta WHERE name = 'through_seq'").fetchone()
    return int(row[0]) if row else 0


# ---- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """The filters of an order list, as a predicate over orders in memory and as SQL over the
    table: the two say the same thing, so they are kept side by side."""

    statuses: frozenset[str] | None = None
    symbol: str | None = None
    instrument_ids: frozenset[uuid.UUID] | None = None
    underliers: frozenset[uuid.UUID] | None = None
    instrument_type: str | None = None
    refs: frozenset[str] | None = None  # order ids (as text) or client order ids
    start_ns: int | None = None
    end_ns: int | None = None
    side: str | None = None
    order_type: str | None = None

    def matches(self, order: Order) -> bool:
        """True when the order passes every filter."""
        symbol = self.symbol
        return (
            (self.statuses is None or order.status in self.statuses)
            and (symbol is None or bool({symbol, symbol.upper()} & order.symbols))
            and (self.instrument_ids is None or bool(self.instrument_ids & order.instrument_ids))
            and (
                self.underliers is None
                or order.instrument.underlying_instrument_id in self.underliers
            )
            and (
                self.instrument_type is None
                or order.instrument.instrument_type == self.instrument_type
            )
            and (
                self.refs is None
                or str(order.id) in self.refs
                or order.client_order_id in self.refs
            )
            and (self.start_ns is None or order.created_ns >= self.start_ns)
            and (self.end_ns is None or order.created_ns <= self.end_ns)
            and (self.side is None or order.terms.side == self.side)
            and (self.order_type is None or order.terms.order_type == self.order_type)
        )

    @property
    def selective(self) -> bool:
        """True when the filter names orders (a few rows, found by their own indexes)."""
        return self.refs is not None

    def sql(self) -> tuple[str, list[Any]]:
        """The same filters as a WHERE fragment (`AND ...`, possibly empty) and its parameters."""
        where: list[str] = []
        args: list[Any] = []
        if self.statuses is not None:
            _in(where, args, "status", sorted(self.statuses))
        if self.symbol is not None:
            where.append("(instr(symbols, ?) > 0 OR instr(symbols, ?) > 0)")
            args += [f"|{self.symbol}|", f"|{self.symbol.upper()}|"]
        if self.instrument_ids is not None:
            ids = sorted(i.hex for i in self.instrument_ids)
            where.append("(" + " OR ".join(["instr(instrument_ids, ?) > 0"] * len(ids)) + ")")
            args += [f"|{i}|" for i in ids]
        if self.underliers is not None:
            _in(where, args, "underlying_instrument_id", [u.bytes for u in self.underliers])
        if self.instrument_type is not None:
            where.append("instrument_type = ?")
            args.append(self.instrument_type)
        if self.refs is not None:
            id_blobs = [i.bytes for i in uuid_refs(self.refs)]
            clients = sorted(self.refs)
            where.append(
                f"(id IN ({','.join('?' * len(id_blobs)) or 'NULL'}) "
                f"OR client_order_id IN ({','.join('?' * len(clients))}))"
            )
            args += [*id_blobs, *clients]
        for column, op, value in (
            ("created_ns", ">=", self.start_ns),
            ("created_ns", "<=", self.end_ns),
            ("side", "=", self.side),
            ("order_type", "=", self.order_type),
        ):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        return "".join(f" AND {w}" for w in where), args


@dataclass(frozen=True, slots=True)
class ExecutionQuery:
    """The filters of an execution list (orders already resolved to their ids)."""

    instrument_ids: frozenset[uuid.UUID] | None = None
    underliers: frozenset[uuid.UUID] | None = None
    order_ids: frozenset[uuid.UUID] | None = None
    start_ns: int | None = None
    end_ns: int | None = None

    @property
    def selective(self) -> bool:
        """True when the filter names orders (a few rows, found by the order index)."""
        return self.order_ids is not None

    def sql(self) -> tuple[str, list[Any]]:
        """The filters as a WHERE fragment (`AND ...`, possibly empty) and its parameters."""
        where: list[str] = []
        args: list[Any] = []
        for column, values in (
            ("instrument_id", self.instrument_ids),
            ("underlying_instrument_id", self.underliers),
            ("order_id", self.order_ids),
        ):
            if values is not None:
                _in(where, args, column, [v.bytes for v in values])
        if self.start_ns is not None:
            where.append("ts_ns >= ?")
            args.append(self.start_ns)
        if self.end_ns is not None:
            where.append("ts_ns <= ?")
            args.append(self.end_ns)
        return "".join(f" AND {w}" for w in where), args


def _in(where: list[str], args: list[Any], column: str, values: Sequence[Any]) -> None:
    where.append(f"{column} IN ({','.join('?' * len(values)) or 'NULL'})")
    args.extend(values)


def uuid_refs(refs: frozenset[str]) -> list[uuid.UUID]:
    """The refs that are an order id written as `str(uuid)` writes it (what matched before)."""
    found = []
    for ref in refs:
        try:
            parsed = uuid.UUID(ref)
        except ValueError:
            continue
        if str(parsed) == ref:
            found.append(parsed)
    return found


class History:
    """Reads of the history tables on the journal's reader connection (a commit in progress does
    not block them). Kept current by the writer: `retired` after each durable batch."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], lock: threading.Lock) -> None:
        self._connect = connect
        self._lock = lock
        # (table, account) -> rows: a list's total without counting a million rows each page.
        self._counts: dict[tuple[str, int], int] = {}

    def _rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._connect().execute(sql, args).fetchall()

    def retired(self, rows: HistoryRows) -> None:
        """Follow a durable write of `rows`: the counts stay those of the tables."""
        if rows.reset:
            self._counts.clear()
        for table, written in (("closed_orders", rows.orders), ("executions", rows.executions)):
            for row in written:
                key = (table, row[0])
                if key in self._counts:
                    self._counts[key] += 1

    def forget(self) -> None:
        """Drop what is cached (the tables were rebuilt)."""
        self._counts.clear()

    def order(self, account_id: int, order_id: uuid.UUID) -> Order | None:
        """The account's closed order with this id, or None."""
        rows = self._rows(
            "SELECT payload FROM closed_orders WHERE account_id = ? AND id = ?",
            (account_id, order_id.bytes),
        )
        return decode_order(rows[0][0]) if rows else None

    def order_by_client_id(self, account_id: int, client_order_id: str) -> Order | None:
        """The account's closed order with this client order id, or None."""
        rows = self._rows(
            "SELECT payload FROM closed_orders WHERE account_id = ? AND client_order_id = ?",
            (account_id, client_order_id),
        )
        return decode_order(rows[0][0]) if rows else None

    def client_ids_taken(self, account_id: int, client_ids: Sequence[str]) -> set[str]:
        """Which of these client order ids closed orders of the account carry."""
        if not client_ids:
            return set()
        rows = self._rows(
            "SELECT client_order_id FROM closed_orders WHERE account_id = ? "
            f"AND client_order_id IN ({','.join('?' * len(client_ids))})",
            (account_id, *client_ids),
        )
        return {row[0] for row in rows}

    def order_ids_for(self, account_id: int, refs: frozenset[str]) -> set[uuid.UUID]:
        """The ids of the account's closed orders that `refs` name by id or client order id."""
        query = OrderQuery(refs=refs)
        where, args = query.sql()
        rows = self._rows(
            f"SELECT id FROM closed_orders WHERE account_id = ?{where}", (account_id, *args)
        )
        return {uuid.UUID(bytes=row[0]) for row in rows}

    def newest_ids(self, account_ids: Iterable[int]) -> list[uuid.UUID]:
        """The newest closed order id and execution id of each account (the id sequence
        continues after them); one index seek each."""
        found = []
        for account_id in account_ids:
            for table in ("closed_orders", "executions"):
                rows = self._rows(
                    f"SELECT MAX(id) FROM {table} WHERE account_id = ?", (account_id,)
                )
                if rows[0][0] is not None:
                    found.append(uuid.UUID(bytes=rows[0][0]))
        return found

    def orders(self, account_id: int, query: OrderQuery) -> KeysetTable[Order]:
        """The account's closed orders that `query` keeps, as a keyset source."""
        where, args = query.sql()
        return KeysetTable(
            self, "closed_orders", account_id, where, args, decode_order, query.selective
        )

    def executions(self, account_id: int, query: ExecutionQuery) -> KeysetTable[Execution]:
        """The account's executions that `query` keeps, as a keyset source."""
        where, args = query.sql()
        return KeysetTable(
            self, "executions", account_id, where, args, _EXECUTION_DECODER.decode, query.selective
        )

    def count(self, table: str, account_id: int, where: str, args: Sequence[Any]) -> int:
        """How many rows of the account the filter keeps (an unfiltered count is cached)."""
        key = (table, account_id)
        if not where and key in self._counts:
            return self._counts[key]
        sql = f"SELECT COUNT(*) FROM {table} WHERE account_id = ?{where}"
        total = int(self._rows(sql, (account_id, *args))[0][0])
        if not where:
            self._counts[key] = total
        return total

    def totals(self) -> tuple[int, int]:
        """(closed orders, executions) the tables hold, over every account."""
        orders = self._rows("SELECT COUNT(*) FROM closed_orders", ())[0][0]
        executions = self._rows("SELECT COUNT(*) FROM executions", ())[0][0]
        return int(orders), int(executions)

    def every_order(self) -> Iterator[Order]:
        """Every closed order, in (account, id) order (for checks and tools, not for requests)."""
        for (payload,) in self._rows(
            "SELECT payload FROM closed_orders ORDER BY account_id, id", ()
        ):
            yield decode_order(payload)

    def every_execution(self) -> Iterator[Execution]:
        """Every execution, in (account, id) order (for checks and tools, not for requests)."""
        for (payload,) in self._rows("SELECT payload FROM executions ORDER BY account_id, id", ()):
            yield _EXECUTION_DECODER.decode(payload)


T = typing.TypeVar("T")


class KeysetTable(typing.Generic[T]):
    """One account's filtered rows of a history table, read by keyset on the id."""

    def __init__(
        self,
        history: History,
        table: str,
        account_id: int,
        where: str,
        args: list[Any],
        decode: Callable[[bytes], T],
        selective: bool = False,
    ) -> None:
        self._history = history
        # A filter that names a few rows: `+id` keeps SQLite from walking the account's rows in
        # id order to find them, so it finds them by their index and sorts those few.
        self._id = "+id" if selective else "id"
        self._table = table
        self._account_id = account_id
        self._where = where
        self._args = args
        self._decode = decode

    def count(self) -> int:
        """How many rows the filter keeps."""
        return self._history.count(self._table, self._account_id, self._where, self._args)

    def older(self, below: int | None, limit: int) -> list[T]:
        """Up to `limit` rows with an id below `below` (all when None), newest first."""
        return self._page("<", below, "DESC", limit)

    def newer(self, above: int | None, limit: int) -> list[T]:
        """Up to `limit` rows with an id above `above` (all when None), oldest first."""
        return self._page(">", above, "ASC", limit)

    def _page(self, op: str, bound: int | None, order: str, limit: int) -> list[T]:
        column = self._id
        bound_sql, bound_args = (
            ("", []) if bound is None else (f" AND {column} {op} ?", [_id_blob(bound)])
        )
        rows = self._history._rows(
            f"SELECT payload FROM {self._table} WHERE account_id = ?{bound_sql}{self._where} "
            f"ORDER BY {column} {order} LIMIT ?",
            (self._account_id, *bound_args, *self._args, limit),
        )
        return [self._decode(payload) for (payload,) in rows]
