"""The V2 inference protocol over the model's contract, shared by REST and gRPC.

A V2 request's tensors become the ``{input name: value}`` of ``wrappers.core.model.Request``,
and ``ServedModel.infer`` decodes and checks them with the same codecs and specs as Seldon's
protocol, so a contract violation is the same 400 with the same message. Content types follow
MLServer's codecs: ``np`` (a tensor), ``str`` (UTF-8 strings), ``pd`` (request level: every input
tensor is one column of a table). A request with one input for a model with one tensor or text input
is read as that input whatever its name, as MLServer's request codecs read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from wrappers.contract import Spec, TableSpec, TensorSpec, TextSpec, takes_text
from wrappers.contract.table import Column
from wrappers.core.model import Request, ServedModel
from wrappers.errors import InvalidInput, ModelNotFound, excerpt
from wrappers.protocols.v2.datatypes import NUMPY, OF_COLUMN, OF_CONTRACT, to_text

#: the ``parameters.content_type`` values read here (MLServer's codec names)
CONTENT_TYPES = ("np", "pd", "str")
SERVER_NAME = "modelrepo"


@dataclass
class Tensor:
    """One input or output tensor, decoded from (or to be encoded on) the wire."""

    name: str
    datatype: str
    array: np.ndarray
    content_type: str | None = None


@dataclass
class InferRequest:
    model_name: str
    inputs: list[Tensor]
    model_version: str | None = None
    id: str | None = None
    #: the names of the requested outputs; None: every output
    outputs: list[str] | None = None
    content_type: str | None = None


@dataclass
class InferResponse:
    model_name: str
    model_version: str
    outputs: list[Tensor]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def check_model(model: ServedModel, name: str, version: str | None = None) -> None:
    """404 unless ``name`` (and ``version``, when given) is the model this server serves."""
    served = model.manifest
    if name != served.name:
        raise ModelNotFound(
            f"unknown model {excerpt(repr(name))}: this server serves {served.name!r}"
        )
    if version and version != served.version:
        raise ModelNotFound(
            f"model {name!r} has no version {excerpt(repr(version))}: this server serves version "
            f"{served.version!r}"
        )


def infer(model: ServedModel, request: InferRequest) -> InferResponse:
    """Answers a V2 inference request with the requested (else every) output."""
    check_model(model, request.model_name, request.model_version)
    specs = {s.name: s for s in model.outputs}
    wanted = request.outputs or list(specs)
    unknown = [n for n in wanted if n not in specs]
    if unknown:
        raise InvalidInput(f"unknown outputs {excerpt(unknown)}: this model answers {list(specs)}")
    outputs = model.infer(to_request(model.manifest.inputs, request))
    encoded = []
    for name in wanted:
        array = as_datatype(specs[name], outputs[name])
        model.count_nonfinite(array)  # sent as null over REST, as by Seldon's protocol
        encoded.append(Tensor(name, OF_CONTRACT[specs[name].dtype], array, "np"))
    return InferResponse(model.manifest.name, model.manifest.version, encoded, request.id)


def as_datatype(spec: TensorSpec, value: Any) -> np.ndarray:
    """An output in its spec's dtype (strings as ``str`` objects)."""
    array = np.asarray(value)
    if spec.dtype == "string":
        return to_text(array.astype(object), spec.name)
    return array.astype(NUMPY[OF_CONTRACT[spec.dtype]], copy=False)


# ---- requests ----------------------------------------------------------------------------------


def to_request(specs: list[Spec], request: InferRequest) -> Request:
    """The wire values a V2 request carries, by the model's input names."""
    content = _content_type(request.content_type, "the request")
    tensors = request.inputs
    if not tensors:
        raise InvalidInput(f"the request has no inputs; this model takes {[s.name for s in specs]}")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise InvalidInput(f"input names repeat: {excerpt(names)}")
    if content == "pd":
        return _from_table(specs, tensors)
    (first, *others) = specs
    if not others and len(tensors) == 1 and not isinstance(first, TableSpec):
        return Request({first.name: _value(first, tensors[0], content)})
    by_name = {t.name: t for t in tensors}
    values: dict[str, Any] = {}
    for spec in specs:
        if isinstance(spec, TableSpec):
            columns = {c: _column(by_name.pop(c)) for c in spec.column_names if c in by_name}
            if columns:
                values[spec.name] = columns
        elif spec.name in by_name:
            values[spec.name] = _value(spec, by_name.pop(spec.name), content)
    values.update({t.name: t.array for t in by_name.values()})  # read_inputs names them
    return Request(values)


