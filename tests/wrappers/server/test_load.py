"""Under concurrent load each answer is its own request's prediction, and a killed worker recovers.

One server with two gunicorn workers serves the torch classifier. Every request carries its own
row and a ``meta.puid``; each answer must echo that puid and equal the in-process prediction for
that row. Mid-way one worker is killed (SIGKILL): only the request it was answering may be
lost, gunicorn starts a replacement that loads and self-checks, and every later request succeeds.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import MODELS_DIR, WRAPPER_OF

from modelrepo.local.process import Microservice
from wrappers import ServedModel

pytestmark = pytest.mark.e2e

MODEL = "torch-classifier"
WORKERS, CLIENT_THREADS = 2, 16
BEFORE, DURING, AFTER = 1500, 1000, 500  # requests before, around and after the kill
KILL_AFTER = 200  # of the DURING requests answered
REQUEST_TIMEOUT = 20  # seconds; a healthy answer takes milliseconds


@dataclass
class Outcome:
    index: int
    status: int | None  # None: no HTTP answer (connection reset by the dying worker)
    correct: bool = False
    problem: str = ""


@pytest.fixture(scope="module")
def model() -> ServedModel:
    model = WRAPPER_OF[MODEL](model_dir=MODELS_DIR / MODEL)
    model.load()
    return model


@pytest.fixture(scope="module")
def inputs(model: ServedModel) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows and the in-process prediction for each, one row at a time as served
    (a batched matrix product may round the last float32 bit differently)."""
    rng = np.random.default_rng(2024)
    rows = rng.normal(size=(BEFORE + DURING + AFTER, model.manifest.matrix.width))
    rows = rows.astype(np.float32)
    assert len(np.unique(rows, axis=0)) == len(rows)
    return rows, np.array([model.predict(row[None, :])[0] for row in rows])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("load") / "server.log"
    with Microservice(MODELS_DIR / MODEL, workers=WORKERS, log_path=log) as running:
        yield running


class Client:
    """Sends one row per request; after a timeout (a hung server) it stops sending."""

    def __init__(self, url: str, names: list[str]) -> None:
        self.url, self.names = url, names
        self.hung = threading.Event()

    def ask(self, index: int, row: np.ndarray, expected: np.ndarray) -> Outcome:
        if self.hung.is_set():
            return Outcome(index, None, problem="not sent: the server hung")
        body = {
            "meta": {"puid": f"row-{index}"},
            "data": {"names": self.names, "ndarray": [row.tolist()]},
        }
        try:
            answer = requests.post(self.url, json=body, timeout=REQUEST_TIMEOUT)
        except requests.Timeout:
            self.hung.set()
            return Outcome(index, None, problem="timed out")
        except requests.ConnectionError as exc:
            return Outcome(index, None, problem=type(exc).__name__)
        if answer.status_code != 200:
            return Outcome(index, answer.status_code, problem=answer.text[:200])
        try:
            reply = answer.json()
        except requests.JSONDecodeError:  # the worker died while it was sending the answer
            return Outcome(index, None, problem="answer cut off")
        if reply["meta"].get("puid") != f"row-{index}":
            return Outcome(index, 200, problem=f"answer for {reply['meta'].get('puid')}")
        value = np.asarray(reply["data"]["ndarray"], dtype=np.float64)
        correct = np.allclose(value, expected, rtol=1e-6, atol=1e-7)
        return Outcome(index, 200, correct, "" if correct else f"{value} != {expected}")


def worker_ready_logged(service: Microservice, pid: int) -> bool:
    log = Path(service.log_path).read_text(errors="replace")
    return re.search(rf"ready in pid {pid}\b", log) is not None


def test_concurrent_requests_get_their_own_answers_and_a_killed_worker_recovers(
    service, model, inputs, reliability
):
    rows, expected = inputs
    url = service.url + "/api/v1.0/predictions"
    names = model.manifest.matrix.names

    client = Client(url, names)

    def submit(pool: ThreadPoolExecutor, indices: Iterable[int]) -> list[Future[Outcome]]:
        return [pool.submit(client.ask, i, rows[i], expected[i]) for i in indices]

    workers = service.rest_worker_pids()
    assert len(workers) == WORKERS
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        before = [f.result() for f in submit(pool, range(BEFORE))]

        during_futures = submit(pool, range(BEFORE, BEFORE + DURING))
        victim, killed_at = workers[0], None
        for answered, _ in enumerate(as_completed(during_futures), start=1):
            if answered == KILL_AFTER:
                os.kill(victim, signal.SIGKILL)
                killed_at = time.monotonic()
        during = [f.result() for f in during_futures]
        assert not client.hung.is_set(), "the server stopped answering after the kill"

        deadline = time.monotonic() + 120
        while True:  # gunicorn forks a replacement, which loads and replays its golden pairs
            replacements = set(service.rest_worker_pids()) - set(workers)
            if replacements and all(worker_ready_logged(service, p) for p in replacements):
                break
            assert time.monotonic() < deadline, "no replacement worker became ready"
            time.sleep(0.2)
        recovered_in = time.monotonic() - killed_at
        assert victim not in service.rest_worker_pids()
        assert len(service.rest_worker_pids()) == WORKERS

        after = [f.result() for f in submit(pool, range(BEFORE + DURING, len(rows)))]

    outcomes = before + during + after
    lost = [o for o in during if o.status is None]
    server_errors = sum(o.status is not None and o.status >= 500 for o in outcomes)
    reliability.add(
        f"load ({MODEL}, {WORKERS} workers, {CLIENT_THREADS} client threads)",
        requests=len(outcomes),
        server_errors=server_errors,
        wrong_or_crossed_answers=sum(o.status == 200 and not o.correct for o in outcomes),
        lost_in_worker_kill=len(lost),
        failed_after_recovery=sum(not o.correct for o in after),
        seconds_to_recover=round(recovered_in, 1),
    )
    assert all(o.correct for o in before), [o for o in before if not o.correct][:5]
    # a sync gunicorn worker answers one request at a time: at most that one is lost
    assert len(lost) <= 1, lost
    assert all(o.correct for o in during if o.status is not None)
    assert all(o.correct for o in after), [o for o in after if not o.correct][:5]
    assert server_errors == 0
