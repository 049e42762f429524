"""Generated requests from the vendor document against a real server (issue 9): no 5xx, every
error in the envelope, and no 4xx changes the journal."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.generated_requests import IN_SCOPE, Failure, run
from tests.support.servers import ServerProcess

# A couple of thousand cases keep this well under a minute on an idle machine.
EXAMPLES = 2000


@pytest.mark.slow
def test_generated_requests_get_no_5xx_their_errors_in_the_envelope_and_4xx_change_nothing(
    vendor_spec: dict[str, Any], manual_server: ServerProcess
) -> None:
    if not vendor_spec:
        pytest.skip("the vendor document is absent (a fresh clone): nothing to generate from")
    failures: list[Failure] = []
    answers = run(manual_server, EXAMPLES, failures.append)
    assert not failures, "\n".join(str(failure) for failure in failures[:10])
    assert sum(answers.values()) >= EXAMPLES
    # Every operation was tried, and some requests got through to the engine.
    assert {operation for operation, _ in answers} == {f"{m} {p}" for m, p in IN_SCOPE}
    assert answers[("POST /v1/accounts/{account_id}/orders", 200)] > 0
