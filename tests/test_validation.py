"""Input checks: every malformed batch is refused with a message naming expected and received."""

import math

import numpy as np
import pytest

from wrappers import InvalidInput
from wrappers.manifest import InputSpec
from wrappers.validation import validate_input

SPEC = InputSpec(names=["a", "b", "c"], dtype="float32", shape=[-1, 3])


def test_valid_batch_is_cast_to_the_model_dtype():
    batch = validate_input([[1, 2, 3], [4.5, 5, 6]], None, SPEC)
    assert batch.dtype == np.float32
    assert batch.tolist() == [[1, 2, 3], [4.5, 5, 6]]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([[1, 2]], "expected 3 features per row (a, b, c), got 2"),
        ([1, 2, 3], "rank 1"),
        ([[[1, 2, 3]]], "rank 3"),
        ([["x", 2, 3]], "expected numbers (float32)"),
        ([[True, False, True]], "booleans"),
        ([[1, None, 3]], "NoneType"),
        ([[1, 2], [3]], "rectangular"),
        (np.zeros((0, 3)), "got none"),
        ([[1, math.nan, 3]], "NaN or Infinity"),
        ([[1, math.inf, 3]], "NaN or Infinity"),
        ([[1, {"k": 1}, 3]], "dict"),
        ([[1, 10**400, 3]], "do not fit float32"),
        ([[1, 1e300, 3]], "NaN or Infinity"),
    ],
)
def test_bad_batches_are_refused_with_a_clear_message(payload, fragment):
    with pytest.raises(InvalidInput) as caught:
        validate_input(payload, None, SPEC)
    assert fragment in caught.value.message
    assert caught.value.status_code == 400


def test_batch_limit():
    with pytest.raises(InvalidInput, match="exceeds the limit of 2 rows"):
        validate_input([[1, 2, 3]] * 3, None, SPEC, max_rows=2)


def test_named_columns_are_reordered_to_the_model_order():
    batch = validate_input([[3, 1, 2]], ["c", "a", "b"], SPEC)
    assert batch.tolist() == [[1, 2, 3]]


def test_unknown_names_are_refused():
    with pytest.raises(InvalidInput, match=r"missing \['c'\], unexpected \['z'\]"):
        validate_input([[1, 2, 3]], ["a", "b", "z"], SPEC)


def test_nan_allowed_when_the_model_declares_it():
    spec = SPEC.model_copy(update={"allow_nan": True})
    assert np.isnan(validate_input([[1, math.nan, 3]], None, spec)[0, 1])
