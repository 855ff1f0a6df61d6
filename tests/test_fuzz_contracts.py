"""Property: a table, text, N-D or multi-input model answers any payload or says 4xx, never 5xx.

Payloads are grown from each model's own golden request: its values with cells swapped for
junk, rows dropped or repeated, records with keys missing or added, several inputs with one
left out, and every Seldon payload kind around them. Each goes through
``seldon_core.seldon_methods.predict`` as the REST (a dict) and gRPC (a proto) servers pass it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from conftest import CONTRACT_MODELS, MODELS_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.metrics import SeldonMetrics
from seldon_core.proto import prediction_pb2
from seldon_core.seldon_methods import predict
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from wrappers import Manifest, wrapper_for
from wrappers.contract import TableSpec

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # junk numbers on purpose
EXAMPLES = int(os.environ.get("MODELREPO_FUZZ_EXAMPLES", 150))

numbers = st.one_of(
    st.floats(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
)
cells = st.one_of(numbers, st.text(max_size=6), st.none(), st.booleans())
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def like(value: Any) -> st.SearchStrategy[Any]:
    """``value`` itself, or a variant of the same shape with junk here and there."""
    if isinstance(value, list):
        element = like(value[0]) if value else cells
        return st.one_of(st.just(value), st.lists(element, max_size=4), json_values)
    if isinstance(value, dict):
        keys = st.sampled_from(sorted(value)) | st.text(max_size=4)
        return st.one_of(
            st.just(value),
            st.fixed_dictionaries({k: like(v) for k, v in value.items()}),
            st.dictionaries(keys, like(next(iter(value.values()))), max_size=len(value) + 1),
        )
    return st.one_of(st.just(value), cells)


def messages(manifest: Manifest) -> st.SearchStrategy[object]:
    golden = manifest.golden[-1].input
    (first, *others) = manifest.inputs
    single = golden[first.name]
    forms = [st.builds(lambda v: {"jsonData": v}, like(golden if others else single))]
    if isinstance(first, TableSpec) and not others:
        columns = first.column_names
        rows = [[record.get(c) for c in columns] for record in single]
        names = st.one_of(st.just(columns), st.permutations(columns), st.lists(st.text(max_size=4)))
        forms.append(
            st.builds(lambda v, n: {"data": {"names": n, "ndarray": v}}, like(rows), names)
        )
    else:
        forms.append(st.builds(lambda v: {"data": {"ndarray": v}}, like(single)))
    forms += [
        st.builds(lambda s: {"strData": s}, st.text(max_size=20)),
        st.dictionaries(
            st.sampled_from(["data", "strData", "binData", "jsonData", "meta"]), json_values
        ),
    ]
    return st.one_of(*forms)


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_any_payload_gets_an_answer_or_a_client_error(name, reliability):
    model_dir = MODELS_DIR / name
    manifest = Manifest.read(model_dir)
    model = wrapper_for(manifest.framework)(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    seldon_metrics = SeldonMetrics()
    counts = {"requests": 0, "bad_inputs": 0, "server_errors": 0, "answered": 0}

    def outcome(request: object) -> None:
        counts["requests"] += 1
        try:
            response = predict(model, request, seldon_metrics)
        except SeldonMicroserviceException as error:
            if error.status_code >= 500:
                counts["server_errors"] += 1
            assert 400 <= error.status_code < 500, f"{error.status_code}: {error.message}"
            counts["bad_inputs"] += 1
            return
        counts["answered"] += 1
        if isinstance(response, prediction_pb2.SeldonMessage):
            response = seldon_message_to_json(response)
        json.dumps(response, allow_nan=False)  # valid JSON: no NaN/Infinity tokens
        answered = response.get("jsonData") or response["data"]["ndarray"]
        assert answered

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages(manifest))
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
        reliability.add(f"in-process fuzz ({name})", **counts)
    assert counts["answered"] > 0 and counts["bad_inputs"] > 0, counts
