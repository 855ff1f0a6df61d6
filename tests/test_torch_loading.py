"""The torch loader restores exactly the trained weights, or refuses to load at all."""

from __future__ import annotations

import argparse

import pytest
import torch
from conftest import MODELS_DIR, copy_model, rehash

from wrappers import ModelLoadError, TorchModel

CHECKPOINT = MODELS_DIR / "torch-classifier" / "model.pt"


def trained_state() -> dict[str, torch.Tensor]:
    return torch.load(CHECKPOINT, weights_only=True)["model_state_dict"]


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


def reload_with(tmp_path, checkpoint) -> TorchModel:
    model_dir = copy_model("torch-classifier", tmp_path)
    torch.save(checkpoint, model_dir / "model.pt")
    rehash(model_dir)
    model = TorchModel(model_dir=model_dir)
    model.load()
    return model


def test_bare_and_data_parallel_state_dicts_load(tmp_path):
    bare = {k.removeprefix("_orig_mod."): v for k, v in trained_state().items()}
    parallel = {"module." + k: v for k, v in bare.items()}
    for index, checkpoint in enumerate([bare, parallel]):
        model = reload_with(tmp_path / str(index), checkpoint)
        assert model.ready, model.problem


def test_seed_style_checkpoint_with_a_loss_tensor_loads(tmp_path):
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    checkpoint["loss"] = torch.tensor(0.25, requires_grad=True)
    assert reload_with(tmp_path, checkpoint).ready


def test_checkpoint_missing_a_layer_is_refused(tmp_path):
    state = trained_state()
    del state["_orig_mod.sequential.4.weight"]
    with pytest.raises(ModelLoadError, match=r"Missing key.*sequential\.4\.weight"):
        reload_with(tmp_path, {"model_state_dict": state})


def test_checkpoint_with_an_unexpected_layer_is_refused(tmp_path):
    state = trained_state()
    state["_orig_mod.extra.weight"] = torch.zeros(1)
    with pytest.raises(ModelLoadError, match=r"Unexpected key.*extra\.weight"):
        reload_with(tmp_path, {"model_state_dict": state})


def test_pickled_objects_in_a_checkpoint_are_refused(tmp_path):
    payload = argparse.Namespace(code="would run on load")
    with pytest.raises(ModelLoadError, match="Weights only load failed"):
        reload_with(tmp_path, {"model_state_dict": trained_state(), "extra": payload})
