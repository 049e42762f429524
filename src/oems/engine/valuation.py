"""What positions are worth: marks from the quotes, margin terms from the instruments."""

from __future__ import annotations

import uuid
from decimal import Decimal

from oems.domain.balances import AccountValue, MarginRates, value_account
from oems.domain.positions import Position
from oems.domain.state import TradingState
from oems.market.calendar import REGULAR, TradingCalendar
from oems.market.instrument_master import InstrumentMaster
from oems.market.market_data import MarketData
from oems.market.quotes import spot_price


class Valuation:
    """Marks, margin rates and account values over the live state and market data."""

    def __init__(
        self,
        state: TradingState,
        instruments: InstrumentMaster,
        market: MarketData,
        calendar: TradingCalendar,
    ) -> None:
        self.state = state
        self.instruments = instruments
        self.market = market
        self.calendar = calendar

    def mark_price(self, instrument_id: uuid.UUID, now_ns: int) -> Decimal | None:
        """The price positions in `instrument_id` are valued at: the quote's midpoint or last sale."""
        instrument = self.instruments.get(instrument_id)
        if instrument is None:
            return None
        return spot_price(self.market.quote(instrument, now_ns))

    def marks(self, instrument_ids: list[uuid.UUID], at_ns: int) -> dict[uuid.UUID, Decimal]:
        """The valuation price of each instrument at `at_ns` (those without one are left out)."""
        marks = {}
        for instrument_id in instrument_ids:
            price = self.mark_price(instrument_id, at_ns)
            if price is not None:
                marks[instrument_id] = price
        return marks

    def margin_rates(
        self, instrument_id: uuid.UUID, underlying_price: Decimal | None = None
    ) -> MarginRates:
        """The margin terms of an instrument (an option's with its underlier's price)."""
        instrument = self.instruments.get(instrument_id)
        if instrument is None:
            return MarginRates(False, Decimal(1), Decimal(1), False)
        terms = instrument.option
        return MarginRates(
            marginable=instrument.is_marginable,
            long_maintenance=instrument.long_margin_rate or Decimal(1),
            short_maintenance=instrument.short_margin_rate or Decimal(1),
            is_option=terms is not None,
            contract_type=terms.contract_type if terms else None,
            strike=terms.strike if terms else None,
            underlying_price=underlying_price,
        )

    def account_value(self, account_id: int, now_ns: int) -> AccountValue:
        """The account's balances valued at current marks."""
        account = self.state.accounts[account_id]
        positions = self.state.positions.get(account_id, {}).values()
        # `value_account` asks for a position's mark and rates more than once (its strategy
        # offsets group the options again), and an underlier's mark for each of its options:
        # each is looked up once per valuation.
        marks: dict[uuid.UUID, Decimal | None] = {}
        rates: dict[uuid.UUID, MarginRates] = {}

        def mark_of(instrument_id: uuid.UUID) -> Decimal | None:
            if instrument_id not in marks:
                marks[instrument_id] = self.mark_price(instrument_id, now_ns)
            return marks[instrument_id]

        def rates_of(p: Position) -> MarginRates:
            found = rates.get(p.instrument_id)
            if found is None:
                underlier = p.underlying_instrument_id
                found = rates[p.instrument_id] = self.margin_rates(
                    p.instrument_id, mark_of(underlier) if underlier else None
                )
            return found

        return value_account(
            account,
            positions,
            lambda p: mark_of(p.instrument_id),
            rates_of,
            self.calendar.session_at(now_ns) == REGULAR,
        )
