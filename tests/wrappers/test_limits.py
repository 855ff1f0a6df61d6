"""The shape and integer limits, in process: any shape, datatype and value either decodes to
exactly what was sent or is an ``InvalidInput``; nothing else escapes and nothing wraps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wrappers.contract import TableSpec, TensorSpec, TextSpec, max_elements
from wrappers.contract.table import Column
from wrappers.errors import MESSAGE_CHARS, InvalidInput, ServingError, excerpt
from wrappers.limits import MAX_RANK, check_integers, check_shape
from wrappers.protocols.v2.datatypes import NUMPY, from_contents, from_elements, from_raw
from wrappers.protocols.v2.open_inference_pb2 import InferTensorContents

LIMIT = 1000
DIMENSIONS = st.one_of(
    st.integers(0, 4), st.integers(-(2**70), 2**70), st.sampled_from([2**31, 2**63, 2**64])
)
SHAPES = st.lists(DIMENSIONS, max_size=40)
INTEGER_TYPES = [d for d in NUMPY if d.startswith(("INT", "UINT"))]


@settings(max_examples=300, deadline=None)
@given(shape=SHAPES)
def test_a_shape_within_the_limits_is_taken_and_any_other_refused(shape):
    within = (
        len(shape) <= MAX_RANK and all(0 <= d <= LIMIT for d in shape) and math.prod(shape) <= LIMIT
    )
    if within:
        assert check_shape(shape, "x", LIMIT) == tuple(shape)
    else:
        with pytest.raises(InvalidInput):
            check_shape(shape, "x", LIMIT)


@settings(max_examples=300, deadline=None)
@given(
    datatype=st.sampled_from(sorted(NUMPY)),
    shape=SHAPES,
    data=st.lists(
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
            st.text(max_size=3),
            st.none(),
        ),
        max_size=6,
    ),
)
def test_v2_json_tensors_decode_or_are_refused(datatype, shape, data):
    try:
        dims = check_shape(shape, "x", LIMIT)
        array = from_elements(datatype, dims, data, "x", nullable=True)
    except InvalidInput:
        return
    assert array.shape == dims
    if array.dtype.kind in "iu":  # integers are exactly what was sent: nothing wrapped
        assert array.ravel().tolist() == data


@settings(max_examples=200, deadline=None)
@given(
    datatype=st.sampled_from(INTEGER_TYPES),
    values=st.lists(st.integers(-(2**64), 2**64), max_size=4),
)
def test_v2_grpc_contents_keep_integers_or_refuse_them(datatype, values):
    contents = InferTensorContents()
    field = {"INT64": "int64_contents", "UINT64": "uint64_contents"}.get(
        datatype, "uint_contents" if datatype.startswith("U") else "int_contents"
    )
    try:
        getattr(contents, field).extend(values)
    except (ValueError, TypeError):  # protobuf refuses what its field cannot hold
        return
    try:
        array = from_contents(datatype, (len(values),), contents, "x")
    except InvalidInput:
        info = np.iinfo(NUMPY[datatype])
        assert any(not info.min <= v <= info.max for v in values)
        return
    assert array.tolist() == values


@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from(["int8", "int16", "int32", "int64", "uint8"]),
    values=st.lists(
        st.one_of(st.integers(-(2**65), 2**65), st.sampled_from([2.0**63, -(2.0**63), 1e30])),
        min_size=1,
        max_size=4,
    ),
)
def test_contract_integers_never_wrap(dtype, values):
    spec = TensorSpec(name="x", dtype=dtype, shape=[-1])
    try:
        checked = spec.check(np.asarray(values, dtype=object))
    except InvalidInput:
        info = np.iinfo(dtype)
        assert any(not info.min <= v <= info.max for v in values)
        return
    assert checked.tolist() == values


@pytest.mark.parametrize("age", [2**64 - 1, 2**63, 1e30, -(2.0**64), 10**400])
def test_an_int_column_refuses_what_int64_cannot_hold(age):
    column = Column(name="age", type="int", nullable=True)
    for values in ([age], [age, None]):
        with pytest.raises(InvalidInput, match="an int column holds integers in"):
            column.check(values, "table")


def test_an_int_column_keeps_int64_bounds():
    column = Column(name="age", type="int")
    edges = [-(2**63), 2**63 - 1]
    assert column.check(edges, "table").tolist() == edges


def test_a_float_column_refuses_an_integer_beyond_float64():
    with pytest.raises(InvalidInput, match="expected a finite number"):
        Column(name="income", type="float").check([10**400], "table")


def test_raw_contents_take_the_checked_shape():
    dims = check_shape([2, 2], "x", LIMIT)
    raw = np.arange(4, dtype="<i4").tobytes()
    assert from_raw("INT32", dims, raw, "x").tolist() == [[0, 1], [2, 3]]


def test_the_element_limit_is_max_batch_rows_of_the_widest_input():
    matrix = TensorSpec(name="m", dtype="float32", shape=[-1, 1, 8, 8])
    table = TableSpec(name="t", columns=[Column(name=c, type="float") for c in "abc"])
    assert max_elements([matrix], 10) == 640
    assert max_elements([table, TextSpec(name="s")], 10) == 30
    assert max_elements([TensorSpec(name="f", dtype="int32", shape=[-1, -1])], 10) == 100


def test_integers_are_compared_exactly_not_as_floats():
    with pytest.raises(InvalidInput, match=r"got 9\.223372036854776e"):
        check_integers(np.array([2.0**63]), np.dtype(np.int64), "x")
    check_integers(np.array([2**63 - 1], dtype=np.int64), np.dtype(np.int64), "x")


def test_declared_bounds_narrow_the_dtype_range_on_either_side():
    ids = np.dtype(np.int64)
    check_integers(np.array([0, 49]), ids, "ids", bounds=(0, 49))
    with pytest.raises(InvalidInput, match=r"ids: this input holds integers in \[0, 49\], got 50"):
        check_integers(np.array([3, 50]), ids, "ids", "this input", (0, 49))
    with pytest.raises(InvalidInput, match=r"in \[-5, 127\], got -6"):
        check_integers([-6], np.dtype(np.int8), "x", bounds=(-5, None))
    with pytest.raises(InvalidInput, match=r"in \[-128, 127\], got 300"):  # wider than int8
        check_integers([300], np.dtype(np.int8), "x", bounds=(None, 1000))


def test_messages_quote_a_bounded_excerpt_of_the_request():
    name = "n" * 2_000_000
    assert excerpt(name) == "n" * 80 + "... (2000000 characters)"
    assert excerpt("short") == "short" and excerpt(["a"]) == "['a']"
    with pytest.raises(InvalidInput) as caught:
        from_elements("NOPE", (1,), [1], excerpt(name))
    assert len(caught.value.message) < 300
    assert len(str(ServingError("x" * 10**6))) <= MESSAGE_CHARS + 40
