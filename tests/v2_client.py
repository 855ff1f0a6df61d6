"""Calls a V2 server with real V2 clients; runs in MLServer's environment, not in .venv.

Reads one JSON plan on stdin, writes one JSON list of results on stdout (one per call). Each
call's request is built by MLServer's own codecs (``NumpyCodec`` for a tensor, ``StringCodec``
for texts, ``PandasCodec`` for a table: request-level content type ``pd``) and sent by:

* ``rest``: MLServer's ``InferenceRequest`` JSON over HTTP, the answer read as MLServer's
  ``InferenceResponse`` and decoded with ``NumpyCodec``;
* ``grpc`` / ``grpc-raw``: MLServer's own gRPC converters and stubs, with typed contents or
  ``raw_input_contents``;
* ``triton-http`` / ``triton-grpc``: tritonclient's HTTP (JSON tensors) and gRPC clients
  (always raw contents), given the tensors as ``mlserver infer`` gives them;
* ``triton-http-binary``: tritonclient's HTTP client in binary mode (the binary tensor
  extension): every input as raw bytes after the JSON, and the answers too (asked for per
  output when the call names outputs, else for all by the request's ``binary_data_output``);
* ``mlserver-infer``: the ``mlserver infer`` command itself (input and output files).

A call is ``{"op": "infer", "via": ..., "model", "version"?, "inputs": [{"name", "kind",
"dtype"?, "value"}], "outputs"?: [names]}`` or ``{"op": "metadata" | "model_ready" |
"server_ready" | "server_live" | "server_metadata", "via": "rest" | "grpc", "model"?}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

TIMEOUT = 60
#: tritonclient's and MLServer's gRPC modules both define package ``inference``: one process
#: cannot import both, so tritonclient's gRPC calls run in a child process of their own
TRITON_GRPC = "--triton-grpc"

if TRITON_GRPC not in sys.argv:
    import tritonclient.http as triton_http
    from mlserver.codecs import NumpyCodec, PandasCodec, StringCodec
    from mlserver.grpc import dataplane_pb2 as pb
    from mlserver.grpc import dataplane_pb2_grpc as pb_grpc
    from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
    from mlserver.types import InferenceRequest, InferenceResponse, RequestOutput


def encode(call: dict[str, Any]) -> InferenceRequest:
    """The request MLServer's codecs make of the inputs."""
    inputs = call["inputs"]
    if any(i["kind"] == "table" for i in inputs):
        (table,) = inputs
        request = PandasCodec.encode_request(pd.DataFrame.from_records(table["value"]))
    else:
        encoded = []
        for given in inputs:
            if given["kind"] == "text":
                encoded.append(StringCodec.encode_input(given["name"], given["value"]))
            else:
                array = np.asarray(given["value"], dtype=given["dtype"])
                encoded.append(NumpyCodec.encode_input(given["name"], array))
        request = InferenceRequest(inputs=encoded)
    if call.get("outputs"):
        request.outputs = [RequestOutput(name=n) for n in call["outputs"]]
    request.id = "request-1"
    return request


def decoded(response: InferenceResponse) -> dict[str, Any]:
    return {
        "ok": True,
        "id": response.id,
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": {
            o.name: {
                "datatype": o.datatype,
                "shape": list(o.shape),
                "data": NumpyCodec.decode_output(o).tolist(),
            }
            for o in response.outputs
        },
    }


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def model_path(call: dict[str, Any]) -> str:
    version = call.get("version")
    return f"/v2/models/{call['model']}" + (f"/versions/{version}" if version else "")


