"""The `/v1/ws` protocol: what a client may send (decoded strictly) and the messages the server sends.

Text frames, one JSON object each, every object with a `type`. The names here are a contract
that clients (the SDK examples, `oems watch`, the web console) depend on: change none of them.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import orjson

from oems.domain.timefmt import format_ns

MAX_MESSAGE_BYTES = 64 * 1024  # a client frame over this closes the connection (1009)
MAX_ACCOUNTS_PER_CONNECTION = 100
MAX_SYMBOLS_PER_CONNECTION = 1000
REPLAY_PAGE = 1000  # activity rows read from the journal at a time

# Close codes: policy violation (no valid key), try again later (slow consumer, too many).
CLOSE_UNAUTHORIZED = 1008
CLOSE_TRY_LATER = 1013

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Symbols = Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_SYMBOLS_PER_CONNECTION)]


class _Message(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    """A client message; its `type` is the struct's tag."""


class Authorize(_Message, tag="authorize", frozen=True):
    """A browser's way to present its key (it cannot set headers on the upgrade)."""

    authorization: str


class SubscribeActivity(_Message, tag="subscribe-activity", frozen=True):
    """Activity of one account after `since_sequence` (None: from the start of the trading day)."""

    account_id: int
    since_sequence: NonNegative | None = None


class UnsubscribeActivity(_Message, tag="unsubscribe-activity", frozen=True):
    """Stop one account's activity."""

    account_id: int


class SubscribeQuotes(_Message, tag="market-data-l1-subscribe", frozen=True):
    """Level 1 quotes of tickers, OSI symbols or instrument ids."""

    symbols: Symbols


class UnsubscribeQuotes(_Message, tag="market-data-l1-unsubscribe", frozen=True):
    """Stop the quotes of these symbols."""

    symbols: Symbols


class Heartbeat(_Message, tag="heartbeat", frozen=True):
    """A client's sign of life; the server answers nothing."""

    timestamp: str | None = None


ClientMessage = (
    Authorize
    | SubscribeActivity
    | UnsubscribeActivity
    | SubscribeQuotes
    | UnsubscribeQuotes
    | Heartbeat
)
CLIENT_TYPES = (
    "authorize",
    "subscribe-activity",
    "unsubscribe-activity",
    "market-data-l1-subscribe",
    "market-data-l1-unsubscribe",
    "heartbeat",
)
_decoder = msgspec.json.Decoder(ClientMessage)


class ProtocolError(Exception):
    """A refused client message: the `error-notice` code and message to answer it with."""

    def __init__(self, code: int, message: str, **context: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context


def decode_client_message(text: str | bytes) -> ClientMessage:
    """The client's message, or ProtocolError 400 naming what is wrong with it."""
    try:
        message: ClientMessage = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        detail = str(exc)
        if "`$.type`" in detail or "missing required field `type`" in detail:
            detail += f" (type is one of {', '.join(CLIENT_TYPES)})"
        raise ProtocolError(400, f"Malformed message: {detail}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(400, f"Malformed message: not JSON ({exc})") from None
    return message


def encode(message: dict[str, Any]) -> bytes:
    """One server message as the bytes of its text frame."""
    return orjson.dumps(message)


def error_notice(code: int, message: str, **context: Any) -> bytes:
    """An `error-notice`; `context` adds the account or symbol it is about."""
    return encode({"type": "error-notice", "code": code, "message": message, **context})


def heartbeat(now_ns: int) -> bytes:
    """A `heartbeat` stamped with the market clock's instant."""
    return encode({"type": "heartbeat", "timestamp": format_ns(now_ns)})


def activity_message(
    account_id: int, sequence: int, ts_ns: int, event: str, data: dict[str, Any]
) -> bytes:
    """An `activity` message: one change of an account, numbered by the account's sequence."""
    return encode(
        {
            "type": "activity",
            "account_id": account_id,
            "sequence": sequence,
            "timestamp": format_ns(ts_ns),
            "event": event,
            "data": data,
        }
    )
