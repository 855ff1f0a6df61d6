"""Micro-batching: concurrent callers share model calls and each gets exactly its own rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import MODELS_DIR, golden_rows

from wrappers import Manifest, SklearnModel, wrapper_for
from wrappers.core.batching import MicroBatcher


class RecordingModel:
    """Row-wise model (each row's sum, its first value) that records the size of every call."""

    def __init__(self, delay: float = 0.02) -> None:
        self.calls: list[int] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls.append(len(rows))
        time.sleep(self.delay)
        if (rows < 0).any():
            raise ValueError("negative input")
        return np.stack([rows.sum(axis=1), rows[:, 0]], axis=1)


def run_concurrently(batcher: MicroBatcher, inputs: list[np.ndarray]) -> list[object]:
    start = threading.Barrier(len(inputs))

    def call(rows: np.ndarray) -> object:
        start.wait()
        try:
            return batcher(rows)
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def test_concurrent_callers_get_their_own_rows_from_shared_calls():
    model = RecordingModel()
    batcher = MicroBatcher(model, max_rows=32)
    inputs = [np.full((1 + i % 3, 4), float(i)) for i in range(12)]
    answers = run_concurrently(batcher, inputs)
    for rows, answer in zip(inputs, answers, strict=True):
        np.testing.assert_array_equal(answer, np.stack([rows.sum(axis=1), rows[:, 0]], axis=1))
    assert len(model.calls) < len(inputs), "some requests must have shared a call"
    assert sum(model.calls) == sum(len(rows) for rows in inputs)
    assert batcher.requests == len(inputs) and batcher.calls == len(model.calls)


def test_batches_never_exceed_the_row_limit():
    model = RecordingModel()
    run_concurrently(MicroBatcher(model, max_rows=5), [np.ones((2, 3))] * 10)
    assert max(model.calls) <= 5


def test_a_failing_request_fails_alone():
    model = RecordingModel()
    batcher = MicroBatcher(model, max_rows=32)
    inputs = [np.full((1, 2), -1.0 if i == 3 else float(i)) for i in range(8)]
    answers = run_concurrently(batcher, inputs)
    assert isinstance(answers[3], ValueError)
    for i, answer in enumerate(answers):
        if i != 3:
            np.testing.assert_array_equal(answer, [[2.0 * i, float(i)]])


def test_a_request_alone_runs_at_once_and_a_large_one_runs_alone():
    model = RecordingModel(delay=0)
    batcher = MicroBatcher(model, max_rows=4, max_wait_s=0)
    batcher(np.ones((1, 2)))
    batcher(np.ones((10, 2)))
    assert model.calls == [1, 10]


def test_every_batch_runs_on_one_model_thread():
    """A framework's thread pool belongs to the thread that calls it: one thread calls the model,
    whichever request threads the rows come from."""
    threads = set()

    def model(rows: np.ndarray) -> np.ndarray:
        threads.add(threading.get_ident())
        time.sleep(0.005)
        return rows

    batcher = MicroBatcher(model, max_rows=4, max_wait_s=0)
    callers = run_concurrently(batcher, [np.full((1, 2), float(i)) for i in range(12)])
    assert [int(answer[0, 0]) for answer in callers] == list(range(12))
    assert len(threads) == 1 and threads.isdisjoint({threading.get_ident()})


def test_under_load_the_model_thread_waits_for_as_many_callers_as_were_in_flight():
    model = RecordingModel(delay=0.1)
    batcher = MicroBatcher(model, max_rows=8, max_wait_s=1.0)
    with ThreadPoolExecutor(3) as pool:  # one call alone, two arriving while it runs
        calls = [pool.submit(batcher, np.ones((1, 2)))]
        time.sleep(0.03)
        calls += [pool.submit(batcher, np.ones((1, 2))) for _ in range(2)]
        [call.result(timeout=5) for call in calls]
    assert model.calls == [1, 2]
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher, np.ones((1, 2)))
        time.sleep(0.1)  # the second caller comes late; the model thread waits for it
        second = pool.submit(batcher, np.full((1, 2), 2.0))
        np.testing.assert_array_equal(first.result(timeout=5), [[2.0, 1.0]])
        np.testing.assert_array_equal(second.result(timeout=5), [[4.0, 2.0]])
    assert model.calls == [1, 2, 2]


def test_callers_just_answered_join_the_next_batch():
    """Closed-loop clients: while one request runs, three queue; the one answered sends its next
    request after a round trip, and the next batch waits for it (four were in
    flight at once)."""
    model = RecordingModel(delay=0.1)
    batcher = MicroBatcher(model, max_rows=8, max_wait_s=1.0)

    def client(first_delay: float, requests: int) -> None:
        time.sleep(first_delay)
        for _ in range(requests):
            batcher(np.ones((1, 2)))
            time.sleep(0.02)  # the answer's way back to the client, and the next request's

    with ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(client, 0, 2)] + [pool.submit(client, 0.03, 1) for _ in range(3)]
        [run.result(timeout=5) for run in runs]
    assert model.calls == [1, 4]


def test_alone_a_request_never_waits():
    model = RecordingModel(delay=0)
    batcher = MicroBatcher(model, max_rows=8, max_wait_s=5.0)
    waits = []
    wait = batcher._arrived.wait
    batcher._arrived.wait = lambda timeout=None: waits.append(timeout) or wait(timeout)
    for _ in range(3):
        batcher(np.ones((1, 2)))
    assert [w for w in waits if w is not None] == [], "a request that came alone waited for others"
    assert model.calls == [1, 1, 1]


@pytest.mark.parametrize("rows", [32, 1])
def test_served_model_answers_concurrent_requests_like_the_estimator(rows, monkeypatch):
    monkeypatch.setenv("MODELREPO_MICROBATCH_ROWS", str(rows))
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    model = SklearnModel(model_dir=MODELS_DIR / "sklearn-iris")
    model.load()
    assert (model.batcher is not None) == (rows > 1)
    inputs = [np.asarray(golden_rows(model.manifest, i)) for i in range(4)] * 4
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(model.predict, inputs))
    for batch, answer in zip(inputs, answers, strict=True):
        np.testing.assert_array_equal(answer, model.estimator.predict_proba(batch))


def test_texts_from_concurrent_callers_share_calls_and_keep_their_own_rows():
    calls: list[int] = []

    def lengths(texts: list) -> np.ndarray:
        calls.append(len(texts))
        time.sleep(0.02)
        return np.array([[len(t)] for t in texts])

    batcher = MicroBatcher(lengths, max_rows=32)
    inputs = [["a" * i, "b" * (i + 1)] for i in range(8)]
    answers = run_concurrently(batcher, inputs)
    for texts, answer in zip(inputs, answers, strict=True):
        assert answer.ravel().tolist() == [len(t) for t in texts]
    assert len(calls) < len(inputs)


@pytest.mark.parametrize("name", ["review-sentiment", "torch-digits-cnn"])
def test_text_and_image_models_are_batched_across_threads(name, monkeypatch):
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    model = wrapper_for(Manifest.read(MODELS_DIR / name).framework)(model_dir=MODELS_DIR / name)
    model.load()
    assert model.batcher is not None
    (spec,) = model.manifest.inputs
    inputs = [golden_rows(model.manifest, i) for i in range(3)] * 4
    if spec.kind == "tensor":
        inputs = [np.asarray(rows, dtype=np.float32) for rows in inputs]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(model.predict, inputs))
    for rows, answer in zip(inputs, answers, strict=True):
        np.testing.assert_allclose(answer, model.predict(rows), rtol=1e-5, atol=1e-6)
    assert model.batcher.requests >= len(inputs)