def rest_call(plan: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    base = f"http://{plan['rest']}"
    op = call["op"]
    if op == "infer":
        body = encode(call).model_dump_json(exclude_none=True).encode()
        status, answer = http("POST", base + model_path(call) + "/infer", body)
        if status == 200:
            return decoded(InferenceResponse.model_validate(answer))
    else:
        path = {
            "metadata": model_path(call),
            "model_ready": model_path(call) + "/ready",
            "server_ready": "/v2/health/ready",
            "server_live": "/v2/health/live",
            "server_metadata": "/v2",
        }[op]
        status, answer = http("GET", base + path)
        if status == 200:
            return {"ok": True, "body": answer}
    return {"ok": False, "status": status, "body": answer}


def without_nulls(request: InferenceRequest) -> InferenceRequest:
    """gRPC has no null: a missing float (PandasCodec writes null for NaN) travels as NaN."""
    for given in request.inputs:
        data = getattr(given.data, "root", given.data)
        if given.datatype.startswith("FP") and None in data:
            given.data = [float("nan") if e is None else e for e in data]
    return request


def grpc_call(plan: dict[str, Any], call: dict[str, Any], raw: bool = False) -> dict[str, Any]:
    with grpc.insecure_channel(plan["grpc"]) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        op, name, version = call["op"], call.get("model", ""), call.get("version") or ""
        try:
            if op == "infer":
                request = ModelInferRequestConverter.from_types(
                    without_nulls(encode(call)), model_name=name, model_version=version, use_raw=raw
                )
                reply = stub.ModelInfer(request, timeout=TIMEOUT)
                answer = decoded(ModelInferResponseConverter.to_types(reply))
                answer["raw_outputs"] = len(reply.raw_output_contents)
                return answer
            if op == "metadata":
                reply = stub.ModelMetadata(
                    pb.ModelMetadataRequest(name=name, version=version), timeout=TIMEOUT
                )
                body = {
                    "name": reply.name,
                    "versions": list(reply.versions),
                    "platform": reply.platform,
                    "inputs": [_tensor(t) for t in reply.inputs],
                    "outputs": [_tensor(t) for t in reply.outputs],
                }
                return {"ok": True, "body": body}
            if op == "model_ready":
                reply = stub.ModelReady(
                    pb.ModelReadyRequest(name=name, version=version), timeout=TIMEOUT
                )
                return {"ok": True, "body": {"ready": reply.ready}}
            if op == "server_ready":
                reply = stub.ServerReady(pb.ServerReadyRequest(), timeout=TIMEOUT)
                return {"ok": True, "body": {"ready": reply.ready}}
            if op == "server_live":
                reply = stub.ServerLive(pb.ServerLiveRequest(), timeout=TIMEOUT)
                return {"ok": True, "body": {"live": reply.live}}
            reply = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=TIMEOUT)
            body = {"name": reply.name, "version": reply.version}
            return {"ok": True, "body": {**body, "extensions": list(reply.extensions)}}
        except grpc.RpcError as error:
            return {"ok": False, "status": error.code().name, "body": {"error": error.details()}}


def _tensor(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}


