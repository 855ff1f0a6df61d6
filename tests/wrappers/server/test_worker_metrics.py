"""Custom metrics kept by each worker: counted exactly, shared in the background, and behind a
lock that a killed worker cannot leave held."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from conftest import MODELS_DIR
from prometheus_client.parser import text_string_to_metric_families
from seldon_core import metrics as seldon_metrics_module
from seldon_core.metrics import SeldonMetrics

from modelrepo.local.process import Microservice
from wrappers.server.metrics import (
    LATENCY_BUCKETS,
    ProcessSafeLock,
    WorkerMetrics,
    add_to_histogram,
    kept_in_workers,
)

#: what one request of the served models reports, and the metrics of other kinds Seldon merges
REQUEST_METRICS = [
    {"type": "COUNTER", "key": "rows", "value": 3},
    {"type": "GAUGE", "key": "latency", "value": 0.25},
    {"type": "TIMER", "key": "timer", "value": 12.5},
]


def hold_until_killed(lock, holding) -> None:
    lock.__enter__()
    holding.set()
    time.sleep(60)


def holding_process(lock) -> multiprocessing.Process:
    """Starts a process that takes ``lock`` and keeps it until it is killed."""
    holding = multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_until_killed, args=(lock, holding))
    holder.start()
    assert holding.wait(30)
    return holder


def acquired_by_a_thread(lock, seconds: float) -> bool:
    done = threading.Event()

    def take() -> None:
        with lock:
            done.set()

    threading.Thread(target=take, daemon=True).start()
    return done.wait(seconds)


def test_seldons_manager_lock_stays_held_after_its_holder_is_killed():
    """Why the shared metrics use a ProcessSafeLock: this is the lock every Seldon worker takes."""
    manager = multiprocessing.Manager()
    lock = manager.Lock()
    holder = holding_process(lock)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    assert not lock.acquire(timeout=2)
    manager.shutdown()


def test_process_safe_lock_excludes_other_processes_and_dies_with_its_holder():
    lock = ProcessSafeLock()
    holder = holding_process(lock)
    assert not acquired_by_a_thread(lock, 1), "held by another process"
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    assert acquired_by_a_thread(lock, 30), "released when its holder died"


@pytest.fixture
def worker_metrics(monkeypatch: pytest.MonkeyPatch):
    """Seldon's metrics store as ``wrappers.server.patches`` replaces it, flushing when told."""
    monkeypatch.setattr(seldon_metrics_module, "BINS", LATENCY_BUCKETS)
    metrics = kept_in_workers(SeldonMetrics, interval=3600)()
    yield metrics
    metrics._manager.shutdown()


def exposed(metrics: SeldonMetrics) -> dict[str, float]:
    """What the metrics server would publish, as {sample name: value}."""
    text, _ = metrics.generate_metrics()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                bucket = sample.labels.get("le", "")
                samples[sample.name + bucket] = sample.value
    return samples


def test_concurrent_updates_add_up_as_seldons_own_store_counts_them(worker_metrics):
    threads, requests_each = 8, 250
    reference = SeldonMetrics()
    for _ in range(threads * requests_each):
        reference.update([dict(m) for m in REQUEST_METRICS], "predict")

    def serve() -> None:
        for _ in range(requests_each):
            worker_metrics.update([dict(m) for m in REQUEST_METRICS], "predict")

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(serve) for _ in range(threads)]:
            done.result()
    assert exposed(worker_metrics) == {}, "nothing is shared before the flush"
    worker_metrics._worker().flush()
    ours, seldons = exposed(worker_metrics), exposed(reference)
    reference._manager.shutdown()
    assert ours["rows_total"] == threads * requests_each * 3
    assert ours == seldons


def test_one_bucket_incremented_counts_as_seldons_numpy_histogram(monkeypatch):
    monkeypatch.setattr(seldon_metrics_module, "BINS", LATENCY_BUCKETS)
    rng = np.random.default_rng(0)
    values = [*LATENCY_BUCKETS[:-1], *rng.lognormal(-6, 3, 2000), 0.0, 31.0, np.inf]
    counts, total = [0.0] * (len(LATENCY_BUCKETS) - 1), 0.0
    expected, expected_total = [0.0] * (len(LATENCY_BUCKETS) - 1), 0.0
    for value in values:
        counts, total = add_to_histogram(value, counts, total)
        expected, expected_total = SeldonMetrics._update_hist(value, expected, expected_total)
    assert counts == expected
    assert total == expected_total
    assert sum(counts) == len(values)


def test_requests_without_metrics_cost_no_store_access(worker_metrics):
    worker_metrics.update([], "predict")
    assert worker_metrics._own is None
    assert dict(worker_metrics.data) == {}


def test_a_leaving_worker_is_not_written_back_after_seldon_clears_it(worker_metrics):
    worker_metrics.update([dict(m) for m in REQUEST_METRICS], "predict")
    own = worker_metrics._worker()
    own.flush()
    assert os.getpid() in dict(worker_metrics.data)
    worker_metrics.clear()  # Seldon's worker_exit hook
    own.flush()
    assert dict(worker_metrics.data) == {}


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_flush_thread_ends_quietly_when_seldons_store_is_gone(worker_metrics, capsys):
    own = WorkerMetrics(worker_metrics, interval=0.01)
    worker_metrics._manager.shutdown()  # as when the server stops
    own.record([dict(m) for m in REQUEST_METRICS], "predict")
    own._thread.join(timeout=10)
    assert not own._thread.is_alive()
    assert "Traceback" not in capsys.readouterr().err


def scraped_rows(service: Microservice) -> float:
    text = requests.get(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "modelrepo_rows_predicted"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


@pytest.mark.e2e
def test_the_metrics_server_counts_every_row_the_workers_predicted(tmp_path):
    """Two workers with four threads each; every predicted row shows on the metrics server."""
    model = "sklearn-iris"
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    sizes = [1 + i % 3 for i in range(240)]
    log = tmp_path / "server.log"
    with Microservice(MODELS_DIR / model, workers=2, threads=4, log_path=log) as service:
        url = service.url + "/api/v1.0/predictions"

        def ask(size: int) -> int:
            body = {"data": {"ndarray": rows[:size]}}
            return requests.post(url, json=body, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, sizes)) == {200}
        deadline = time.monotonic() + 30
        while scraped_rows(service) < sum(sizes) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scraped_rows(service) == sum(sizes)
