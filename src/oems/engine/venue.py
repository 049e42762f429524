"""The venue simulator: acknowledges, releases, triggers, fills and expires orders.

Deterministic: the same orders, quotes and clock give the same answers and fills. The model it
carries out (latency, touch, displayed size and refresh, depth, queue position, slippage, stops
and trailing stops, time in force, auctions, scenario rules) is written down once, in the
README's sections "The venue simulator" and "The fill model"; change both together.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

from sortedcontainers import SortedList

from oems.domain import events as ev
from oems.domain import orders as o
from oems.domain import scenarios as sc
from oems.domain.instruments import Instrument
from oems.domain.orders import Order
from oems.domain.scenarios import ScenarioRule, first_match
from oems.domain.strategies import net_price
from oems.engine.book import Book, Books, buy_trigger_price, sell_trigger_price
from oems.engine.context import Context
from oems.engine.liquidity import BPS, Liquidity, to_tick
from oems.engine.timers import Timers
from oems.market.calendar import AFTER_HOURS, PRE_MARKET, REGULAR
from oems.market.quotes import Quote, spot_price

_AWAITING_VENUE = (o.PENDING_NEW, o.PENDING_CANCEL, o.PENDING_REPLACE)
_SCHEDULING_EVENTS = (ev.OrderAccepted, ev.OrderCancelRequested, ev.OrderReplaceRequested)

# Timer kinds, in the order they run when due at the same instant.
VENUE_DUE = 0
RELEASE = 1
AUCTION = 2
EXPIRE = 3


class Venue:
    """Matching and timers for every working order; rebuilt from state after a restart."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.venue_settings
        self.liquidity = Liquidity(ctx.venue_settings, ctx.state)
        self.books = Books()
        self._timers = Timers(self._timer_live)

    # ---- rebuilding and timers -----------------------------------------------------------

    def rebuild(self) -> None:
        """Recreate books and timers from the state's open orders (after recovery)."""
        self.books.clear()
        self._timers.clear()
        for by_id in self.ctx.state.open_orders.values():
            for order in sorted(by_id.values(), key=lambda x: x.created_ns):
                self.schedule(order)
                if self._is_working(order):
                    self.books.add(order)

    def applied(self, event: ev.Event, order: Order) -> None:
        """Follow an event applied to `order`: timers for what awaits the venue, books for an end."""
        if isinstance(event, _SCHEDULING_EVENTS):
            self.schedule(order)
        elif not order.is_open:
            self.books.remove(order)  # ended outside the venue (e.g. at an expiry)

    def schedule(self, order: Order) -> None:
        """Put the order's pending timers (venue answer, release, auction, expiry) on the heap."""
        self._timers.add(order.venue_due_ns, VENUE_DUE, order.id)
        self._timers.add(order.releases_ns, RELEASE, order.id)
        self._timers.add(order.auction_ns, AUCTION, order.id)
        self._timers.add(order.expiry_ns, EXPIRE, order.id)

    def next_timer_ns(self) -> int | None:
        """The instant of the earliest pending timer."""
        return self._timers.next_ns()

    def _timer_live(self, kind: int, due: int, order_id: uuid.UUID) -> bool:
        order = self.ctx.state.orders.get(order_id)
        if order is None or not order.is_open:
            return False
        if kind == VENUE_DUE:
            return order.venue_due_ns == due and order.status in _AWAITING_VENUE
        if kind == RELEASE:
            return order.releases_ns == due
        if kind == AUCTION:
            return order.auction_ns == due
        return order.expiry_ns == due

    def run_timers(self, now_ns: int) -> None:
        """Run every live timer due at or before `now_ns`, in (instant, kind) order."""
        for due, kind, order_id in self._timers.due(now_ns):
            order = self.ctx.state.orders[order_id]
            if kind == VENUE_DUE:
                self._venue_answer(order, due)
            elif kind == RELEASE:
                self._release(order, due)
            elif kind == AUCTION:
                self._auction(order, due)
            else:
                self._expire(order, due)

    @property
    def has_working_orders(self) -> bool:
        """True when some book holds an order a tick could trigger or fill."""
        return self.books.has_working_orders

    # ---- venue answers -------------------------------------------------------------------

    def _venue_answer(self, order: Order, now: int) -> None:
        emit = self.ctx.emit
        if order.status == o.PENDING_NEW:
            faults = self.ctx.state.faults
            if faults.reject_next > 0:
                emit(
                    ev.FaultsSet(
                        ts_ns=now,
                        reject_next=faults.reject_next - 1,
                        reject_reason=faults.reject_reason,
                        ack_delay_ms=faults.ack_delay_ms,
                    )
                )
                reason = faults.reject_reason or "Rejected by venue"
                emit(ev.OrderRejected(ts_ns=now, order_id=order.id, reason=reason))
                return
            if order.scenario_rule is None and self._scenario(order, sc.ON_NEW, now):
                return
            waiting = order.releases_ns is not None or order.terms.time_in_force in o.AUCTION_ONLY
            queue_state = o.AWAITING_RELEASE if order.releases_ns is not None else None
            emit(ev.OrderAcknowledged(ts_ns=now, order_id=order.id, queue_state=queue_state))
            if not waiting:
                self._activate(order, now)
        elif order.status == o.PENDING_CANCEL:
            if self._scenario(order, sc.ON_CANCEL, now):
                return
            self.books.remove(order)
            emit(ev.OrderCanceled(ts_ns=now, order_id=order.id, reason="Canceled by user"))
        elif order.status == o.PENDING_REPLACE:
            if self._scenario(order, sc.ON_REPLACE, now):
                return
            self.books.remove(order)
            emit(ev.OrderReplaced(ts_ns=now, order_id=order.id))
            if order.is_open and self._may_work(order):
                self._activate(order, now)

    # ---- scenario rules -------------------------------------------------------------------

    def _scenario(self, order: Order, actions: tuple[str, ...], now: int) -> bool:
        """Let the oldest matching scenario rule answer for the venue; False when none matches."""
        rule = first_match(self.ctx.state.scenarios, order, actions)
        if rule is None:
            return False
        emit, terms = self.ctx.emit, rule.terms
        action, named = terms.action, f"scenario rule {rule.id}"
        emit(ev.ScenarioMatched(ts_ns=now, rule_id=rule.id, order_id=order.id))
        if action == sc.REJECT:
            reason = terms.reason or f"Rejected by {named}"
            emit(ev.OrderRejected(ts_ns=now, order_id=order.id, reason=reason))
        elif action == sc.EXPIRE:
            reason = terms.reason or f"Expired by {named}"
            emit(ev.OrderExpired(ts_ns=now, order_id=order.id, reason=reason))
        elif action == sc.DELAY_ACK:
            assert terms.delay_ns is not None
            emit(
                ev.OrderAckDelayed(ts_ns=now, order_id=order.id, venue_due_ns=now + terms.delay_ns)
            )
            self.schedule(order)
        elif action in (sc.REFUSE_CANCEL, sc.REFUSE_REPLACE):
            reason = terms.reason or f"Refused by {named}"
            refused = (
                ev.OrderCancelRefused if action == sc.REFUSE_CANCEL else ev.OrderReplaceRefused
            )
            emit(refused(ts_ns=now, order_id=order.id, reason=reason))
            if order.id not in self.books and self._may_work(order):
                self._activate(order, now)  # it was never acknowledged before the cancel came
        else:
            self._scenario_fill(order, rule, now)
        return True

    def _scenario_fill(self, order: Order, rule: ScenarioRule, now: int) -> None:
        """Acknowledge, then hold the order (delay_fill) or fill it as the rule says."""
        emit, terms = self.ctx.emit, rule.terms
        waits = order.releases_ns is not None
        emit(
            ev.OrderAcknowledged(
                ts_ns=now, order_id=order.id, queue_state=o.AWAITING_RELEASE if waits else None
            )
        )
        if terms.action == sc.DELAY_FILL:
            assert terms.delay_ns is not None
            until = max(now + terms.delay_ns, order.releases_ns or 0)
            emit(ev.OrderHeld(ts_ns=now, order_id=order.id, releases_ns=until))
            self.schedule(order)
            return
        if terms.action == sc.FILL_AT_PRICE:
            assert terms.price is not None
            self._fill(order, order.terms.quantity, terms.price, now)
            return
        assert terms.fraction is not None
        part = (order.terms.quantity * terms.fraction).to_integral_value(ROUND_FLOOR)
        price = self._forced_price(order, now)
        if part > 0 and price is not None:
            self._fill(order, part, price, now)
        if order.is_open:
            self._cancel(order, now, f"Scenario rule {rule.id}: unfilled quantity canceled")

    def _forced_price(self, order: Order, now: int) -> Decimal | None:
        """Where a forced fill trades: the touch (slipped, within the limit), else the limit."""
        quote = self.ctx.quote(self._instrument(order), now)
        touch = None if quote is None else quote.ask if order.is_buy else quote.bid
        limit = order.working_limit
        if touch is None or (
            limit is not None and (touch > limit if order.is_buy else touch < limit)
        ):
            return limit
        return self.liquidity.slipped(touch, order.is_buy, limit)

    def _release(self, order: Order, now: int) -> None:
        self.ctx.emit(ev.OrderReleased(ts_ns=now, order_id=order.id))
        if order.terms.time_in_force in (o.OPG, o.AT_CROSSING):
            self._auction(order, now)
        elif order.status not in (o.PENDING_NEW, o.PENDING_CANCEL) and self._may_work(order):
            self._activate(order, now)

    def _auction(self, order: Order, now: int) -> None:
        """Fill an opening or closing auction order in full at the auction price, or cancel it."""
        if order.status in (o.PENDING_NEW, o.PENDING_CANCEL):
            return
        if order.terms.time_in_force == o.GTX:
            self._cancel(order, now, "Good-till-crossing: canceled as the closing crossing starts")
            return
        instrument = self._instrument(order)
        quote = self.ctx.quote(instrument, now)
        price = spot_price(quote)
        leaves = order.terms.quantity - order.filled_quantity
        name = "opening" if order.auction_ns is None else "closing"
        if price is None:
            self._cancel(order, now, f"No {name} price: unfilled quantity canceled")
            return
        price = to_tick(price, up=order.is_buy)
        limit = order.working_limit
        if limit is not None and (price > limit if order.is_buy else price < limit):
            self._cancel(order, now, f"Limit not reached in the {name} auction: canceled")
            return
        self._fill(order, leaves, price, now)

    def _expire(self, order: Order, now: int) -> None:
        self.books.remove(order)
        reason = (
            "Good-till-date expiry" if order.terms.time_in_force == o.GTD else "Day order expired"
        )
        self.ctx.emit(ev.OrderExpired(ts_ns=now, order_id=order.id, reason=reason))

    def _cancel(self, order: Order, now: int, reason: str) -> None:
        self.books.remove(order)
        self.ctx.emit(ev.OrderCanceled(ts_ns=now, order_id=order.id, reason=reason))

    # ---- working orders ------------------------------------------------------------------

    def _activate(self, order: Order, now: int) -> None:
        """The order starts working: trail or trigger, evaluate at once, then rest (or finish)."""
        self.books.add(order)
        quote = None if order.is_strategy else self.ctx.quote(self._instrument(order), now)
        if order.is_strategy:
            self._evaluate_strategy(order, now)
        elif quote is not None:
            if order.terms.order_type in o.TRAILING_TYPES and not order.triggered:
                touch = buy_trigger_price(quote) if order.is_buy else sell_trigger_price(quote)
                self._trail(order, touch, now, force=True)
            elif order.terms.order_type in o.STOP_TYPES and not order.triggered:
                assert order.terms.stop_price is not None
                touch = buy_trigger_price(quote) if order.is_buy else sell_trigger_price(quote)
                if touch is not None and (
                    touch >= order.terms.stop_price
                    if order.is_buy
                    else touch <= order.terms.stop_price
                ):
                    self._trigger(order, order.terms.stop_price, now)
            else:
                self._evaluate_order(order, quote, now, entering=True)
                self._join_queue(order, quote, now)
        if order.is_open and order.terms.time_in_force == o.IOC:
            self._cancel(order, now, "Immediate-or-cancel: unfilled quantity canceled")
        elif order.is_open and order.terms.time_in_force == o.FOK:
            self._cancel(order, now, "Fill-or-kill: not fillable in full, canceled")

    def _is_working(self, order: Order) -> bool:
        """Acknowledged and free to trade now (not waiting for its session or an auction)."""
        return order.status != o.PENDING_NEW and self._may_work(order)

    def _may_work(self, order: Order) -> bool:
        """Free to trade once acknowledged: not waiting for its session or an auction."""
        return (
            order.queue_state != o.AWAITING_RELEASE
            and order.releases_ns is None  # not held by a scenario rule either
            and order.terms.time_in_force not in o.AUCTION_ONLY
        )

    # ---- ticks ---------------------------------------------------------------------------

    def evaluate_all(self, now: int) -> None:
        """Run every book whose session is open against the quote in force at `now`."""
        session = self.ctx.calendar.session_at(now)
        if session is None:
            return
        if session == REGULAR:
            for order in list(self.books.strategies.values()):
                self._evaluate_strategy(order, now)
        for (instrument_id, extended), book in list(self.books.by_instrument.items()):
            if not book:
                continue
            if session != REGULAR and (not extended or session not in (PRE_MARKET, AFTER_HOURS)):
                continue
            instrument = self.ctx.instruments.get(instrument_id)
            if instrument is None:
                continue
            quote = self.ctx.quote(instrument, now)
            if quote is not None:
                self.evaluate_book(book, quote, now)

    def evaluate_instrument(self, instrument: Instrument, now: int) -> None:
        """Run the books of one instrument (after its quote was set by hand)."""
        session = self.ctx.calendar.session_at(now)
        if session is None:
            return
        quote = self.ctx.quote(instrument, now)
        if quote is None:
            return
        for extended in (False, True):
            book = self.books.by_instrument.get((instrument.id, extended))
            if book and (session == REGULAR or extended):
                self.evaluate_book(book, quote, now)

    def evaluate_book(self, book: Book, quote: Quote, now: int) -> None:
        """One tick: trailing watermarks, triggers, then fills; touches only affected orders."""
        buy_touch = buy_trigger_price(quote)
        sell_touch = sell_trigger_price(quote)
        self._trail_book(book, buy_touch, sell_touch, now)
        while book.buy_stops and buy_touch is not None and book.buy_stops[0][0] <= buy_touch:
            self._trigger(book.buy_stops[0][2], book.buy_stops[0][0], now)
        while book.sell_stops and sell_touch is not None and -book.sell_stops[0][0] >= sell_touch:
            self._trigger(book.sell_stops[0][2], -book.sell_stops[0][0], now)
        self._fill_book(book, quote, now)

    def _trail_book(
        self, book: Book, buy_touch: Decimal | None, sell_touch: Decimal | None, now: int
    ) -> None:
        """Move the watermarks the touches improved on, and trigger the trailing stops crossed."""
        for order in list(book.trailing_unmarked.values()):
            self._trail(order, buy_touch if order.is_buy else sell_touch, now, force=True)
        if sell_touch is not None:
            for entry in self._crossed(book.trail_sell_marks, lambda e: e[0] < sell_touch):
                self._trail(entry[2], sell_touch, now)
            for entry in self._crossed(book.trail_sell_stops, lambda e: -e[0] >= sell_touch):
                self._trail(entry[2], sell_touch, now)
        if buy_touch is not None:
            for entry in self._crossed(book.trail_buy_marks, lambda e: -e[0] > buy_touch):
                self._trail(entry[2], buy_touch, now)
            for entry in self._crossed(book.trail_buy_stops, lambda e: e[0] <= buy_touch):
                self._trail(entry[2], buy_touch, now)

    def _fill_book(self, book: Book, quote: Quote, now: int) -> None:
        """Fill the market orders, then the limits the touch reached, while liquidity lasts."""
        for order in list(book.market.values()):
            self._evaluate_order(order, quote, now, entering=False)
        ask, bid = quote.ask, quote.bid
        if ask is not None:
            for entry in self._crossed(book.buys, lambda e: -e[0] >= ask):
                self._evaluate_order(entry[2], quote, now, entering=False)
                if not self.liquidity.levels(entry[2].instrument.symbol, True, quote, now):
                    break
        if bid is not None:
            for entry in self._crossed(book.sells, lambda e: e[0] <= bid):
                self._evaluate_order(entry[2], quote, now, entering=False)
                if not self.liquidity.levels(entry[2].instrument.symbol, False, quote, now):
                    break

    @staticmethod
    def _crossed(
        entries: SortedList, crosses: Callable[[tuple[Decimal, int, Order]], bool]
    ) -> list[tuple[Decimal, int, Order]]:
        """The prefix of `entries` that `crosses` (a copy: the caller changes the list)."""
        if not entries or not crosses(entries[0]):
            return []  # most ticks cross nothing: no iterator over the list
        return list(itertools.takewhile(crosses, entries))

    def _trigger(self, order: Order, price: Decimal, now: int) -> None:
        self.books.remove(order)
        self.ctx.emit(ev.OrderTriggered(ts_ns=now, order_id=order.id, price=price))
        self.books.add(order)
        quote = self.ctx.quote(self._instrument(order), now)
        if quote is not None:
            self._evaluate_order(order, quote, now, entering=True)
            self._join_queue(order, quote, now)

    def _trail(
        self, order: Order, reference: Decimal | None, now: int, force: bool = False
    ) -> None:
        """Move a trailing order's watermark to the best price seen (`reference`: the touch it
        trails, from `_buy_trigger_price` / `_sell_trigger_price`); trigger it when crossed."""
        if reference is None:
            return
        mark = order.trailing_watermark_px
        better = mark is None or (reference < mark if order.is_buy else reference > mark)
        if better or force:
            watermark = reference if better else mark
            assert watermark is not None
            stop = self._trailing_stop(order, watermark)
            limit = None
            if order.terms.order_type == o.TRAILING_STOP_LIMIT:
                limit = stop + (order.terms.limit_offset or Decimal(0))
            self.ctx.emit(
                ev.TrailingMoved(
                    ts_ns=now,
                    order_id=order.id,
                    watermark_px=watermark,
                    stop_px=stop,
                    limit_px=limit,
                )
            )
            if order.id in self.books:
                self.books.add(order)  # re-sorted by its new watermark and stop
        stop_px = order.trailing_stop_px
        if stop_px is not None and (reference >= stop_px if order.is_buy else reference <= stop_px):
            self._trigger(order, stop_px, now)

    @staticmethod
    def _trailing_stop(order: Order, watermark: Decimal) -> Decimal:
        offset = order.terms.trailing_offset or Decimal(0)
        if order.terms.trailing_offset_type == o.BPS:
            offset = watermark * offset / BPS
        stop = watermark + offset if order.is_buy else watermark - offset
        return to_tick(stop, up=not order.is_buy)

    def _evaluate_order(self, order: Order, quote: Quote, now: int, entering: bool) -> None:
        """Fill what the quote allows of one working order."""
        if not order.is_open or order.waits_for_trigger or order.status == o.PENDING_NEW:
            return
        touch = quote.ask if order.is_buy else quote.bid
        if touch is None:
            return
        limit = order.working_limit
        if limit is not None and (touch > limit if order.is_buy else touch < limit):
            return
        levels = [
            (price, size)
            for price, size in self.liquidity.levels(
                order.instrument.symbol, order.is_buy, quote, now
            )
            if limit is None or (price <= limit if order.is_buy else price >= limit)
        ]
        leaves = order.terms.quantity - order.filled_quantity
        if order.terms.time_in_force == o.FOK and sum(size for _, size in levels) < leaves:
            return
        offered = self.liquidity.offered_ns(quote, now)
        if order.queue_ahead and not entering:
            levels = self._wait_in_queue(order, levels, now, offered)
        for price, size in levels:  # a marketable order walks the book, level by level
            quantity = min(leaves, size)
            if quantity <= 0:
                break
            if limit is not None and not entering:
                fill_price = limit  # a resting limit fills at its own price
            else:
                fill_price = self.liquidity.slipped(price, order.is_buy, limit)
            self._fill(order, quantity, fill_price, now, offered)
            leaves -= quantity
            if not order.is_open:
                break

    def _evaluate_strategy(self, order: Order, now: int) -> None:
        """Fill a strategy as one package at the legs' touches when its net price is acceptable."""
        if not order.is_open or order.status == o.PENDING_NEW or order.legs is None:
            return
        touches: list[Decimal] = []
        units: Decimal | None = None
        stamps: list[int | None] = []
        for leg in order.legs:
            instrument = self.ctx.instruments.get(leg.instrument_id)
            quote = self.ctx.quote(instrument, now) if instrument else None
            buying = leg.side == o.BUY
            touch = None if quote is None else quote.ask if buying else quote.bid
            if quote is None or touch is None:
                return
            touches.append(touch)
            stamps.append(self.liquidity.offered_ns(quote, now))
            leg_units = (
                self.liquidity.available(leg.symbol, buying, quote, now) / leg.ratio
            ).to_integral_value(ROUND_FLOOR)
            units = leg_units if units is None else min(units, leg_units)
        net = net_price(order.legs, touches)
        if order.terms.limit_price is not None and net > order.terms.limit_price:
            return
        leaves = order.terms.quantity - order.filled_quantity
        if units is None or units <= 0 or (order.terms.time_in_force == o.FOK and units < leaves):
            return
        quantity = min(units, leaves)
        ctx = self.ctx
        ctx.emit(
            ev.StrategyFilled(
                ts_ns=now,
                order_id=order.id,
                quantity=quantity,
                execution_ids=[ctx.ids.uuid7(now) for _ in order.legs],
                prices=touches,
                venue=order.instrument.venue,
                settles_on=ctx.settlement_date(now),
                quote_ts_ns=stamps,
            )
        )
        if not order.is_open:
            self.books.remove(order)

    def _join_queue(self, order: Order, quote: Quote, now: int) -> None:
        """With queue position on, a limit left resting waits behind the displayed size at its
        price when it arrived (the touch, or a depth level); a new price level has no queue."""
        limit = order.working_limit
        if not self.settings.queue or not order.is_open or limit is None:
            return
        if order.waits_for_trigger or order.terms.time_in_force in (o.IOC, o.FOK):
            return
        # The side it joins is the one the other side's orders take: a buy joins the bids.
        same = quote.bid if order.is_buy else quote.ask
        size = quote.bid_size if order.is_buy else quote.ask_size
        ahead = Decimal(0)
        if same is not None:
            for price, shown in [
                (same, size),
                *self.liquidity.depth(
                    order.instrument.symbol, not order.is_buy, same, size, quote.ts_ns
                ),
            ]:
                if price == limit:
                    ahead = Decimal(shown)
        if ahead != order.queue_ahead:
            self.ctx.emit(ev.OrderQueued(ts_ns=now, order_id=order.id, ahead=ahead))

    def _wait_in_queue(
        self, order: Order, levels: list[tuple[Decimal, Decimal]], now: int, offered: int
    ) -> list[tuple[Decimal, Decimal]]:
        """What reaches a queued limit trades with the orders ahead of it first; the rest."""
        ahead = order.queue_ahead
        taken = Decimal(0)
        rest = []
        for price, size in levels:
            spent = min(size, ahead - taken)
            taken += spent
            if size > spent:
                rest.append((price, size - spent))
        if taken:
            self.ctx.emit(
                ev.QueueAdvanced(
                    ts_ns=now,
                    order_id=order.id,
                    ahead=ahead - taken,
                    taken=taken,
                    quote_ts_ns=offered,
                )
            )
        return rest

    def _fill(
        self, order: Order, quantity: Decimal, price: Decimal, now: int, quote_ts: int | None = None
    ) -> None:
        ctx = self.ctx
        ctx.emit(
            ev.OrderFilled(
                ts_ns=now,
                order_id=order.id,
                execution_id=ctx.ids.uuid7(now),
                quantity=quantity,
                price=price,
                venue=order.instrument.venue,
                settles_on=ctx.settlement_date(now),
                quote_ts_ns=quote_ts,
            )
        )
        if not order.is_open:
            self.books.remove(order)

    def _instrument(self, order: Order) -> Instrument:
        instrument = self.ctx.instruments.get(order.instrument.instrument_id)
        assert instrument is not None, f"unknown instrument {order.instrument.instrument_id}"
        return instrument
