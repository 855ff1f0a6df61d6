"""Property: through Seldon's own request handling, any payload gets an answer or a 4xx, never more.

Hypothesis generates SeldonMessages (well-formed and not) and each one goes through
``seldon_core.seldon_methods.predict`` exactly as the REST server (a dict) and the gRPC server
(a ``SeldonMessage`` proto) pass it, into each wrapper on its real artifact.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.metrics import SeldonMetrics
from seldon_core.proto import prediction_pb2
from seldon_core.seldon_methods import predict
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # junk numbers on purpose
EXAMPLES = int(os.environ.get("MODELREPO_FUZZ_EXAMPLES", 150))  # raise for a deeper run

numbers = st.one_of(
    st.floats(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
)
cells = st.one_of(numbers, numbers, numbers, st.text(max_size=3), st.none(), st.booleans())
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def messages(width: int, names: list[str]) -> st.SearchStrategy[object]:
    rows = st.lists(st.lists(cells, min_size=width - 1, max_size=width + 1), min_size=0, max_size=4)
    exact_rows = st.lists(st.lists(numbers, min_size=width, max_size=width), min_size=1, max_size=4)
    tensor = st.fixed_dictionaries(
        {
            "shape": st.lists(st.integers(-1, 2 * width), min_size=0, max_size=3),
            "values": st.lists(numbers, max_size=3 * width),
        }
    )
    data = st.fixed_dictionaries(
        {},
        optional={
            "names": st.one_of(
                st.just(names), st.permutations(names), st.lists(st.text(max_size=4)), json_values
            ),
            "ndarray": st.one_of(exact_rows, exact_rows, rows, json_values),
            "tensor": st.one_of(tensor, json_values),
        },
    )
    meta = st.one_of(
        st.fixed_dictionaries(
            {}, optional={"puid": st.text(max_size=8), "tags": json_values, "metrics": json_values}
        ),
        json_values,
    )
    return st.one_of(
        st.fixed_dictionaries({"data": data}, optional={"meta": meta}),
        st.fixed_dictionaries({"data": data}),
        st.fixed_dictionaries({"data": st.fixed_dictionaries({"ndarray": exact_rows})}),
        st.dictionaries(
            st.sampled_from(["data", "strData", "binData", "jsonData", "meta"]), json_values
        ),
        json_values,
    )


@pytest.fixture(scope="module")
def seldon_metrics() -> SeldonMetrics:
    return SeldonMetrics()


def test_any_payload_gets_an_answer_or_a_client_error(loaded, seldon_metrics, reliability):
    spec = loaded.manifest.matrix
    counts = {"requests": 0, "bad_inputs": 0, "server_errors": 0, "answered": 0}

    def outcome(request: object) -> None:
        counts["requests"] += 1
        try:
            response = predict(loaded, request, seldon_metrics)
        except SeldonMicroserviceException as error:
            assert 400 <= error.status_code < 500, f"{error.status_code}: {error.message}"
            counts["bad_inputs"] += 1
            return
        counts["answered"] += 1
        if isinstance(response, prediction_pb2.SeldonMessage):
            response = seldon_message_to_json(response)
        json.dumps(response, allow_nan=False)  # valid JSON: no NaN/Infinity tokens
        assert response["data"]["names"] == loaded.class_names()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages(spec.width, spec.names))
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
        reliability.add(f"in-process fuzz ({loaded.manifest.name})", **counts)
    assert counts["answered"] > 0 and counts["bad_inputs"] > 0, counts
