"""What the in-process fuzz tests share: junk values, and one driver through Seldon's ``predict``.

Each generated message goes through ``seldon_core.seldon_methods.predict`` exactly as the REST
server (a dict) and the gRPC server (a ``SeldonMessage`` proto) pass it, into a loaded wrapper.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.metrics import SeldonMetrics
from seldon_core.proto import prediction_pb2
from seldon_core.seldon_methods import predict
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

EXAMPLES = int(os.environ.get("MODELREPO_FUZZ_EXAMPLES", 150))  # raise for a deeper run

numbers = st.one_of(
    st.floats(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def fuzz_through_seldon(
    model: Any,
    messages: st.SearchStrategy[object],
    answered: Callable[[dict[str, Any]], None],
    reliability: Any,
) -> dict[str, int]:
    """Sends every message as REST JSON and, where it can be one, as a gRPC proto. Each must
    get an answer (valid JSON, checked by ``answered``) or a 4xx. The counts go to the
    run's reliability figures, also when a message fails, and are returned."""
    seldon_metrics = SeldonMetrics()
    counts = {"requests": 0, "bad_inputs": 0, "server_errors": 0, "answered": 0}

    def outcome(request: object) -> None:
        counts["requests"] += 1
        try:
            response = predict(model, request, seldon_metrics)
        except SeldonMicroserviceException as error:
            counts["server_errors"] += int(error.status_code >= 500)
            assert 400 <= error.status_code < 500, f"{error.status_code}: {error.message}"
            counts["bad_inputs"] += 1
            return
        counts["answered"] += 1
        if isinstance(response, prediction_pb2.SeldonMessage):
            response = seldon_message_to_json(response)
        json.dumps(response, allow_nan=False)  # valid JSON: no NaN/Infinity tokens
        answered(response)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages)
    def check(message: object) -> None:
        outcome(message)
        try:
            proto = json_to_seldon_message(message)
        except Exception:  # not expressible as a SeldonMessage: a gRPC client cannot send it
            return
        outcome(proto)

    try:
        check()
    finally:
        reliability.add(f"in-process fuzz ({model.manifest.name})", **counts)
    return counts