def _content_type(content: str | None, where: str) -> str | None:
    if content is not None and content not in CONTENT_TYPES:
        raise InvalidInput(
            f"{where}: content_type {excerpt(repr(content))} is not one of "
            f"{', '.join(CONTENT_TYPES)}"
        )
    return content


def _value(spec: Spec, tensor: Tensor, request_content: str | None) -> Any:
    content = _content_type(tensor.content_type, excerpt(tensor.name)) or request_content
    if content == "pd":
        raise InvalidInput(f"{excerpt(tensor.name)}: content_type 'pd' is for the whole request")
    if takes_text(spec) or content == "str":
        return to_text(tensor.array, excerpt(tensor.name))
    return tensor.array


def _column(tensor: Tensor) -> list[Any]:
    where = excerpt(tensor.name)
    array = to_text(tensor.array, where)
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] != 1):
        raise InvalidInput(
            f"{where}: a table column has shape [N] or [N, 1], got {list(array.shape)}"
        )
    return array.reshape(-1).tolist()


def _from_table(specs: list[Spec], tensors: list[Tensor]) -> Request:
    """``content_type: pd``: each input tensor is one column of the model's one input."""
    if len(specs) != 1 or isinstance(specs[0], TextSpec):
        raise InvalidInput(
            f"content_type 'pd' sends one table; this model takes {[s.name for s in specs]}"
        )
    (spec,) = specs
    columns = {t.name: _column(t) for t in tensors}
    if isinstance(spec, TableSpec):
        return Request({spec.name: columns})
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise InvalidInput(f"{spec.name}: columns differ in length: {lengths}")
    matrix = np.empty((lengths.pop(), len(columns)), dtype=object)
    for i, values in enumerate(columns.values()):
        matrix[:, i] = values
    return Request({spec.name: matrix}, {spec.name: list(columns)})


# ---- metadata ----------------------------------------------------------------------------------


def server_metadata() -> dict[str, Any]:
    return {
        "name": SERVER_NAME,
        "version": metadata.version(SERVER_NAME),
        "extensions": ["binary_tensor_data"],
    }


def model_metadata(model: ServedModel) -> dict[str, Any]:
    """Name, versions, platform, and every input and output as V2 tensors.

    A table input is described as its columns, each a tensor ``[-1, 1]``, with the model's
    ``content_type`` ``pd`` (how MLServer's PandasCodec sends a DataFrame).
    """
    inputs = model.manifest.inputs
    described: dict[str, Any] = {
        **model.describe(),
        "inputs": [tensor for spec in inputs for tensor in _described(spec)],
        "outputs": [t for spec in model.outputs for t in _described(spec)],
    }
    if any(isinstance(s, TableSpec) for s in inputs):
        described["parameters"] = {"content_type": "pd"}
    return described


def _described(spec: Spec) -> list[dict[str, Any]]:
    if isinstance(spec, TensorSpec):
        return [_tensor(spec.name, OF_CONTRACT[spec.dtype], spec.shape, "np")]
    if isinstance(spec, TextSpec):
        return [_tensor(spec.name, "BYTES", [-1, 1], "str")]
    return [_tensor(c.name, column_datatype(c), [-1, 1]) for c in spec.columns]


def _tensor(name: str, datatype: str, shape: list[int], content: str | None = None) -> dict:
    if content is None:
        content = "str" if datatype == "BYTES" else "np"
    return {
        "name": name,
        "datatype": datatype,
        "shape": shape,
        "parameters": {"content_type": content},
    }


def column_datatype(column: Column) -> str:
    """A column's V2 datatype; a category column's is that of its categories."""
    if column.type != "category":
        return OF_COLUMN[column.type]
    kinds = {type(c) for c in column.categories or []}
    for kind, datatype in ((bool, "BOOL"), (int, "INT64"), (float, "FP64")):
        if kinds == {kind}:
            return datatype
    return "BYTES"
