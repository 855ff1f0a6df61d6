"""The typed contract in-process: each spec refuses what does not fit it, naming the input."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from wrappers import InvalidInput, Manifest, codecs
from wrappers.contract import Column, TableSpec, TensorSpec, TextSpec
from wrappers.core.manifest import golden_pairs, upgrade

MATRIX = TensorSpec(name="x", names=["a", "b", "c"], dtype="float32", shape=[-1, 3])
IMAGES = TensorSpec(name="images", dtype="float32", shape=[-1, 1, 2, 2])
TABLE = TableSpec(
    name="applicants",
    columns=[
        Column(name="age", type="int"),
        Column(name="income", type="float", nullable=True),
        Column(name="city", type="category", categories=["Oslo", "Rome"]),
        Column(name="member", type="bool"),
        Column(name="note", type="string", nullable=True, max_length=10),
    ],
)
TEXT = TextSpec(name="review", max_length=20)
RECORDS = [
    {"age": 31, "income": 52000.5, "city": "Oslo", "member": True, "note": "ok"},
    {"age": 45, "income": None, "city": "Rome", "member": False, "note": None},
]


def read(spec, value, names=None, max_rows=None):
    return codecs.read_inputs([spec], {spec.name: value}, {spec.name: names}, max_rows)[spec.name]


def test_a_valid_batch_is_cast_to_the_model_dtype():
    batch = read(MATRIX, [[1, 2, 3], [4.5, 5, 6]])
    assert batch.dtype == np.float32
    assert batch.tolist() == [[1, 2, 3], [4.5, 5, 6]]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([[1, 2]], "x: expected 3 features per row (a, b, c), got 2 in dimension 1"),
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
def test_bad_matrices_are_refused_with_a_clear_message(payload, fragment):
    with pytest.raises(InvalidInput) as caught:
        read(MATRIX, payload)
    assert fragment in caught.value.message
    assert caught.value.status_code == 400


def test_batch_limit_and_named_columns():
    with pytest.raises(InvalidInput, match="exceeds the limit of 2 rows"):
        read(MATRIX, [[1, 2, 3]] * 3, max_rows=2)
    assert read(MATRIX, [[3, 1, 2]], ["c", "a", "b"]).tolist() == [[1, 2, 3]]
    with pytest.raises(InvalidInput, match=r"missing \['c'\], unexpected \['z'\]"):
        read(MATRIX, [[1, 2, 3]], ["a", "b", "z"])
    allowing = MATRIX.model_copy(update={"allow_nan": True})
    assert np.isnan(read(allowing, [[1, math.nan, 3]])[0, 1])


def test_n_d_tensors_check_every_fixed_dimension():
    images = np.arange(8, dtype=np.float64).reshape(2, 1, 2, 2)
    assert read(IMAGES, images.tolist()).shape == (2, 1, 2, 2)
    assert read(IMAGES, {"shape": [2, 1, 2, 2], "values": images.ravel().tolist()}).shape[0] == 2
    with pytest.raises(InvalidInput, match=r"images: expected shape \[N, 1, 2, 2\], got 3"):
        read(IMAGES, np.zeros((2, 1, 2, 3)).tolist())
    with pytest.raises(InvalidInput, match="rank 4"):
        read(IMAGES, np.zeros((2, 4)).tolist())


@pytest.mark.parametrize(
    ("dtype", "good", "bad", "fragment"),
    [
        ("int8", [[1, -128]], [[1, 128]], "int8 holds integers"),
        ("int64", [[1.0, 2.0]], [[1.5, 2]], "whole numbers"),
        ("uint8", [[0, 255]], [[-1, 0]], "uint8 holds integers"),
        ("bool", [[True, False]], [[1, 0]], "booleans"),
        ("string", [["a", "b"]], [["a", 1]], "expected strings"),
        ("float16", [[0.5, 1]], [["a", 1]], "expected numbers (float16)"),
    ],
)
def test_every_tensor_dtype_keeps_its_values_and_refuses_others(dtype, good, bad, fragment):
    spec = TensorSpec(name="t", dtype=dtype, shape=[-1, 2])
    assert read(spec, good).tolist() == good
    with pytest.raises(InvalidInput, match=re.escape(fragment)):
        read(spec, bad)


@pytest.mark.parametrize(
    "form",
    [
        RECORDS,
        {k: [r[k] for r in RECORDS] for k in RECORDS[0]},
        pd.DataFrame(RECORDS),
    ],
    ids=["records", "columns", "dataframe"],
)
def test_a_table_is_read_from_records_columns_or_a_dataframe(form):
    frame = read(TABLE, form)
    assert list(frame.columns) == TABLE.column_names
    assert frame["age"].dtype == np.int64 and frame["member"].dtype == bool
    assert math.isnan(frame["income"][1]) and math.isnan(frame["note"][1])
    assert frame["city"].tolist() == ["Oslo", "Rome"]


def test_table_rows_follow_the_names_given_with_them():
    names = ["city", "age", "income", "member", "note"]
    rows = [[r[n] for n in names] for r in RECORDS]
    frame = read(TABLE, rows, names)
    assert frame["age"].tolist() == [31, 45]
    assert read(TABLE, [[r[c] for c in TABLE.column_names] for r in RECORDS])["age"][0] == 31


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r.pop("age"), "missing ['age']"),
        (lambda r: r.update(extra=1), "unexpected ['extra']"),
        (lambda r: r.update(age="31"), "column 'age': expected a whole number, got str '31'"),
        (lambda r: r.update(age=31.5), "column 'age': expected a whole number"),
        (lambda r: r.update(city=None), "column 'city' is not nullable, got null in row 0"),
        (lambda r: r.update(city="Paris"), "'Paris' is not one of the known categories"),
        (lambda r: r.update(member="yes"), "column 'member': expected true or false"),
        (lambda r: r.update(income=math.inf), "column 'income': expected a finite number"),
        (lambda r: r.update(note="x" * 11), "longer than 10 characters"),
    ],
)
def test_a_table_names_the_column_at_fault(change, fragment):
    records = json.loads(json.dumps(RECORDS))
    for record in records:
        change(record)
    with pytest.raises(InvalidInput) as caught:
        read(TABLE, records)
    assert fragment in caught.value.message
    assert caught.value.message.startswith("applicants")


def test_texts_come_as_one_string_a_list_or_rows_of_one():
    assert read(TEXT, "good") == ["good"]
    assert read(TEXT, ["good", "bad"]) == ["good", "bad"]
    assert read(TEXT, [["good"], ["bad"]]) == ["good", "bad"]
    with pytest.raises(InvalidInput, match="review: expected a string in row 1, got int"):
        read(TEXT, ["good", 5])
    with pytest.raises(InvalidInput, match="row 0 has 2 values"):
        read(TEXT, [["good", "bad"]])
    with pytest.raises(InvalidInput, match="more than the 20 allowed"):
        read(TEXT, ["x" * 21])


def test_several_inputs_are_all_declared_and_share_one_batch_size():
    specs = [MATRIX, TEXT]
    both = {"x": [[1, 2, 3]], "review": ["good"]}
    assert set(codecs.read_inputs(specs, both)) == {"x", "review"}
    with pytest.raises(InvalidInput, match=r"missing \['review'\], unexpected \['other'\]"):
        codecs.read_inputs(specs, {"x": [[1, 2, 3]], "other": 1})
    with pytest.raises(InvalidInput, match="same number of rows"):
        codecs.read_inputs(specs, {"x": [[1, 2, 3]], "review": ["a", "b"]})


def test_golden_pairs_keep_wire_values_that_decode_to_the_same_inputs():
    frame = read(TABLE, RECORDS)
    answers = np.array([[0.25], [0.75]])
    output = TensorSpec(name="p", dtype="float64", shape=[-1, 1])
    pairs = golden_pairs([TABLE], [output], {"applicants": frame}, {"p": answers})
    assert len(pairs) == 3  # two single rows and the batch
    assert pairs[-1].input["applicants"] == RECORDS
    assert pairs[-1].output == {"p": [[0.25], [0.75]]}
    replayed = read(TABLE, pairs[-1].input["applicants"])
    pd.testing.assert_frame_equal(replayed, frame)


def test_a_schema_1_manifest_is_upgraded_as_it_is_read(tmp_path):
    old = {
        "name": "old",
        "framework": "sklearn",
        "framework_version": "1.9.1",
        "python_version": "3.11.7",
        "artifacts": [{"path": "model.joblib", "sha256": "0" * 64}],
        "inputs": {"names": ["a", "b"], "dtype": "float64", "shape": [-1, 2]},
        "outputs": {"names": ["no", "yes"], "dtype": "float64", "shape": [-1, 2]},
        "golden": [{"input": [[1.0, 2.0]], "output": [[0.5, 0.5]]}],
        "options": {"method": "predict_proba", "classes": ["no", "yes"]},
    }
    assert upgrade(upgrade(old)) == upgrade(old)
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    manifest = Manifest.read(tmp_path)
    assert manifest.matrix == TensorSpec(
        name="input", names=["a", "b"], dtype="float64", shape=[-1, 2]
    )
    assert manifest.outputs[0].name == "predict_proba"
    assert manifest.golden[0].input == {"input": [[1.0, 2.0]]}
    manifest.write(tmp_path)
    assert Manifest.read(tmp_path) == manifest
    assert json.loads((tmp_path / "manifest.json").read_text())["schema_version"] == 2


# ---- integer ranges and string columns -----------------------------------------------------------

TOKENS = TensorSpec(name="ids", dtype="int64", shape=[-1, 3], minimum=0, maximum=9)
COLUMN = TensorSpec(name="text", dtype="string", shape=[-1, 1])


@pytest.mark.parametrize(
    "wire", [[[0, 9, 4]], np.array([[0, 9, 4]]), [[0.0, 9.0, 4.0]]], ids=["json", "int64", "float"]
)
def test_integers_within_the_declared_range_pass(wire):
    assert read(TOKENS, wire).tolist() == [[0, 9, 4]]
    assert read(TOKENS, wire).dtype == np.int64


@pytest.mark.parametrize("bad", [10, -1, 2**40])
def test_an_integer_outside_the_declared_range_is_refused(bad):
    with pytest.raises(
        InvalidInput, match=rf"ids: this input holds integers in \[0, 9\], got {bad}"
    ):
        read(TOKENS, [[1, 2, 3], [4, bad, 5]])


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"dtype": "float32", "minimum": 0}, "for integer tensors"),
        ({"dtype": "string", "maximum": 3}, "for integer tensors"),
        ({"dtype": "int32", "minimum": 5, "maximum": 4}, "minimum 5 is over maximum 4"),
    ],
)
def test_a_range_is_declared_only_on_integers_and_in_order(fields, said):
    with pytest.raises(ValueError, match=said):
        TensorSpec(name="x", shape=[-1, 2], **fields)


def test_a_range_survives_the_manifest_and_one_bound_may_stand_alone():
    floor = TensorSpec(name="n", dtype="int16", shape=[-1, 1], minimum=1)
    assert read(floor, [[32767]]).tolist() == [[32767]]
    with pytest.raises(InvalidInput, match=r"in \[1, 32767\], got 0"):
        read(floor, [[0]])
    assert TensorSpec.model_validate_json(TOKENS.model_dump_json()) == TOKENS


@pytest.mark.parametrize(
    "wire",
    [["a", "b"], np.array(["a", "b"], dtype=object), [["a"], ["b"]], np.array([["a"], ["b"]])],
    ids=["flat list", "flat array", "rows", "rows array"],
)
def test_a_string_column_takes_its_rows_flat_or_nested(wire):
    assert read(COLUMN, wire).tolist() == [["a"], ["b"]]


def test_one_string_is_one_row_of_a_string_column_only():
    assert read(COLUMN, "a").tolist() == [["a"]]
    with pytest.raises(InvalidInput, match="expected a nested list"):
        read(TensorSpec(name="pair", dtype="string", shape=[-1, 2]), "a")
    with pytest.raises(InvalidInput, match="rank 2"):
        read(TensorSpec(name="pair", dtype="string", shape=[-1, 2]), ["a", "b"])
    with pytest.raises(InvalidInput, match="expected strings"):
        read(COLUMN, [1, 2])


def test_a_fixed_batch_is_named_when_a_request_has_another():
    fixed = TensorSpec(name="x", dtype="float32", shape=[2, 3])
    assert not fixed.is_matrix
    assert read(fixed, [[1, 2, 3], [4, 5, 6]]).shape == (2, 3)
    with pytest.raises(
        InvalidInput, match=r"x: expected a fixed batch of 2 rows \(shape \[2, 3\]\)"
    ):
        read(fixed, [[1, 2, 3]])


def test_a_null_is_nan_only_where_the_tensor_allows_nan():
    rows = [[1.5, None], [2.0, 3.0]]
    allowed = TensorSpec(name="x", dtype="float32", shape=[-1, 2], allow_nan=True)
    checked = allowed.check(np.array(rows, dtype=object))
    assert np.isnan(checked[0, 1]) and checked[1, 1] == 3.0
    with pytest.raises(InvalidInput, match="expected numbers"):
        TensorSpec(name="x", dtype="float32", shape=[-1, 2]).check(np.array(rows, dtype=object))
    with pytest.raises(InvalidInput, match="whole numbers"):
        TensorSpec(name="x", dtype="int64", shape=[-1, 2], allow_nan=True).check(
            np.array(rows, dtype=object)
        )
