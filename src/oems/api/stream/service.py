"""The stream's shared part: the activity recorder, the quote feed and who subscribes to what."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

from oems.api.stream.quotes import QuoteFeed
from oems.api.stream.recorder import ActivityRecorder
from oems.settings import StreamSettings
from oems.store.journal import ActivityRow

if TYPE_CHECKING:
    from oems.runtime import Runtime


class Subscriber(Protocol):
    """A connection as the service sees it."""

    @property
    def key_id(self) -> uuid.UUID | None:
        """The id of the key the connection authenticated with."""

    def activity(self, account_id: int, sequence: int, text: str) -> None:
        """Take one durable activity message of a subscribed account."""

    def check_key(self) -> None:
        """Close the connection if its key is no longer live."""


class StreamService:
    """Everything the `/v1/ws` connections of one server share."""

    def __init__(self, runtime: Runtime, settings: StreamSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.quotes = QuoteFeed(runtime, settings.quote_sample_s)
        self.recorder = ActivityRecorder(
            runtime.engine,
            runtime.journal.activity_heads(),
            self._publish,
            self.quotes.wake,
            self._keys_changed,
        )
        self._by_account: dict[int, set[Subscriber]] = {}
        self._by_key: dict[uuid.UUID, set[Subscriber]] = {}
        self.delivered = 0  # activity messages handed to connections

    def attach(self) -> None:
        """Record activity from now on (before the engine runs its first command)."""
        self.runtime.engine.recorder = self.recorder

    def connections(self, key_id: uuid.UUID) -> int:
        """How many connections hold this key."""
        return len(self._by_key.get(key_id, ()))

    def join(self, subscriber: Subscriber) -> None:
        """Count an authenticated connection against its key."""
        assert subscriber.key_id is not None
        self._by_key.setdefault(subscriber.key_id, set()).add(subscriber)

    def leave(self, subscriber: Subscriber, accounts: list[int]) -> None:
        """Forget a closed connection and its activity subscriptions."""
        for account_id in accounts:
            self.unsubscribe(account_id, subscriber)
        if subscriber.key_id is not None:
            held = self._by_key.get(subscriber.key_id)
            if held is not None:
                held.discard(subscriber)
                if not held:
                    del self._by_key[subscriber.key_id]

    def subscribe(self, account_id: int, subscriber: Subscriber) -> None:
        """Deliver the account's activity to `subscriber` from the next durable batch on."""
        self._by_account.setdefault(account_id, set()).add(subscriber)

    def unsubscribe(self, account_id: int, subscriber: Subscriber) -> None:
        """Stop delivering the account's activity to `subscriber`."""
        subscribers = self._by_account.get(account_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._by_account[account_id]

    def _publish(self, rows: list[ActivityRow]) -> None:
        for row in rows:
            subscribers = self._by_account.get(row.account_id)
            if not subscribers:
                continue
            text = row.payload.decode()
            for subscriber in list(subscribers):
                subscriber.activity(row.account_id, row.sequence, text)
                self.delivered += 1

    def _keys_changed(self) -> None:
        for subscribers in list(self._by_key.values()):
            for subscriber in list(subscribers):
                subscriber.check_key()
