"""The model's serving image, built by ``make image`` and run for real with podman.

The image is built once per session (``make image MODEL=sklearn-iris``: no registry, the s2i
builder's own assemble inside the build); the container shares the host's network at loopback
ports and must answer ``request.json`` and the golden rows exactly as the model does in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import MODELS_DIR, ROOT

from wrappers.container import ModelContainer, mismatches, podman

MODEL = "sklearn-iris"


@pytest.fixture(scope="session")
def image() -> str:
    """The image's name, built once (``make image`` reuses the base and the builder)."""
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "tools" / "image" / "containers.conf"))
    absent = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]
    if absent:
        message = f"{', '.join(absent)} missing: make image-tools installs them"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    built = subprocess.run(
        ["make", "--no-print-directory", "image", f"MODEL={MODEL}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return built.stdout.strip().splitlines()[-1]


@pytest.mark.e2e
def test_the_image_serves_what_the_model_predicts_in_process(image):
    with ModelContainer(image) as container:
        assert mismatches(container, MODELS_DIR / MODEL) == []
        labels = podman("inspect", "--format", "{{.Config.Cmd}}", container.name).stdout
    assert "/s2i/bin/run" in labels
    assert not container.running()


def test_the_image_holds_no_other_framework(image):
    listed = podman("run", "--rm", "--network=none", image, "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "scikit-learn" in installed and "seldon-core" in installed
    assert not installed & {"tensorflow", "tensorflow-cpu", "torch", "keras"}
