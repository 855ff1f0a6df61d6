"""Property: through Seldon's own request handling, any payload gets an answer or a 4xx, never more.

Hypothesis generates SeldonMessages (well-formed and not) and each one goes through
``seldon_core.seldon_methods.predict`` exactly as the REST server (a dict) and the gRPC server
(a ``SeldonMessage`` proto) pass it, into each wrapper on its real artifact.
"""

from __future__ import annotations

import pytest
from fuzzing import fuzz_through_seldon, json_values, numbers
from hypothesis import strategies as st

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # junk numbers on purpose

cells = st.one_of(numbers, numbers, numbers, st.text(max_size=3), st.none(), st.booleans())


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


def test_any_payload_gets_an_answer_or_a_client_error(loaded, reliability):
    spec = loaded.manifest.matrix

    def answered(response: dict) -> None:
        assert response["data"]["names"] == loaded.class_names()

    counts = fuzz_through_seldon(loaded, messages(spec.width, spec.names), answered, reliability)
    assert counts["answered"] > 0 and counts["bad_inputs"] > 0, counts
