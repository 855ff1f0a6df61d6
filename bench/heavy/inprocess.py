"""The model alone, in process, and the server's own cost around it.

``python -m bench.heavy.inprocess MODEL SECONDS BATCHES`` loads ``models/MODEL`` as its image does
(its ``MyModel``), but with every core for the framework, called from the main thread as a
script calls it; the served model's goals are set against that. Then it prints one JSON line:

* ``limit``: rows/s and CPU ms per row of the bare model call (the framework's predict on
  checked inputs) at each batch size of BATCHES (comma-separated), each for about SECONDS;
  the best is the in-process limit, the batch-1 median call is the bare model call;
* ``overhead``: for one request over V2 binary REST (Seldon's Flask app, the same blueprint
  the server runs, called as a WSGI application) and over V2 gRPC (the servicer, with the
  message parsed from and written to bytes), the median time of the whole request and of the
  model call inside it; their difference is the server's own cost: decode, checks, encode;
* ``reference``: the model's output for the sample, which every server must answer.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.heavy.wire import Sample
from bench.servers import MODELS
from wrappers import codecs

OVERHEAD_CALLS = 20


def load(model: str) -> Any:
    os.environ.update(GUNICORN_WORKERS="1", GUNICORN_THREADS="1")
    sys.path.insert(0, str(MODELS / model))
    served = importlib.import_module("MyModel").MyModel()
    served.load()
    return served


def batch_of(sample: Sample, rows: int) -> dict[str, Any]:
    if sample.text:
        value: Any = [str(sample.value[0])] * rows
    else:
        value = np.repeat(sample.value, rows, axis=0)
    return {sample.input_name: value}


def limit(served: Any, sample: Sample, seconds: float, batches: list[int]) -> dict[str, Any]:
    rates, cpu_ms, first_calls = {}, {}, []
    for rows in sorted({1, *batches}):
        checked = codecs.read_inputs(served.manifest.inputs, batch_of(sample, rows), {}, 10**6)
        served._predict(checked)  # warm
        calls, started, cpu = [], time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds or len(calls) < 3:
            before = time.perf_counter()
            served._predict(checked)
            calls.append(time.perf_counter() - before)
        rates[rows] = rows * len(calls) / sum(calls)
        cpu_ms[rows] = (time.process_time() - cpu) * 1000 / (rows * len(calls))
        if rows == 1:
            first_calls = calls
    best = max(rates, key=rates.get)
    return {
        "rows_per_s": rates,
        "cpu_ms_per_row": cpu_ms,
        "best_batch": best,
        "best_rows_per_s": rates[best],
        "call_ms": float(np.median(first_calls) * 1000),
    }


class ModelClock:
    """Wraps the model's predict to add up the time spent in it."""

    def __init__(self, served: Any) -> None:
        self.spent = 0.0
        predict = served._predict

        def timed(inputs: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return predict(inputs)
            finally:
                self.spent += time.perf_counter() - started

        if served._run == predict:  # no micro-batcher: the core calls its bound predict
            served._run = timed
        served._predict = timed


def wsgi_call(app: Any, body: Any) -> Callable[[], None]:
    """One request to the WSGI application, its environ built once: what is timed is the
    server's part (routing, decode, checks, model, encode), not a test client's."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path=body.path, method="POST", data=body.data, headers=body.headers
    ).get_environ()

    def call() -> None:
        statuses = []
        answer = app(
            {**environ, "wsgi.input": io.BytesIO(body.data)},
            lambda status, headers, exc_info=None: statuses.append(status),
        )
        b"".join(answer)
        assert statuses[0].startswith("200"), statuses

    return call


def overhead(served: Any, sample: Sample) -> dict[str, dict[str, float]]:
    from seldon_core.metrics import SeldonMetrics
    from seldon_core.wrapper import get_rest_microservice

    from wrappers.protocols.v2 import open_inference_pb2 as pb
    from wrappers.server.v2_grpc import InferenceServicer

    clock = ModelClock(served)
    rest = wsgi_call(get_rest_microservice(served, SeldonMetrics()), sample.v2_binary())
    servicer = InferenceServicer(served)
    grpc_body = sample.grpc()

    def grpc() -> None:
        servicer._infer(pb.ModelInferRequest.FromString(grpc_body.data)).SerializeToString()

    found = {}
    for name, call in (("v2-binary", rest), ("grpc", grpc)):
        call()
        totals, models = [], []
        for _ in range(OVERHEAD_CALLS):
            clock.spent, started = 0.0, time.perf_counter()
            call()
            totals.append(time.perf_counter() - started)
            models.append(clock.spent)
        own = np.asarray(totals) - np.asarray(models)
        found[name] = {
            "request_ms": float(np.median(totals) * 1000),
            "model_ms": float(np.median(models) * 1000),
            "own_ms": float(np.median(own) * 1000),
            "own_share": float(np.median(own / np.asarray(models))),
        }
    return found


def main() -> None:
    model, seconds = sys.argv[1], float(sys.argv[2])
    batches = [int(b) for b in sys.argv[3].split(",")]
    served = load(model)
    sample = Sample.of(MODELS / model)
    checked = codecs.read_inputs(served.manifest.inputs, batch_of(sample, 1), {}, 10**6)
    reference = served._predict(checked)[sample.output_name]
    found = {
        "limit": limit(served, sample, seconds, batches),
        "overhead": overhead(served, sample),
        "reference": np.asarray(reference, dtype=np.float32).tolist(),
    }
    print(json.dumps(found))


if __name__ == "__main__":
    main()
