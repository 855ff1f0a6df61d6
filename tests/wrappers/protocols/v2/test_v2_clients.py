"""Real V2 clients against every committed model, served by the real microservice.

The clients run in MLServer's own environment (``make v2-client``; tests/v2_client.py drives
them): MLServer's codecs build each request (``np`` tensors, ``str`` texts, ``pd`` tables),
sent over REST, over gRPC with MLServer's stubs (typed and raw contents), with tritonclient's
HTTP client (JSON tensors, and binary tensors in requests and answers) and gRPC client, and with
``mlserver infer``. Every answer must equal the Seldon
protocol's answer to the same rows, and every refusal carry the Seldon protocol's message.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from conftest import COMMITTED_MODELS, MODELS_DIR, ROOT, copy_model

from modelrepo.local.process import Microservice
from wrappers.contract import TableSpec, TensorSpec, TextSpec
from wrappers.core.manifest import Manifest
from wrappers.protocols.v2.datatypes import NUMPY, OF_CONTRACT

pytestmark = pytest.mark.e2e

CLIENT_VENV = ROOT / "bench" / "mlserver" / ".venv"
DRIVER = ROOT / "tests" / "v2_client.py"
#: every way a request is sent; each golden pair goes every way
VIAS = ("rest", "grpc", "grpc-raw", "triton-http", "triton-http-binary", "triton-grpc")
PROTOCOLS = ("rest", "grpc")


@pytest.fixture(scope="session")
def client_python() -> Path:
    requirements = CLIENT_VENV.parent / "requirements.txt"
    subprocess.run([ROOT / "tools" / "venv.sh", CLIENT_VENV, requirements], check=True, timeout=900)
    return CLIENT_VENV / "bin" / "python"


def drive(python: Path, service: Microservice, calls: dict[str, dict]) -> dict[str, dict]:
    """Runs the calls in the client environment; their results by label."""
    plan = {
        "rest": f"{service.host}:{service.http_port}",
        "grpc": service.grpc_target,
        "calls": list(calls.values()),
    }
    done = subprocess.run(
        [python, DRIVER],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return dict(zip(calls, json.loads(done.stdout), strict=True))


def client_inputs(manifest: Manifest, values: dict[str, Any]) -> list[dict[str, Any]]:
    """What the driver encodes with MLServer's codecs: each input's kind, dtype and value."""
    given = []
    for spec in manifest.inputs:
        entry = {"name": spec.name, "kind": spec.kind, "value": values[spec.name]}
        if isinstance(spec, TensorSpec):
            entry["dtype"] = spec.dtype
        given.append(entry)
    return given


def bad_values(manifest: Manifest) -> dict[str, Any]:
    """The last golden pair's inputs, spoiled so that they break the first input's contract."""
    values = dict(manifest.golden[-1].input)
    spec = manifest.inputs[0]
    if isinstance(spec, TensorSpec):  # one element less in the last dimension
        values[spec.name] = np.asarray(values[spec.name])[..., :-1].tolist()
    elif isinstance(spec, TableSpec):  # a category the model does not know
        column = next(c.name for c in spec.columns if c.type == "category")
        values[spec.name] = [{**values[spec.name][0], column: "Atlantis"}]
    elif isinstance(spec, TextSpec):
        values[spec.name] = []
    return values


def seldon_answer(service: Microservice, values: dict[str, Any]) -> requests.Response:
    return requests.post(
        service.url + "/api/v1.0/predictions", json={"jsonData": values}, timeout=60
    )


def seldon_outputs(manifest: Manifest, body: dict[str, Any]) -> dict[str, Any]:
    if len(manifest.outputs) == 1:
        return {manifest.outputs[0].name: body["data"]["ndarray"]}
    return body["jsonData"]


@dataclass
class Exchange:
    """One model's calls, their results, and what Seldon's protocol answered."""

    manifest: Manifest
    seldon: list[dict[str, Any]]
    seldon_refusal: str
    results: dict[str, dict]


def plan_calls(manifest: Manifest) -> dict[str, dict]:
    name = manifest.name
    calls: dict[str, dict] = {}
    for i, pair in enumerate(manifest.golden):
        for via in VIAS:
            call = {"op": "infer", "via": via, "model": name}
            calls[f"infer/{via}/{i}"] = {**call, "inputs": client_inputs(manifest, pair.input)}
    last = client_inputs(manifest, manifest.golden[-1].input)
    infer = {"op": "infer", "model": name, "inputs": last}
    if not any(isinstance(s, TableSpec) for s in manifest.inputs):
        calls["mlserver-infer"] = {**infer, "via": "mlserver-infer"}
    bad = client_inputs(manifest, bad_values(manifest))
    for via in (*PROTOCOLS, "triton-http", "triton-http-binary"):
        calls[f"bad/{via}"] = {**infer, "via": via, "inputs": bad}
    wanted = manifest.outputs[-1].name
    calls["outputs/triton-http-binary"] = {
        **infer,
        "via": "triton-http-binary",
        "outputs": [wanted],
    }
    for via in PROTOCOLS:
        wanted = manifest.outputs[-1].name
        calls[f"outputs/{via}"] = {**infer, "via": via, "outputs": [wanted]}
        calls[f"unknown-output/{via}"] = {**infer, "via": via, "outputs": ["no-such-output"]}
        calls[f"version/{via}"] = {**infer, "via": via, "version": manifest.version}
        calls[f"unknown-version/{via}"] = {**infer, "via": via, "version": "999"}
        calls[f"unknown-model/{via}"] = {**infer, "via": via, "model": "no-such-model"}
        for op in ("metadata", "model_ready", "server_ready", "server_live", "server_metadata"):
            calls[f"{op}/{via}"] = {"op": op, "via": via, "model": name}
        calls[f"unknown-metadata/{via}"] = {"op": "metadata", "via": via, "model": "no-such-model"}
    return calls


@pytest.fixture(scope="module", params=COMMITTED_MODELS)
def exchange(request, client_python, tmp_path_factory) -> Exchange:
    name = request.param
    manifest = Manifest.read(MODELS_DIR / name)
    log = tmp_path_factory.mktemp("v2") / f"{name}.log"
    with Microservice(MODELS_DIR / name, log_path=log) as service:
        seldon = []
        for pair in manifest.golden:
            answer = seldon_answer(service, pair.input)
            assert answer.status_code == 200, answer.text
            seldon.append(seldon_outputs(manifest, answer.json()))
        refused = seldon_answer(service, bad_values(manifest))
        assert refused.status_code == 400, refused.text
        results = drive(client_python, service, plan_calls(manifest))
    return Exchange(manifest, seldon, refused.json()["status"]["info"], results)


def assert_same(manifest: Manifest, expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Equal in the output's own dtype: float32 answers are compared as float32."""
    assert set(got) <= set(expected)
    for name, output in got.items():
        spec = next(s for s in manifest.outputs if s.name == name)
        dtype = NUMPY[OF_CONTRACT[spec.dtype]]
        want = np.asarray(expected[name], dtype=dtype)
        have = np.asarray(output["data"], dtype=dtype)
        assert have.shape == want.shape, name
        assert np.array_equal(have, want), (name, have, want)
        if "shape" in output:
            assert output["shape"] == list(want.shape)
        if "datatype" in output:
            assert output["datatype"] == OF_CONTRACT[spec.dtype]


