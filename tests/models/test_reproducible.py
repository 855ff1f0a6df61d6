"""Each model's train.py reproduces the committed artifact's behaviour from its fixed seeds."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import COMMITTED_MODELS, MODELS_DIR, NODE_MODELS

from wrappers import Manifest, wrapper_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", [*COMMITTED_MODELS, *NODE_MODELS])
def test_train_script_reproduces_the_committed_model(tmp_path, name):
    source = MODELS_DIR / name
    out = tmp_path / name
    subprocess.run(
        [sys.executable, "train.py", "--out", str(out)], cwd=source, check=True, timeout=300
    )
    committed, retrained = Manifest.read(source), Manifest.read(out)
    assert retrained.inputs == committed.inputs
    assert retrained.outputs == committed.outputs
    assert [p.input for p in retrained.golden] == [p.input for p in committed.golden]
    for new, old in zip(retrained.golden, committed.golden, strict=True):
        assert new.output.keys() == old.output.keys()
        for output, value in new.output.items():
            np.testing.assert_allclose(value, old.output[output], rtol=1e-4, atol=1e-4)

    model = wrapper_for(committed.framework)(model_dir=out)
    model.load()
    assert model.ready, model.problem
