"""The executions endpoint: an account's fills, newest first, filtered and paged."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from oems.api.access import granted_account
from oems.api.pagination import newest_first_page, query_filters
from oems.api.params import Query
from oems.api.rendering import render_execution
from oems.api.wire import USER, Call, Reply, Routes
from oems.store.history import ExecutionQuery, OrderQuery, uuid_refs

if TYPE_CHECKING:
    from oems.runtime import Runtime

routes = Routes()


@routes.get(USER, "/v1/accounts/{account_id}/executions")
async def get_executions(call: Call) -> Any:
    """The account's executions, newest first, one per fill."""
    return executions_page(call.runtime, granted_account(call).id, call.query)


def executions_page(runtime: Runtime, account_id: int, params: Any) -> Reply:
    """A page of the account's executions as `GET .../executions` with the query parameters
    `params` answers it (all of them are in the history store once their batch is durable, which
    is when a read runs)."""
    query = Query(params)
    instrument_ids = query.instrument_ids("instrument_ids", runtime.instruments.resolve)
    underliers = query.instrument_ids("underlying_instrument_ids", runtime.instruments.resolve)
    refs = frozenset(query.csv("order_ids")) or None
    history = runtime.journal.history
    order_ids: set[uuid.UUID] | None = None
    if refs is not None:  # an order named by id or client order id, open or closed
        wanted = OrderQuery(refs=refs)
        open_orders = runtime.state.open_orders.get(account_id, {}).values()
        order_ids = {o.id for o in open_orders if wanted.matches(o)}
        order_ids |= history.order_ids_for(account_id, refs)
        order_ids |= set(uuid_refs(refs))
    filters = ExecutionQuery(
        instrument_ids=None if instrument_ids is None else frozenset(instrument_ids),
        underliers=None if underliers is None else frozenset(underliers),
        order_ids=None if order_ids is None else frozenset(order_ids),
        start_ns=query.instant("from"),
        end_ns=query.instant("to"),
    )
    sources = [history.executions(account_id, filters)]
    fingerprint = query_filters("executions", account_id, params)
    page, meta = newest_first_page(sources, query, fingerprint)
    return Reply([render_execution(execution) for execution in page], meta)
