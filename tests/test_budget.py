"""Each worker sizes its framework's threads to its share of the cores when it loads."""

from __future__ import annotations

import pytest
from conftest import MODELS_DIR

from wrappers import SklearnModel, TorchModel
from wrappers.budget import Budget, cpu_count


@pytest.mark.parametrize("workers", [1, 2])
def test_budget_splits_the_cores_between_workers(workers):
    budget = Budget.for_machine(cpus=4, workers=workers, threads=1)
    assert budget.intra_op_threads == 4 // workers
    assert budget.environment()["OMP_NUM_THREADS"] == str(4 // workers)


def test_sklearn_estimator_jobs_fit_the_worker_budget(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", str(cpu_count()))
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    assert model.budget.intra_op_threads == 1
    assert model.estimator.n_jobs == 1


def test_torch_threads_fit_the_worker_budget(monkeypatch):
    import torch

    monkeypatch.setenv("GUNICORN_WORKERS", "1")
    model = TorchModel(model_dir=MODELS_DIR / "torch-classifier")
    model.load()
    assert torch.get_num_threads() == model.budget.intra_op_threads == cpu_count()
