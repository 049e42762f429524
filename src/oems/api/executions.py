"""The executions endpoint: an account's fills, newest first, filtered and paged."""

from __future__ import annotations

from typing import Any

from oems.api.access import granted_account
from oems.api.pagination import newest_first_page, query_filters
from oems.api.params import Query
from oems.api.rendering import render_execution
from oems.api.wire import USER, Call, Reply, Routes
from oems.domain.positions import Execution

routes = Routes()


@routes.get(USER, "/v1/accounts/{account_id}/executions")
async def get_executions(call: Call) -> Any:
    """The account's executions, newest first, one per fill."""
    account = granted_account(call)
    query = Query(call.query)
    instrument_ids = query.instrument_ids("instrument_ids", call.runtime.instruments.resolve)
    underliers = query.instrument_ids("underlying_instrument_ids", call.runtime.instruments.resolve)
    refs = set(query.csv("order_ids")) or None
    start = query.instant("from")
    end = query.instant("to")
    orders = call.runtime.state.orders

    def matches(execution: Execution) -> bool:
        if refs is not None and str(execution.order_id) not in refs:
            client_id = orders[execution.order_id].client_order_id
            if client_id not in refs:
                return False
        return (
            (instrument_ids is None or execution.instrument_id in instrument_ids)
            and (underliers is None or execution.underlying_instrument_id in underliers)
            and (start is None or execution.ts_ns >= start)
            and (end is None or execution.ts_ns <= end)
        )

    executions = call.runtime.state.executions.get(account.id, [])
    filters = query_filters("executions", account.id, call.query)
    page, meta = newest_first_page(executions, matches, query, filters)
    return Reply([render_execution(execution) for execution in page], meta)
