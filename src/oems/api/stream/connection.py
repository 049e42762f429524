"""One `/v1/ws` connection: authentication, the client's messages, and a bounded outbox.

Two tasks per connection: the receiver handles what the client sends; the sender drains the
outbox to the socket, runs each subscription's replay (paced by the socket, not queued), and
sends a heartbeat after a silence. Live messages are put in the outbox without waiting; when it
holds `queue` messages the client is too slow: it is sent `error-notice` 429 and closed, and
resumes with `since_sequence`. The engine never waits for a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from oems.api.errors import FORBIDDEN_MESSAGE
from oems.api.stream import protocol as p
from oems.domain.accounts import ApiKey
from oems.domain.errors import OemsError
from oems.domain.instruments import Instrument

if TYPE_CHECKING:
    from oems.api.stream.service import StreamService

log = logging.getLogger("oems.stream")

UNAUTHORIZED = "Missing or invalid bearer token"
# How long a connection being cut off may take to take its last messages before it is dropped.
CUT_OFF_GRACE_S = 10.0


@dataclass(eq=False, slots=True)
class _Activity:
    """One account subscription; `buffer` holds live messages while the replay runs."""

    account_id: int
    since: int  # replay the rows after this sequence
    upto: int  # the latest durable sequence when it subscribed: the replay's end
    since_ts_ns: int  # replay only rows at or after this instant (the day's start)
    buffer: list[tuple[int, str]] | None = field(default_factory=list)


_Item = str | _Activity  # a message to send, or a replay to run


class Connection:
    """The server's side of one WebSocket client."""

    def __init__(self, service: StreamService, websocket: WebSocket) -> None:
        self._service = service
        self._runtime = service.runtime
        self._ws = websocket
        self._settings = service.settings
        self.key: ApiKey | None = None
        self._accounts: dict[int, _Activity] = {}
        self._symbols: dict[uuid.UUID, Instrument] = {}
        self._out: deque[_Item] = deque()
        self._ready = asyncio.Event()
        self._closing: tuple[int, str] | None = None  # (close code, reason) once cut off
        self._loop = asyncio.get_running_loop()
        self._last_traffic = self._loop.time()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def key_id(self) -> uuid.UUID | None:
        """The id of the key the connection authenticated with."""
        return self.key.id if self.key is not None else None

    # ---- life ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until the client leaves or is cut off."""
        await self._ws.accept()
        sender = asyncio.create_task(self._send_loop(), name="ws-send")
        receiver = asyncio.create_task(self._receive_loop(), name="ws-receive")
        self._tasks = [sender, receiver]
        try:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            if self._closing is not None and not sender.done():
                # Cut off: the sender gets the rest of the notice out, for a while.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sender), CUT_OFF_GRACE_S)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(BaseException):
                    await task
            self._forget()

    def _forget(self) -> None:
        for instrument_id in self._symbols:
            self._service.quotes.unlisten(instrument_id, self)
        self._symbols.clear()
        self._service.leave(self, list(self._accounts))
        self._accounts.clear()

    def _cut_off(self, code: int, message: str, close_code: int) -> None:
        """Refuse everything queued, send `error-notice` `code`, then close."""
        if self._closing is not None:
            return
        self._closing = (close_code, message)
        self._forget()
        self._out.clear()
        self._out.append(p.error_notice(code, message).decode())
        self._ready.set()
        log.info("stream connection closed: %s (key %s)", message, self.key_id)

    # ---- sending ------------------------------------------------------------------------------

    def _offer(self, item: _Item) -> None:
        """Queue a message without waiting; a full outbox cuts the connection off."""
        if self._closing is not None:
            return
        if len(self._out) >= self._settings.queue:
            self._slow()
            return
        self._out.append(item)
        self._ready.set()

    def _slow(self) -> None:
        self._cut_off(
            429,
            f"slow consumer: more than {self._settings.queue} messages were waiting; "
            "reconnect and resubscribe with since_sequence to resume",
            p.CLOSE_TRY_LATER,
        )

    async def _send(self, text: str) -> None:
        await self._ws.send_text(text)
        self._last_traffic = self._loop.time()

    async def _send_loop(self) -> None:
        heartbeat = self._settings.heartbeat_s
        while True:
            if not self._out:
                if self._closing is not None:
                    await self._ws.close(self._closing[0], self._closing[1][:120])
                    return
                self._ready.clear()
                silence = self._loop.time() - self._last_traffic
                try:
                    await asyncio.wait_for(self._ready.wait(), max(heartbeat - silence, 0.001))
                except TimeoutError:
                    if self._loop.time() - self._last_traffic >= heartbeat:
                        await self._send(p.heartbeat(self._runtime.engine.now_ns()).decode())
                continue
            item = self._out.popleft()
            if isinstance(item, str):
                await self._send(item)
            else:
                await self._replay(item)

    async def _replay(self, sub: _Activity) -> None:
        """Send the subscription's stored rows, then what arrived meanwhile, then go live."""
        journal = self._runtime.journal
        last = sub.since
        while last < sub.upto and self._accounts.get(sub.account_id) is sub:
            rows = await self._loop.run_in_executor(
                None, journal.read_activity, sub.account_id, last, sub.since_ts_ns, p.REPLAY_PAGE
            )
            wanted = [row for row in rows if row.sequence <= sub.upto]
            for row in wanted:
                await self._send(row.payload.decode())
                last = row.sequence
            if len(wanted) < len(rows) or len(rows) < p.REPLAY_PAGE:
                break
        last = max(last, sub.upto)
        while self._accounts.get(sub.account_id) is sub and sub.buffer:
            buffered, sub.buffer = sub.buffer, []
            for sequence, text in buffered:
                if sequence > last:
                    await self._send(text)
                    last = sequence
        if self._accounts.get(sub.account_id) is not sub:
            return  # unsubscribed, or subscribed anew, meanwhile
        sub.buffer = None
        complete = {"type": "replay-complete", "account_id": sub.account_id, "sequence": last}
        await self._send(p.encode(complete).decode())

    # ---- what the service delivers ------------------------------------------------------------

    def activity(self, account_id: int, sequence: int, text: str) -> None:
        """Take one durable activity message of a subscribed account."""
        sub = self._accounts.get(account_id)
        if sub is None:
            return
        if sub.buffer is None:
            self._offer(text)
        elif len(sub.buffer) >= self._settings.queue:
            self._slow()
        else:
            sub.buffer.append((sequence, text))

    def quote(self, text: str) -> None:
        """Take one `market-data-l1` message of a subscribed symbol."""
        self._offer(text)

    def check_key(self) -> None:
        """Close the connection once its key is revoked or expired."""
        key = self.key
        if key is None:
            return
        current = self._runtime.state.api_keys.get(key.id)
        if current is None or not current.is_live(self._runtime.engine.now_ns()):
            self._cut_off(401, "the API key was revoked or has expired", p.CLOSE_UNAUTHORIZED)

    # ---- receiving ----------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        header = self._ws.headers.get("authorization")
        if header is not None:
            self._authorize(header)
            if self.key is None:
                return
        deadline = self._loop.time() + self._settings.auth_timeout_s
        while self._closing is None:
            try:
                if self.key is None:
                    message = await asyncio.wait_for(
                        self._ws.receive(), max(deadline - self._loop.time(), 0)
                    )
                else:
                    message = await self._ws.receive()
            except TimeoutError:
                self._cut_off(
                    401,
                    f"no valid API key within {self._settings.auth_timeout_s:g} s: send "
                    '{"type": "authorize", "authorization": "<key>"} first',
                    p.CLOSE_UNAUTHORIZED,
                )
                return
            if message["type"] == "websocket.disconnect":
                return
            self._last_traffic = self._loop.time()
            text = message.get("text")
            if text is None:
                self._notice(p.ProtocolError(400, "Malformed message: send text frames of JSON"))
                continue
            try:
                await self._runtime.engine.readable()  # read no change that is not yet durable
                self._handle(p.decode_client_message(text))
            except p.ProtocolError as exc:
                self._notice(exc)
            except OemsError as exc:  # the state is unavailable (the journal failed)
                self._notice(p.ProtocolError(exc.code, exc.message))

    def _notice(self, error: p.ProtocolError) -> None:
        self._offer(p.error_notice(error.code, error.message, **error.context).decode())

    def _authorize(self, header: str) -> None:
        scheme, _, secret = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            secret = header  # the authorize message may carry the bare key
        key = self._runtime.find_key(secret.strip()) if secret.strip() else None
        if key is None:
            self._cut_off(401, UNAUTHORIZED, p.CLOSE_UNAUTHORIZED)
            return
        limit = self._settings.connections_per_key
        if self._service.connections(key.id) >= limit:
            self._cut_off(
                429,
                f"too many connections for this API key (at most {limit})",
                p.CLOSE_TRY_LATER,
            )
            return
        self.key = key
        self._service.join(self)

    def _handle(self, message: p.ClientMessage) -> None:
        if isinstance(message, p.Heartbeat):
            return
        if isinstance(message, p.Authorize):
            if self.key is not None:
                raise p.ProtocolError(400, "This connection is already authorized")
            self._authorize(message.authorization)
            return
        if self.key is None:
            raise p.ProtocolError(401, f"{UNAUTHORIZED}: send authorize first")
        if isinstance(message, p.SubscribeActivity):
            self._subscribe_activity(message)
        elif isinstance(message, p.UnsubscribeActivity):
            self._unsubscribe_activity(message.account_id)
        elif isinstance(message, p.SubscribeQuotes):
            self._subscribe_quotes(message.symbols)
        else:
            self._unsubscribe_quotes(message.symbols)

    def _granted(self, account_id: int) -> None:
        """ProtocolError 403 (the REST message) unless the key may read the account."""
        assert self.key is not None
        if not self._runtime.state.may_access(self.key, account_id):
            raise p.ProtocolError(403, FORBIDDEN_MESSAGE, account_id=account_id)

    def _subscribe_activity(self, message: p.SubscribeActivity) -> None:
        account_id = message.account_id
        self._granted(account_id)
        if (
            account_id not in self._accounts
            and len(self._accounts) >= p.MAX_ACCOUNTS_PER_CONNECTION
        ):
            raise p.ProtocolError(
                400,
                f"at most {p.MAX_ACCOUNTS_PER_CONNECTION} accounts per connection",
                account_id=account_id,
            )
        latest = self._service.recorder.latest(account_id)
        since = message.since_sequence
        if since is not None and since > latest:
            raise p.ProtocolError(
                400,
                f"since_sequence {since} is beyond the latest sequence {latest} of account "
                f"{account_id}: resync by REST and subscribe without since_sequence",
                account_id=account_id,
            )
        since_ts = 0 if since is not None else self._day_start_ns()
        self._unsubscribe_activity(account_id, quiet=True)
        sub = _Activity(account_id, since or 0, latest, since_ts)
        self._accounts[account_id] = sub
        self._service.subscribe(account_id, self)
        ack = {"type": "subscribe-activity-ack", "account_id": account_id, "sequence": latest}
        self._offer(p.encode(ack).decode())
        self._offer(sub)

    def _day_start_ns(self) -> int:
        day = self._runtime.state.trading_day
        return self._runtime.calendar.day_start_ns(day) if day is not None else 0

    def _unsubscribe_activity(self, account_id: int, quiet: bool = False) -> None:
        if self._accounts.pop(account_id, None) is not None:
            self._service.unsubscribe(account_id, self)
        elif not quiet:
            self._granted(account_id)
        if not quiet:
            ack = {"type": "unsubscribe-activity-ack", "account_id": account_id}
            self._offer(p.encode(ack).decode())

    def _resolve(self, symbols: list[str]) -> list[Instrument]:
        """The instruments named, in order, once each; an unknown one is a 404 naming it."""
        found: dict[uuid.UUID, Instrument] = {}
        unknown = []
        for text in symbols:
            instrument = self._runtime.instruments.resolve(text)
            if instrument is None:
                unknown.append(text)
            else:
                found.setdefault(instrument.id, instrument)
        for text in unknown:
            self._notice(p.ProtocolError(404, f"Instrument not found for id `{text}`", symbol=text))
        return list(found.values())

    def _subscribe_quotes(self, symbols: list[str]) -> None:
        instruments = self._resolve(symbols)
        new = [i for i in instruments if i.id not in self._symbols]
        if len(self._symbols) + len(new) > p.MAX_SYMBOLS_PER_CONNECTION:
            raise p.ProtocolError(
                400, f"at most {p.MAX_SYMBOLS_PER_CONNECTION} symbols per connection"
            )
        if not instruments:
            return
        quotes = self._service.quotes
        ack = {"type": "market-data-l1-subscribe-ack", "symbols": [i.symbol for i in instruments]}
        self._offer(p.encode(ack).decode())
        for instrument in instruments:
            self._symbols[instrument.id] = instrument
            quotes.listen(instrument, self, self.quote)
            self._offer(quotes.snapshot_now(instrument))

    def _unsubscribe_quotes(self, symbols: list[str]) -> None:
        instruments = self._resolve(symbols)
        if not instruments:
            return
        for instrument in instruments:
            if self._symbols.pop(instrument.id, None) is not None:
                self._service.quotes.unlisten(instrument.id, self)
        ack = {
            "type": "market-data-l1-unsubscribe-ack",
            "symbols": [i.symbol for i in instruments],
        }
        self._offer(p.encode(ack).decode())


async def serve_connection(service: StreamService, websocket: WebSocket) -> None:
    """Run one connection to its end (a client that goes away is not an error)."""
    with contextlib.suppress(WebSocketDisconnect):
        await Connection(service, websocket).run()
