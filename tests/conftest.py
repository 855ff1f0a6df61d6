"""Shared fixtures: the repository's real model directories and their wrappers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from wrappers import Manifest, ServedModel, SklearnModel, TFModel, TorchModel
from wrappers.manifest import artifacts_under

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
WRAPPER_OF = {"sklearn-iris": SklearnModel, "tf-regressor": TFModel, "torch-classifier": TorchModel}
MODEL_NAMES = sorted(WRAPPER_OF)


@pytest.fixture(scope="session", params=MODEL_NAMES)
def model_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def loaded(model_name: str) -> ServedModel:
    """The wrapper for a repository model, loaded once per session from its real artifact."""
    model = WRAPPER_OF[model_name](model_dir=MODELS_DIR / model_name)
    model.load()
    return model


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
