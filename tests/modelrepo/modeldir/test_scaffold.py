"""`modelrepo new` on models a user trained: the directory it makes serves what the model says."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import requests
from conftest import FRAMEWORKS, MODELS_DIR, golden_answer, golden_rows, run_cli
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from modelrepo.local.process import Microservice
from modelrepo.modeldir.check import user_class
from wrappers import Manifest, wrapper_for


def load_in_process(model_dir):
    manifest = Manifest.read(model_dir)
    cls, problem = user_class(model_dir, manifest)
    assert problem is None
    model = cls(model_dir=model_dir)
    model.load()
    assert model.ready, model.problem
    return model


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_new_writes_a_standard_model_directory(scaffolded, framework):
    model_dir = scaffolded[framework]
    manifest = Manifest.read(model_dir)
    assert manifest.name == f"user-{framework}"
    assert manifest.framework == framework
    assert manifest.framework_version == wrapper_for(framework).installed_version()
    assert manifest.artifact_mismatches(model_dir) == []
    assert len(manifest.golden) == 4  # three single rows and one batch
    for name in ("MyModel.py", "requirements.txt", ".s2i/environment", "request.json"):
        assert (model_dir / name).is_file(), name
    wrapper = wrapper_for(framework)
    assert f"class MyModel({wrapper.__name__}):" in (model_dir / "MyModel.py").read_text()
    pins = (model_dir / "requirements.txt").read_text().splitlines()
    assert pins[0].startswith(f"{wrapper.distribution}==")
    request = json.loads((model_dir / "request.json").read_text())
    assert request["data"]["names"] == manifest.matrix.names
    assert request["data"]["ndarray"] == golden_rows(manifest, 0)


def test_sklearn_schema_comes_from_the_fitted_estimator(scaffolded):
    manifest = Manifest.read(scaffolded["sklearn"])
    assert manifest.matrix.shape == [-1, 4] and manifest.matrix.dtype == "float64"
    assert manifest.outputs[0].names == ["0", "1", "2"]  # classes_, as predict_proba's columns
    assert manifest.output_names == ["predict_proba"]
    assert manifest.options == {"classes": ["0", "1", "2"]}
    assert (scaffolded["sklearn"] / "model.skops").is_file()
    assert not (scaffolded["sklearn"] / "model.joblib").exists()


def test_keras_file_is_exported_to_the_tf_serving_layout(scaffolded):
    model_dir = scaffolded["tensorflow"]
    manifest = Manifest.read(model_dir)
    assert (model_dir / "saved_model" / "1" / "saved_model.pb").is_file()
    assert all(a.path.startswith("saved_model/1/") for a in manifest.artifacts)
    assert manifest.matrix.names == ["a", "b", "c"]
    assert manifest.matrix.dtype == "float32"  # from the serving signature
    assert manifest.outputs[0].names == ["y"]


def test_a_savedmodel_directory_is_copied_as_it_is(tmp_path):
    committed = MODELS_DIR / "tf-regressor"
    model_dir = tmp_path / "copied"
    result = run_cli(
        "new", model_dir, "-f", "tensorflow", "-a", committed / "saved_model" / "1",
        "--outputs", "progression",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = Manifest.read(model_dir)
    assert manifest.artifacts == Manifest.read(committed).artifacts  # same files, same hashes
    assert manifest.matrix.width == 10  # from the serving signature
    assert "PASSED" in result.output


def test_torch_module_is_copied_in_as_the_architecture(scaffolded):
    model_dir = scaffolded["torch"]
    manifest = Manifest.read(model_dir)
    assert manifest.options["architecture"] == "tiny_net.py:TinyNet"
    assert manifest.options["init_kwargs"] == {"n_features": 6, "hidden": 8}
    assert sorted(a.path for a in manifest.artifacts) == ["model.safetensors", "tiny_net.py"]
    assert manifest.matrix.names == [f"x{i}" for i in range(6)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_golden_pairs_are_the_trained_models_own_outputs(scaffolded, user_models, framework):
    manifest = Manifest.read(scaffolded[framework])
    rows, answer = golden_rows(manifest), golden_answer(manifest)
    np.testing.assert_allclose(
        answer, user_models[framework].predict(np.array(rows)), rtol=1e-6, atol=1e-7
    )


@pytest.fixture(scope="module")
def servers(scaffolded, tmp_path_factory):
    """The real microservice for each scaffolded directory, started together."""
    logs = tmp_path_factory.mktemp("scaffold-logs")
    services = {
        framework: Microservice(model_dir, log_path=logs / f"{framework}.log").start()
        for framework, model_dir in scaffolded.items()
    }
    try:
        for service in services.values():
            service.wait_ready()
        yield services
    finally:
        with ThreadPoolExecutor() as pool:  # each takes seconds to shut down
            list(pool.map(Microservice.stop, services.values()))


@pytest.mark.e2e
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_served_predictions_equal_in_process_ones(servers, scaffolded, user_models, framework):
    user = user_models[framework]
    model = load_in_process(scaffolded[framework])
    body = {"data": {"names": model.manifest.matrix.names, "ndarray": user.rows.tolist()}}
    answer = requests.post(servers[framework].url + "/api/v1.0/predictions", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    served = np.array(answer.json()["data"]["ndarray"])
    np.testing.assert_allclose(served, model.predict(user.rows), rtol=1e-6)
    # and what the user's own model says, through an independent path (Keras vs SavedModel)
    np.testing.assert_allclose(served, user.predict(user.rows), rtol=1e-4, atol=1e-5)
    assert answer.json()["data"]["names"] == model.manifest.outputs[0].names

    with grpc.insecure_channel(servers[framework].grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        reply = stub.Predict(json_to_seldon_message(body), timeout=30)
    np.testing.assert_allclose(
        seldon_message_to_json(reply)["data"]["ndarray"], model.predict(user.rows), rtol=1e-6
    )


@pytest.mark.e2e
def test_cli_predict_talks_to_the_server_over_rest_and_grpc(servers, user_models):
    rows = json.dumps(user_models["sklearn"].rows.tolist())
    service = servers["sklearn"]
    over_rest = run_cli("predict", service.url, "--data", rows)
    over_grpc = run_cli("predict", service.grpc_target, "--grpc", "--data", rows)
    assert over_rest.exit_code == 0 and over_grpc.exit_code == 0, over_rest.stderr
    expected = user_models["sklearn"].predict(user_models["sklearn"].rows)
    for result in (over_rest, over_grpc):
        np.testing.assert_allclose(json.loads(result.output)["data"]["ndarray"], expected)

    refused = run_cli("predict", service.url, "--data", "[[1.0, 2.0]]")
    assert refused.exit_code == 2
    assert "400" in refused.stderr and "expected 4 features per row" in refused.stderr


def test_cli_predict_loads_a_directory_in_process(scaffolded, user_models):
    result = run_cli("predict", scaffolded["torch"])  # its request.json
    assert result.exit_code == 0, result.stderr
    request = json.loads((scaffolded["torch"] / "request.json").read_text())
    expected = user_models["torch"].predict(np.array(request["data"]["ndarray"]))
    np.testing.assert_allclose(json.loads(result.output)["data"]["ndarray"], expected, rtol=1e-6)


# ---- check ---------------------------------------------------------------------------------------


@pytest.fixture
def sklearn_copy(scaffolded, tmp_path):
    return shutil.copytree(scaffolded["sklearn"], tmp_path / "user-sklearn")


def test_check_passes_a_fresh_directory(scaffolded):
    result = run_cli("check", *scaffolded.values())
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.count("PASSED") == len(scaffolded)


def test_check_catches_a_tampered_artifact(sklearn_copy):
    artifact = sklearn_copy / "model.skops"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    result = run_cli("check", sklearn_copy)
    assert result.exit_code == 1
    assert "fail: artifacts: model.skops: sha256" in result.output
    assert "failed the check" in result.stderr


def test_check_catches_a_wrong_framework_version(sklearn_copy):
    manifest = Manifest.read(sklearn_copy)
    manifest.framework_version = "1.2.0"
    manifest.write(sklearn_copy)
    result = run_cli("check", sklearn_copy)
    assert result.exit_code == 1
    assert "install scikit-learn==1.2.0" in result.output
    assert "requirements.txt asks scikit-learn==" in result.output


def test_check_catches_a_golden_mismatch(sklearn_copy):
    manifest = Manifest.read(sklearn_copy)
    manifest.golden[1].output = {"predict_proba": [[0.0, 0.0, 1.0]]}
    manifest.write(sklearn_copy)
    result = run_cli("check", sklearn_copy)
    assert result.exit_code == 1
    assert "fail: golden pairs: golden pair 1: predict_proba" in result.output


def test_check_catches_a_broken_my_model(sklearn_copy):
    (sklearn_copy / "MyModel.py").write_text("from wrappers import TorchModel as MyModel\n")
    result = run_cli("check", sklearn_copy)
    assert result.exit_code == 1
    assert "holds a sklearn model, not a torch one" in result.output


# ---- inputs to new -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "npy", "json"])
def test_sample_files_become_the_golden_inputs(user_models, tmp_path, kind):
    rows = user_models["sklearn"].rows
    sample = tmp_path / f"rows.{kind}"
    if kind == "csv":
        header = "sepal_length,sepal_width,petal_length,petal_width\n"
        sample.write_text(header + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    elif kind == "npy":
        np.save(sample, rows)
    else:
        sample.write_text(json.dumps({"data": {"ndarray": rows.tolist()}}))
    model_dir = tmp_path / "from-sample"
    result = run_cli(
        "new", model_dir, "-f", "sklearn", "-a", user_models["sklearn"].artifact,
        "--sample", sample, "--method", "predict", "--no-check",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = Manifest.read(model_dir)
    assert golden_rows(manifest, -1) == rows.tolist()
    assert golden_answer(manifest) == [
        [int(c)] for c in user_models["sklearn"].predict(rows).argmax(1)
    ]
    assert manifest.outputs[0].names == ["class"]
    if kind == "csv":
        assert manifest.matrix.names == header.strip().split(",")


def test_golden_pairs_without_a_sample_are_deterministic(user_models, tmp_path):
    made = []
    for name in ("one", "two"):
        args = ["-f", "sklearn", "-a", user_models["sklearn"].artifact, "--no-check"]
        assert run_cli("new", tmp_path / name, *args).exit_code == 0
        made.append(Manifest.read(tmp_path / name).golden)
    assert made[0] == made[1]


# ---- errors a user makes -----------------------------------------------------------------------

#: ``new`` for the user's torch network; the cases add what they get wrong
TINYNET = ["new", "{tmp}/x", "-f", "torch", "-a", "{torch}", "--module", "{torch_py}:TinyNet"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["new", "{tmp}/x", "-f", "torch", "-a", "{torch}"], 2, "--module network.py:ClassName"),
        (TINYNET, 2, "pass --n-features N"),
        (
            [
                "new",
                "{tmp}/x",
                "-f",
                "torch",
                "-a",
                "{sk}",
                "--module",
                "{torch_py}:TinyNet",
                "--n-features",
                "6",
            ],
            2,
            "does not load as a state dict",
        ),
        (
            [*TINYNET, "--init-kwargs", '{"n_features": 6, "hidden": 5}', "--n-features", "6"],
            1,
            "checkpoint does not fit TinyNet",
        ),
        (
            [*TINYNET, "--init-kwargs", '{"width": 6}', "--n-features", "6"],
            2,
            "cannot build TinyNet(**{'width': 6}): TypeError",
        ),
        (
            [*TINYNET, "--init-kwargs", '{"n_features": 6, "hidden": 8}', "--n-features", "5"],
            2,
            "the model fails on sample rows of 5 features (RuntimeError",
        ),
        (["new", "{tmp}/x", "-f", "sklearn", "-a", "{torch}"], 2, "is not a joblib file"),
        (
            ["new", "{tmp}/x", "-f", "sklearn", "-a", "{sk}", "--n-features", "3"],
            2,
            "the model takes 4 features, but 3 are named",
        ),
        (["new", "{tmp}/Bad_Name", "-f", "sklearn", "-a", "{sk}"], 2, "--name my-model"),
        (
            ["new", "{tmp}/x", "-f", "sklearn", "-a", "{sk}", "--module", "m.py:N"],
            2,
            "only for --framework torch",
        ),
        (["new", "{tmp}/x", "-f", "caffe", "-a", "{sk}"], 2, "'caffe' is not one of"),
        (["new", "{tmp}/x", "-f", "sklearn", "-a", "{tmp}/missing.joblib"], 2, "does not exist"),
        (["new", "{tmp}/x", "-f", "tensorflow", "-a", "{sk}"], 2, "expected a .keras file"),
        (["check", "{tmp}"], 2, "holds no manifest.json"),
        (["serve", "{tmp}"], 2, "holds no manifest.json"),
        (["predict", "{tmp}/nowhere", "--data", "[[1]]"], 2, "expected a model directory or"),
        (["predict", "http://127.0.0.1:9", "--data", "[[1]]"], 3, "no server answers"),
        (["predict", "http://127.0.0.1:9", "--data", "[[1"], 2, "Invalid value for --data"),
        (["deploy", "{tmp}"], 2, "holds no manifest.json"),
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_user_errors_are_one_clear_line_and_an_exit_code(
    user_models, tmp_path, args, code, message
):
    values = {
        "tmp": tmp_path,
        "sk": user_models["sklearn"].artifact,
        "torch": user_models["torch"].artifact,
        "torch_py": user_models["torch"].artifact.parent / "tiny_net.py",
    }
    for name, value in values.items():
        args = [a.replace(f"{{{name}}}", str(value)) for a in args]
    result = run_cli(*args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.output
    assert isinstance(result.exception, SystemExit)  # nothing escaped the CLI
    assert not (tmp_path / "x").exists(), "a failed `new` leaves nothing behind"


def test_new_refuses_to_overwrite_unless_forced(scaffolded, user_models, tmp_path):
    target = shutil.copytree(scaffolded["sklearn"], tmp_path / "again")
    args = ["new", target, "-f", "sklearn", "-a", user_models["sklearn"].artifact, "--no-check"]
    refused = run_cli(*args)
    assert refused.exit_code == 2 and "pass --force" in refused.stderr
    assert run_cli(*args, "--force").exit_code == 0
    assert Manifest.read(target).name == "again"


def test_help_shows_examples_and_exit_codes():
    for command in ([], ["new"], ["check"], ["serve"], ["predict"], ["deploy"]):
        result = run_cli(*command, "--help")
        assert result.exit_code == 0
        assert "Exit codes:" in result.output or command == []
    overview = run_cli("--help").output
    assert "modelrepo new my-model --framework sklearn --artifact m.joblib" in overview
    assert "modelrepo serve my-model" in overview
    assert "Exit codes:" in overview


def test_list_shows_framework_version_and_status(scaffolded):
    result = run_cli("list", next(iter(scaffolded.values())).parent)
    assert result.exit_code == 0
    for framework in FRAMEWORKS:
        line = next(line for line in result.output.splitlines() if f"user-{framework}" in line)
        assert framework in line and "ok" in line
