"""Each worker sizes its framework's threads to its share of the cores when it loads."""

from __future__ import annotations

import os

import pytest
from conftest import MODELS_DIR

from wrappers import SklearnModel, TorchModel
from wrappers.core.budget import Budget, cpu_count


@pytest.mark.parametrize("workers", [1, 2])
def test_budget_splits_the_cores_between_workers(workers):
    budget = Budget.for_machine(cpus=4, workers=workers, threads=1)
    assert budget.intra_op_threads == 4 // workers
    assert budget.environment()["OMP_NUM_THREADS"] == str(4 // workers)


@pytest.mark.parametrize(("trained", "served"), [(None, None), (1, 1), (-1, 2), (8, 2)])
def test_sklearn_jobs_are_capped_at_the_worker_budget(trained, served):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from wrappers.frameworks.sklearn.model import fit_jobs_to_budget

    forest = RandomForestClassifier(n_jobs=trained)
    fit_jobs_to_budget(make_pipeline(StandardScaler(), forest), threads=2)
    assert forest.n_jobs == served


def test_the_iris_forest_keeps_one_job(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "1")
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    assert model.estimator.n_jobs in (None, 1)


def test_torch_threads_fit_the_worker_budget(monkeypatch):
    import torch

    monkeypatch.setenv("GUNICORN_WORKERS", "1")
    model = TorchModel(model_dir=MODELS_DIR / "torch-classifier")
    model.load()
    assert torch.get_num_threads() == model.budget.intra_op_threads == cpu_count()


@pytest.mark.parametrize("workers", [1, 2])
def test_openmp_pools_fit_the_share_and_keep_the_librarys_wait_policy(monkeypatch, workers):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    Budget.for_machine(cpus=2, workers=workers, threads=1).limit_native_threads()
    assert "OMP_WAIT_POLICY" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == str(2 // workers)


def test_the_local_microservice_tells_each_worker_how_many_share_the_cores(tmp_path):
    from modelrepo.local.process import Microservice

    service = Microservice(tmp_path, workers=2, threads=8)
    assert {"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "8"}.items() <= service.sizing().items()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "50000 100000\n"}, 1),  # v2, half a CPU
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_a_cgroup_cpu_limit_caps_the_cores(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cores = len(os.sched_getaffinity(0))
    assert cpu_count(tmp_path) == (cores if expected is None else min(cores, expected))
