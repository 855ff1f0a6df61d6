"""The contract of a SavedModel, read from its serving signature in ``saved_model.pb``: what
``modelrepo new`` records and what ``allow_unverified`` serves without a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wrappers.contract import TensorSpec
from wrappers.contract.tensor import TensorDType
from wrappers.core.manifest import MANIFEST_FILE
from wrappers.errors import ManifestError

SAVED_MODEL = "saved_model"
SIGNATURE = "serving_default"
DTYPES: frozenset[str] = frozenset(TensorDType.__args__)  # type: ignore[attr-defined]


def export_options() -> dict[str, Any]:
    """The manifest options of a SavedModel in this layout, served by its default signature."""
    return {"saved_model": SAVED_MODEL, "signature": SIGNATURE}


def newest_version(model_dir: Path) -> str:
    """The highest ``saved_model/<version>/`` of a directory without manifest."""
    versions = sorted(int(p.name) for p in (model_dir / SAVED_MODEL).glob("*") if p.name.isdigit())
    if not versions:
        raise ManifestError(f"no {MANIFEST_FILE} and no {SAVED_MODEL}/<version>/ in {model_dir}")
    return str(versions[-1])


def describe(saved_model: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The serving signature's inputs and outputs, read from ``saved_model.pb`` alone."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes())
    signature = saved.meta_graphs[0].signature_def.get(SIGNATURE)
    if signature is None:
        raise ManifestError(f"{saved_model} has no {SIGNATURE!r} signature")
    inputs = [_spec(key, info) for key, info in sorted(signature.inputs.items())]
    outputs = [_spec(key, info) for key, info in sorted(signature.outputs.items())]
    return inputs, outputs


def _spec(key: str, info: Any) -> TensorSpec:
    import tensorflow as tf

    dtype = tf.dtypes.as_dtype(info.dtype).name
    if dtype not in DTYPES:
        raise ManifestError(f"{key}: tensors of {dtype} cannot be served")
    if info.tensor_shape.unknown_rank:
        raise ManifestError(f"{key}: the signature does not fix its rank")
    shape = [d.size if d.size > 0 else -1 for d in info.tensor_shape.dim]
    if not shape:
        raise ManifestError(f"{key}: a scalar is no batch; export a batch dimension")
    return TensorSpec(name=key, dtype=dtype, shape=shape)  # type: ignore[arg-type]


def texts_decoded(array: np.ndarray) -> np.ndarray:
    """TensorFlow hands string tensors back as bytes: as UTF-8 text, as they were sent."""
    if array.dtype.kind not in "SO":
        return array
    return np.vectorize(
        lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v, otypes=[object]
    )(array)
