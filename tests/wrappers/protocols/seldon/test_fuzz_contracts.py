"""Property: a table, text, N-D or multi-input model answers any payload or says 4xx, never 5xx.

Payloads are grown from each model's own golden request: its values with cells swapped for
junk, rows dropped or repeated, records with keys missing or added, several inputs with one
left out, and every Seldon payload kind around them (``fuzzing.fuzz_through_seldon`` sends
them as REST and gRPC do).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CONTRACT_MODELS, MODELS_DIR
from fuzzing import fuzz_through_seldon, json_values, numbers
from hypothesis import strategies as st

from wrappers import Manifest, wrapper_for
from wrappers.contract import TableSpec

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # junk numbers on purpose
cells = st.one_of(numbers, st.text(max_size=6), st.none(), st.booleans())


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

    def answered(response: dict) -> None:
        assert response.get("jsonData") or response["data"]["ndarray"]

    counts = fuzz_through_seldon(model, messages(manifest), answered, reliability)
    assert counts["answered"] > 0 and counts["bad_inputs"] > 0, counts