def triton_tensors(call: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    """The tensors MLServer's codecs make of the inputs (as ``mlserver infer`` sends them)."""
    if TRITON_GRPC not in sys.argv:
        return [(given.name, _array(given)) for given in encode(call).inputs]
    tensors = []  # MLServer cannot be imported here: the same tensors, made by hand
    for given in call["inputs"]:
        if given["kind"] == "table":
            frame = pd.DataFrame.from_records(given["value"])
            tensors += [(str(c), _column(frame[c])) for c in frame.columns]
        elif given["kind"] == "text":
            tensors.append((given["name"], _column(pd.Series(given["value"]))))
        else:
            tensors.append((given["name"], np.asarray(given["value"], dtype=given["dtype"])))
    return tensors


def _array(given: Any) -> np.ndarray:
    """A request input's elements; BYTES as bytes objects (``NumpyCodec.decode_input`` would
    cut each string to the length of the last dimension)."""
    if given.datatype != "BYTES":
        return NumpyCodec.decode_input(given)
    data = getattr(given.data, "root", given.data)
    elements = [e if isinstance(e, bytes) else str(e).encode() for e in data]
    return np.array(elements, dtype=object).reshape(given.shape)


def _column(series: pd.Series) -> np.ndarray:
    values = series.to_numpy().reshape(-1, 1)
    if values.dtype.kind != "O":
        return values
    return np.array([[v.encode()] for v in values[:, 0]], dtype=object)


def triton_call(
    plan: dict[str, Any], call: dict[str, Any], module: Any, binary_data: bool = False
) -> dict[str, Any]:
    binary = {} if module.__name__ == "tritonclient.grpc" else {"binary_data": binary_data}
    inputs = []
    for name, array in triton_tensors(call):
        datatype = "BYTES" if array.dtype.kind in "OSU" else np_to_triton_dtype(array.dtype)
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array.astype(object) if datatype == "BYTES" else array,
                                   **binary)  # fmt: skip
        inputs.append(tensor)
    url = plan["rest"] if binary else plan["grpc"]
    client = module.InferenceServerClient(url)
    names = call.get("outputs") or []
    if binary and not binary_data and not names:  # else tritonclient asks for binary answers
        names = [o["name"] for o in client.get_model_metadata(call["model"])["outputs"]]
    outputs = [module.InferRequestedOutput(n, **binary) for n in names]
    try:
        result = client.infer(
            call["model"],
            inputs,
            model_version=call.get("version") or "",
            outputs=outputs or None,
            request_id="request-1",
        )
    except InferenceServerException as error:
        return {"ok": False, "status": error.status(), "body": {"error": error.message()}}
    finally:
        client.close()
    response = result.get_response()
    if binary:
        names = [o["name"] for o in response["outputs"]]
        raw = [o for o in response["outputs"] if "binary_data_size" in o.get("parameters", {})]
    else:
        names = [o.name for o in response.outputs]
        raw = []
    return {
        "ok": True,
        "outputs": {n: {"data": _plain(result.as_numpy(n))} for n in names},
        "raw_outputs": len(raw),
    }


def _plain(array: np.ndarray) -> list[Any]:
    """Elements as JSON takes them: BYTES (bytes objects) as strings."""
    if array.dtype.kind == "O":
        array = np.vectorize(lambda e: e.decode() if isinstance(e, bytes) else e, otypes=[object])(
            array
        )
    return array.tolist()


def mlserver_infer(plan: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        given, answers = Path(work) / "in.txt", Path(work) / "out.txt"
        given.write_text(encode(call).model_dump_json(exclude_none=True) + "\n")
        command = [str(Path(sys.executable).with_name("mlserver")), "infer", "-u", plan["rest"]]
        command += ["-m", call["model"], "-i", str(given), "-o", str(answers)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT * 2)
        if done.returncode != 0 or not answers.exists():
            return {"ok": False, "status": done.returncode, "body": {"error": done.stderr}}
        line = json.loads(answers.read_text().splitlines()[0])
        if "outputs" not in line:  # an error item
            return {"ok": False, "status": "error", "body": line}
        return decoded(InferenceResponse.model_validate(line))


def run(plan: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    via = call["via"]
    if via == "rest":
        return rest_call(plan, call)
    if via in ("grpc", "grpc-raw"):
        return grpc_call(plan, call, raw=via == "grpc-raw")
    if via == "triton-http":
        return triton_call(plan, call, triton_http)
    if via == "triton-http-binary":
        return triton_call(plan, call, triton_http, binary_data=True)
    if via == "mlserver-infer":
        return mlserver_infer(plan, call)
    raise ValueError(f"unknown via {via!r}")


def main() -> None:
    plan = json.load(sys.stdin)
    calls = plan["calls"]
    if TRITON_GRPC in sys.argv:
        import tritonclient.grpc as triton_grpc

        json.dump([triton_call(plan, call, triton_grpc) for call in calls], sys.stdout)
        return
    apart = [c for c in calls if c["via"] == "triton-grpc"]
    results = {}
    if apart:
        child = subprocess.run(
            [sys.executable, __file__, TRITON_GRPC],
            input=json.dumps({**plan, "calls": apart}),
            capture_output=True,
            text=True,
            timeout=TIMEOUT * len(apart) + 60,
            check=True,
        )
        results = dict(zip((id(c) for c in apart), json.loads(child.stdout), strict=True))
    json.dump([results[id(c)] if id(c) in results else run(plan, c) for c in calls], sys.stdout)


if __name__ == "__main__":
    main()