@pytest.mark.parametrize("via", VIAS)
def test_every_golden_pair_answers_as_seldons_protocol(exchange, via):
    for i, expected in enumerate(exchange.seldon):
        result = exchange.results[f"infer/{via}/{i}"]
        assert result["ok"], result
        assert set(result["outputs"]) == {s.name for s in exchange.manifest.outputs}
        assert_same(exchange.manifest, expected, result["outputs"])


def test_responses_name_the_model_version_and_request(exchange):
    for via in ("rest", "grpc"):
        result = exchange.results[f"infer/{via}/0"]
        assert result["model_name"] == exchange.manifest.name
        assert result["model_version"] == exchange.manifest.version
        assert result["id"] == "request-1"


def test_grpc_answers_raw_when_asked_raw(exchange):
    assert exchange.results["infer/grpc/0"]["raw_outputs"] == 0
    raw = exchange.results["infer/grpc-raw/0"]["raw_outputs"]
    assert raw == len(exchange.manifest.outputs)


def test_tritons_binary_mode_answers_binary(exchange):
    """tritonclient's binary mode asks for every output binary (the request's
    ``binary_data_output``), or for one output by its own ``binary_data``; its JSON mode names
    each output with ``binary_data`` false and gets JSON."""
    assert exchange.results["infer/triton-http/0"]["raw_outputs"] == 0
    every = exchange.results["infer/triton-http-binary/0"]["raw_outputs"]
    assert every == len(exchange.manifest.outputs)
    one = exchange.results["outputs/triton-http-binary"]
    assert one["ok"], one
    assert one["raw_outputs"] == 1
    assert_same(exchange.manifest, exchange.seldon[-1], one["outputs"])


def test_mlserver_infer_command_gets_seldons_answer(exchange):
    if "mlserver-infer" not in exchange.results:
        pytest.skip("mlserver infer 1.7.1 decodes string columns with NumpyCodec, which cuts them")
    result = exchange.results["mlserver-infer"]
    assert result["ok"], result
    assert_same(exchange.manifest, exchange.seldon[-1], result["outputs"])


def test_a_versioned_request_answers_the_same(exchange):
    for via in PROTOCOLS:
        result = exchange.results[f"version/{via}"]
        assert result["ok"], result
        assert_same(exchange.manifest, exchange.seldon[-1], result["outputs"])


def test_requested_outputs_alone_are_answered(exchange):
    wanted = exchange.manifest.outputs[-1].name
    for via in PROTOCOLS:
        result = exchange.results[f"outputs/{via}"]
        assert result["ok"], result
        assert list(result["outputs"]) == [wanted]
        assert_same(exchange.manifest, exchange.seldon[-1], result["outputs"])
        refused = exchange.results[f"unknown-output/{via}"]
        assert refused["status"] == {"rest": 400, "grpc": "INVALID_ARGUMENT"}[via]
        assert "no-such-output" in refused["body"]["error"]


