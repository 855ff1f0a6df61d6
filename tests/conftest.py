"""Shared fixtures: the repository's real model directories and their wrappers."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from user_models import TRAINERS, UserModel

from modelrepo import cli
from modelrepo.local.process import Microservice
from wrappers import Manifest, ServedModel, SklearnModel, TFModel, TorchModel
from wrappers.core.manifest import artifacts_under

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
WRAPPER_OF = {"sklearn-iris": SklearnModel, "tf-regressor": TFModel, "torch-classifier": TorchModel}
MODEL_NAMES = sorted(WRAPPER_OF)
#: models whose contract is not one numeric matrix: a table, texts, an N-D tensor, two inputs
CONTRACT_MODELS = [
    "hgb-churn",
    "keras-multi-io",
    "lightgbm-diabetes",
    "loan-pipeline",
    "review-sentiment",
    "torch-digits-cnn",
    "xgboost-breast-cancer",
]
#: models whose work dominates, their weights placed by `make weights` (not committed)
LARGE_MODELS = ["minilm-embeddings", "torch-resnet18"]
COMMITTED_MODELS = sorted([*MODEL_NAMES, *CONTRACT_MODELS, *LARGE_MODELS])
#: the committed nodes of graphs/ that are no model, or were made for a graph
NODE_MODELS = [
    "iris-mean-combiner",
    "iris-tree-router",
    "iris-tree-v1",
    "iris-tree-v2",
    "loan-classifier",
    "loan-preprocess",
]


@pytest.fixture(scope="session", params=MODEL_NAMES)
def model_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def loaded(model_name: str) -> ServedModel:
    """The wrapper for a repository model, loaded once per session from its real artifact."""
    model = WRAPPER_OF[model_name](model_dir=MODELS_DIR / model_name)
    model.load()
    return model


@pytest.fixture(scope="session")
def server(model_name: str, tmp_path_factory: pytest.TempPathFactory):
    """The real seldon-core-microservice serving a repository model (one worker, loopback)."""
    log = tmp_path_factory.mktemp("logs") / f"{model_name}.log"
    with Microservice(MODELS_DIR / model_name, log_path=log) as service:
        yield service
    with pytest.raises(ProcessLookupError):  # gunicorn, its workers and the gRPC server are gone
        os.killpg(service.process.pid, 0)


def copy_model(name: str, destination: Path) -> Path:
    """A writable copy of a repository model directory, for tests that tamper with it."""
    target = destination / name
    shutil.copytree(MODELS_DIR / name, target)
    return target


def rehash(model_dir: Path) -> None:
    """Records the current artifact hashes, as a trusted re-export would."""
    manifest = Manifest.read(model_dir)
    paths = [a.path for a in manifest.artifacts]
    manifest.artifacts = [a for p in paths for a in artifacts_under(model_dir, p)]
    manifest.write(model_dir)


def golden_rows(manifest: Manifest, pair: int = -1):
    """The one input's wire value in a golden pair (rows for a matrix model)."""
    (value,) = manifest.golden[pair].input.values()
    return value


def golden_answer(manifest: Manifest, pair: int = -1):
    """The one output's wire value in a golden pair."""
    (value,) = manifest.golden[pair].output.values()
    return value


FRAMEWORKS = ["sklearn", "tensorflow", "torch", "xgboost", "lightgbm"]


def run_cli(*args: object) -> Result:
    """``modelrepo ARGS`` in this process; stdout and stderr apart, as a terminal shows them.

    The CLI quiets the ``wrappers`` logger for its reports; the level is put back afterwards
    so tests that read the wrappers' log still see it.
    """
    logger = logging.getLogger("wrappers")
    level = logger.level
    try:
        return CliRunner(mix_stderr=False).invoke(cli.main, [str(a) for a in args])
    finally:
        logger.setLevel(level)


@pytest.fixture(scope="session")
def user_models(tmp_path_factory) -> dict[str, UserModel]:
    """One small model per framework, trained and saved as a user would."""
    return {name: train(tmp_path_factory.mktemp(name)) for name, train in TRAINERS.items()}


@pytest.fixture(scope="session")
def scaffolded(user_models, tmp_path_factory) -> dict[str, Path]:
    """``modelrepo new`` run on each user model: the directories it made."""
    root = tmp_path_factory.mktemp("scaffolded")
    made = {}
    for framework, user in user_models.items():
        model_dir = root / f"user-{framework}"
        result = run_cli(
            "new", model_dir, "--framework", framework, "--artifact", user.artifact, *user.new_args
        )
        assert result.exit_code == 0, result.output + result.stderr
        made[framework] = model_dir
    return made


# ---- reliability figures ------------------------------------------------------------------------

RESULTS_FILE = "reliability-results.json"
TOTALS = ("requests", "bad_inputs", "server_errors")


class Reliability:
    """Counts what the attack, fuzz and load tests sent and got, for docs/reliability.md."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(int))

    def add(self, section: str, **figures: float) -> None:
        for name, value in figures.items():
            self.sections[section][name] += value

    def summary(self) -> dict[str, object]:
        totals = {
            name: sum(figures.get(name, 0) for figures in self.sections.values()) for name in TOTALS
        }
        return {"totals": totals, "sections": {k: dict(v) for k, v in self.sections.items()}}


RELIABILITY = pytest.StashKey[Reliability]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RELIABILITY] = Reliability()


@pytest.fixture(scope="session")
def reliability(pytestconfig: pytest.Config) -> Reliability:
    return pytestconfig.stash[RELIABILITY]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    recorded = config.stash[RELIABILITY]
    if not recorded.sections:
        return
    summary = recorded.summary()
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    path = cache.mkdir("modelrepo") / RESULTS_FILE if cache else None
    if path:
        path.write_text(json.dumps(summary, indent=2) + "\n")
    terminalreporter.section("reliability figures")
    totals = summary["totals"]
    terminalreporter.write_line(
        "requests sent: {requests}, bad inputs among them: {bad_inputs}, "
        "5xx answers: {server_errors}".format(**totals)
    )
    for section, figures in sorted(summary["sections"].items()):
        shown = ", ".join(f"{k}={v:g}" for k, v in sorted(figures.items()))
        terminalreporter.write_line(f"  {section}: {shown}")
    if path:
        terminalreporter.write_line(f"written to {path}")
