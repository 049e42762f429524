"""Grant checks for `/v1/accounts/{account_id}/...`: made before anything else is read."""

from __future__ import annotations

from oems.api.errors import FORBIDDEN_MESSAGE, Forbidden
from oems.api.params import path_int
from oems.api.wire import Call
from oems.domain.accounts import Account


def granted_account(call: Call) -> Account:
    """The path's account when the caller's key holds a grant for it; otherwise 403.

    An account that does not exist is refused the same way as one that is not the caller's, so the
    answer never tells a caller which account ids exist.
    """
    account_id = path_int(call.path_param("account_id"), "account_id")
    state = call.runtime.state
    if call.key is None or not state.may_access(call.key, account_id):
        raise Forbidden(FORBIDDEN_MESSAGE)
    return state.accounts[account_id]