def test_a_contract_violation_is_refused_with_seldons_message(exchange):
    assert exchange.seldon_refusal
    statuses = {"rest": 400, "grpc": "INVALID_ARGUMENT", "triton-http": 400}
    for via, status in (*statuses.items(), ("triton-http-binary", 400)):
        result = exchange.results[f"bad/{via}"]
        assert not result["ok"], result
        if not via.startswith("triton-http"):  # tritonclient's exception carries no HTTP status
            assert result["status"] == status
        assert result["body"]["error"] == exchange.seldon_refusal


def test_unknown_models_and_versions_are_not_found(exchange):
    for via, status in (("rest", 404), ("grpc", "NOT_FOUND")):
        for label in ("unknown-model", "unknown-version", "unknown-metadata"):
            result = exchange.results[f"{label}/{via}"]
            assert result["status"] == status, (label, result)
        assert "no-such-model" in exchange.results[f"unknown-model/{via}"]["body"]["error"]
        assert "'999'" in exchange.results[f"unknown-version/{via}"]["body"]["error"]


def expected_tensors(manifest: Manifest) -> list[dict[str, Any]]:
    tensors = []
    for spec in manifest.inputs:
        if isinstance(spec, TensorSpec):
            tensors.append(
                {"name": spec.name, "datatype": OF_CONTRACT[spec.dtype], "shape": spec.shape}
            )
        elif isinstance(spec, TextSpec):
            tensors.append({"name": spec.name, "datatype": "BYTES", "shape": [-1, 1]})
        else:
            tensors += [{"name": c.name, "shape": [-1, 1]} for c in spec.columns]
    return tensors


def test_metadata_describes_the_manifest(exchange):
    manifest = exchange.manifest
    outputs = [
        {"name": s.name, "datatype": OF_CONTRACT[s.dtype], "shape": s.shape}
        for s in manifest.outputs
    ]
    for via in PROTOCOLS:
        body = exchange.results[f"metadata/{via}"]["body"]
        assert body["name"] == manifest.name
        assert body["versions"] == [manifest.version]
        assert body["platform"] == f"{manifest.framework}-{manifest.framework_version}"
        for described, expected in zip(body["inputs"], expected_tensors(manifest), strict=True):
            assert expected.items() <= described.items()
        outputs_seen = [{k: t[k] for k in ("name", "datatype", "shape")} for t in body["outputs"]]
        assert outputs_seen == outputs
    if any(isinstance(s, TableSpec) for s in manifest.inputs):
        rest = exchange.results["metadata/rest"]["body"]
        assert rest["parameters"] == {"content_type": "pd"}


def test_health_and_server_metadata(exchange):
    results = exchange.results
    for via in PROTOCOLS:
        assert results[f"server_live/{via}"]["body"]["live"] is True
        assert results[f"server_ready/{via}"]["body"]["ready"] is True
        assert results[f"model_ready/{via}"]["body"]["ready"] is True
        assert results[f"server_metadata/{via}"]["body"]["name"] == "modelrepo"


# ---- a worker that failed its self-check ---------------------------------------------------------


def wait_listening(service: Microservice, timeout: float = 180) -> None:
    """Until REST answers /v2/health/live and gRPC accepts connections (the model stays unready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert service.process is not None and service.process.poll() is None
        try:
            live = requests.get(service.url + "/v2/health/live", timeout=2).status_code == 200
            with socket.create_connection((service.host, service.grpc_port), timeout=2):
                if live:
                    return
        except (requests.ConnectionError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError("the microservice did not listen in time")


def test_a_model_that_is_not_ready_answers_503(client_python, tmp_path):
    model_dir = copy_model("sklearn-iris", tmp_path)
    manifest = Manifest.read(model_dir)
    manifest.golden[0].output["predict_proba"] = [[0.0, 0.0, 1.0]]  # the model disagrees
    manifest.write(model_dir)
    name = manifest.name
    inputs = client_inputs(manifest, manifest.golden[0].input)
    calls = {
        f"{op}/{via}": {"op": op, "via": via, "model": name}
        for op in ("model_ready", "server_ready", "server_live")
        for via in PROTOCOLS
    }
    for via in PROTOCOLS:
        calls[f"infer/{via}"] = {"op": "infer", "via": via, "model": name, "inputs": inputs}
    service = Microservice(model_dir, log_path=tmp_path / "log").start()
    try:
        wait_listening(service)
        results = drive(client_python, service, calls)
    finally:
        service.stop()
    assert results["server_live/rest"]["ok"] and results["server_live/grpc"]["body"]["live"]
    for label in ("model_ready/rest", "server_ready/rest", "infer/rest"):
        assert results[label]["status"] == 503, results[label]
        assert "golden pair 0" in results[label]["body"]["error"]
    assert results["model_ready/grpc"]["body"] == {"ready": False}
    assert results["server_ready/grpc"]["body"] == {"ready": False}
    assert results["infer/grpc"]["status"] == "UNAVAILABLE"
    assert "not ready" in results["infer/grpc"]["body"]["error"]
