"""The torch loader restores exactly the trained weights, or refuses to load at all."""

from __future__ import annotations

import argparse

import pytest
import torch
from conftest import MODELS_DIR, copy_model, rehash

from wrappers import Manifest, ModelLoadError, TorchModel
from wrappers.core.formats import SAFETENSORS_FILE, load_safetensors, save_safetensors
from wrappers.errors import UnsafeArtifact

CHECKPOINT = MODELS_DIR / "torch-classifier" / SAFETENSORS_FILE


def trained_state() -> dict[str, torch.Tensor]:
    return load_safetensors(CHECKPOINT)


def test_committed_checkpoint_comes_from_a_compiled_model():
    assert all(key.startswith("_orig_mod.") for key in trained_state())


def test_compiled_checkpoint_restores_every_trained_weight():
    model = TorchModel(model_dir=MODELS_DIR / "torch-classifier")
    model.load()
    restored = model.network.state_dict()
    trained = trained_state()
    assert len(restored) == len(trained) == 6
    for key, value in trained.items():
        assert torch.equal(restored[key.removeprefix("_orig_mod.")], value), key
    assert not model.network.training, "served in eval mode (dropout off)"


def reload_with(tmp_path, checkpoint, **settings) -> TorchModel:
    """Serves the checkpoint: a state dict as safetensors, anything else as a torch.save file."""
    model_dir = copy_model("torch-classifier", tmp_path)
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        save_safetensors(checkpoint, model_dir / SAFETENSORS_FILE)
    else:
        torch.save(checkpoint, model_dir / "model.pt")
        (model_dir / SAFETENSORS_FILE).unlink()
        manifest = Manifest.read(model_dir)
        manifest.options["checkpoint"] = "model.pt"
        manifest.artifacts[0].path = "model.pt"
        manifest.write(model_dir)
    rehash(model_dir)
    model = TorchModel(model_dir=model_dir, **settings)
    model.load()
    return model


def test_bare_and_data_parallel_state_dicts_load(tmp_path):
    bare = {k.removeprefix("_orig_mod."): v for k, v in trained_state().items()}
    parallel = {"module." + k: v for k, v in bare.items()}
    for index, checkpoint in enumerate([bare, parallel]):
        model = reload_with(tmp_path / str(index), checkpoint)
        assert model.ready, model.problem


def test_seed_style_checkpoint_with_a_loss_tensor_loads_only_with_allow_pickle(tmp_path):
    checkpoint = {"model_state_dict": trained_state(), "epoch": 3}
    checkpoint["loss"] = torch.tensor(0.25, requires_grad=True)
    with pytest.raises(UnsafeArtifact, match="allow_pickle"):
        reload_with(tmp_path / "refused", checkpoint)
    assert reload_with(tmp_path / "allowed", checkpoint, allow_pickle=True).ready


def test_checkpoint_missing_a_layer_is_refused(tmp_path):
    state = trained_state()
    del state["_orig_mod.sequential.4.weight"]
    with pytest.raises(ModelLoadError, match=r"Missing key.*sequential\.4\.weight"):
        reload_with(tmp_path, state)


def test_checkpoint_with_an_unexpected_layer_is_refused(tmp_path):
    state = trained_state()
    state["_orig_mod.extra.weight"] = torch.zeros(1)
    with pytest.raises(ModelLoadError, match=r"Unexpected key.*extra\.weight"):
        reload_with(tmp_path, state)


def test_pickled_objects_in_a_checkpoint_are_refused_even_with_allow_pickle(tmp_path):
    payload = argparse.Namespace(code="would run on load")
    checkpoint = {"model_state_dict": trained_state(), "extra": payload}
    with pytest.raises(ModelLoadError, match="Weights only load failed"):
        reload_with(tmp_path, checkpoint, allow_pickle=True)
