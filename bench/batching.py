"""Batching where the model's work dominates: the served model beside its in-process limit.

For one model directory it measures, in one run on the same cores:

* the model alone (its framework call, no server) at each batch size: the best rows/s is the
  in-process limit, and batch 1's median call is the bare call;
* the served model under ``wrk`` (one request = one row, as clients send them) at each
  concurrency, for each serving configuration (workers, threads, micro-batch rows and wait).

``python -m bench.batching minilm-embeddings`` writes ``bench/results/batching/<model>.json``
and ``.md``. The machine may be shared: compare the ratios of one run, not numbers across runs.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from bench.harness import drive, machine
from bench.heavy import inprocess
from bench.heavy.wire import Sample
from bench.procs import memory_of_busy, session_sample
from bench.servers import MODELS, ROOT
from modelrepo.local.process import Microservice
from wrappers.contract import TextSpec
from wrappers.core.budget import cpu_count
from wrappers.core.manifest import Manifest

RESULTS = ROOT / "bench" / "results" / "batching"
BATCHES = (1, 2, 4, 8, 16, 32, 64)
CONCURRENCIES = (1, 4, 16, 64)


@dataclass(frozen=True)
class Config:
    """One way to serve the model: gunicorn workers x threads (and as many gRPC processes x
    threads), and the micro-batcher's largest batch and longest wait (``rows`` 1: none)."""

    workers: int
    threads: int
    rows: int = 1
    wait_ms: float = 0.0

    @property
    def label(self) -> str:
        batching = f", batch <= {self.rows}, wait {self.wait_ms:g} ms" if self.rows > 1 else ""
        return f"{self.workers} worker(s) x {self.threads} thread(s){batching}"

    def env(self) -> dict[str, str]:
        return {
            "GRPC_WORKERS": str(self.workers),
            "GRPC_THREADS": str(self.threads),
            "MODELREPO_MICROBATCH_ROWS": str(self.rows),
            "MODELREPO_MICROBATCH_WAIT_MS": str(self.wait_ms),
        }

    @classmethod
    def parse(cls, text: str) -> Config:
        """``WORKERSxTHREADS[/ROWS[/WAIT_MS]]``, e.g. ``1x16/16/2``."""
        size, _, batching = text.partition("/")
        workers, threads = (int(n) for n in size.split("x"))
        rows, _, wait = batching.partition("/")
        return cls(workers, threads, int(rows or 1), float(wait or 0))


@dataclass(frozen=True)
class Served:
    config: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    #: the server's CPU time per answered request: far less sensitive to other load than req/s
    cpu_ms: float = 0.0


@dataclass
class Measurement:
    model: str
    machine: dict[str, str]
    #: rows per second of the model alone, by batch size, and its CPU ms per row
    in_process: dict[int, float] = field(default_factory=dict)
    in_process_cpu_ms: dict[int, float] = field(default_factory=dict)
    bare_ms: float = 0.0
    served: list[Served] = field(default_factory=list)
    via: str = "rest"

    @property
    def limit(self) -> tuple[int, float]:
        """The best batch size and its rows per second."""
        best = max(self.in_process, key=lambda b: self.in_process[b])
        return best, self.in_process[best]


def one_row(manifest: Manifest) -> Any:
    """The first golden pair's first row, as a decoded input the model takes."""
    (spec,) = manifest.inputs
    value = manifest.golden[0].input[spec.name]
    if isinstance(spec, TextSpec):
        return [value[0]]
    return np.asarray(value[:1], dtype=spec.dtype)


def in_process(model: str, seconds: float) -> tuple[dict[int, float], dict[int, float], float]:
    """The model's own call (every core to itself) at each batch size, measured as the heavy
    bench measures its limit: rows/s and CPU ms per row; and batch 1's median call."""
    served = inprocess.load(model)
    found = inprocess.limit(served, Sample.of(MODELS / model), seconds, list(BATCHES))
    rates = {batch: found["rows_per_s"][batch] for batch in BATCHES}
    cpu = {batch: found["cpu_ms_per_row"][batch] for batch in BATCHES}
    return rates, cpu, found["call_ms"]


def drive_grpc(target: str, request: Any, connections: int, seconds: float) -> dict[str, float]:
    """``connections`` threads each sending the V2 gRPC ``request`` back to back for
    ``seconds``; the summary ``wrk`` gives. For models of tens of requests a second, where
    the client's own cost is small beside the server's."""
    import grpc

    from wrappers.protocols.v2 import open_inference_pb2_grpc as pb_grpc

    latencies: list[float] = []
    errors = 0
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        deadline = time.perf_counter() + seconds

        def loop() -> None:
            nonlocal errors
            while (started := time.perf_counter()) < deadline:
                try:
                    stub.ModelInfer(request, timeout=60)
                    latencies.append(time.perf_counter() - started)
                except grpc.RpcError:
                    errors += 1

        began = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            for _ in range(connections):
                pool.submit(loop)
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies) or [0.0]
    return {
        "requests": len(latencies) + errors,
        "duration_us": elapsed * 1e6,
        "socket_errors": 0,
        "status_errors": errors,
        "p50_us": ordered[len(ordered) // 2] * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    }


def v2_request(manifest: Manifest) -> Any:
    """One row as a V2 gRPC request with raw contents."""
    from wrappers.protocols.v2 import open_inference_pb2 as pb

    (spec,) = manifest.inputs
    row = one_row(manifest)
    request = pb.ModelInferRequest(model_name=manifest.name)
    if isinstance(row, list):
        request.inputs.add(name=spec.name, datatype="BYTES", shape=[len(row)])
        request.inputs[0].contents.bytes_contents.extend(t.encode() for t in row)
    else:
        request.inputs.add(name=spec.name, datatype="FP32", shape=list(row.shape))
        request.raw_input_contents.append(row.astype("<f4").tobytes())
    return request


def served(
    model_dir: Path, config: Config, body: Path, seconds: int, log: Path, via: str
) -> list[Served]:
    """Each concurrency against the microservice serving the model as ``config`` says, over
    Seldon REST (``wrk``) or V2 gRPC with raw contents."""
    service = Microservice(
        model_dir, workers=config.workers, threads=config.threads, env=config.env(), log_path=log
    )
    results = []
    with service:
        if via == "grpc":
            request = v2_request(Manifest.read(model_dir))

            def run(connections: int, duration: float) -> dict[str, float]:
                return drive_grpc(service.grpc_target, request, connections, duration)
        else:
            url = service.url + "/api/v1.0/predictions"

            def run(connections: int, duration: float) -> dict[str, float]:
                return drive(url, body, connections, int(duration))

        run(config.workers * config.threads, 2)  # warm every worker and thread
        for connections in CONCURRENCIES:
            run(1, 1)  # what the last run left queued is answered before this one starts
            before = session_sample(service.process.pid)
            stats = run(connections, seconds)
            used = memory_of_busy(before, session_sample(service.process.pid)).cpu_s
            ok = stats["requests"] - stats["status_errors"]
            results.append(
                Served(
                    config.label,
                    connections,
                    ok / (stats["duration_us"] / 1e6),
                    stats["p50_us"] / 1000,
                    stats["p99_us"] / 1000,
                    int(stats["status_errors"] + stats["socket_errors"]),
                    used * 1000 / max(ok, 1),
                )
            )
    return results


def request_body(manifest: Manifest) -> dict[str, Any]:
    """One row as a Seldon request: a text in ``data.ndarray``, a tensor as ``data.tensor``."""
    row = one_row(manifest)
    if isinstance(row, list):
        return {"data": {"ndarray": row}}
    return {"data": {"tensor": {"shape": list(row.shape), "values": row.ravel().tolist()}}}


def markdown(result: Measurement) -> str:
    best, limit = result.limit
    cheapest = min(result.in_process_cpu_ms.values())
    lines = [
        f"# Batching: {result.model}",
        "",
        f"One run on {result.machine.get('cpus', '?')} cores, shared with other work: compare "
        "ratios within this run only.",
        "",
        f"Served over {'V2 gRPC (raw contents)' if result.via == 'grpc' else 'Seldon REST'}, "
        "one row per request. "
        f"In process: best batch {best}, {limit:.0f} rows/s (the limit); bare call at batch 1 "
        f"{result.bare_ms:.1f} ms.",
        "",
        "| batch | " + " | ".join(str(b) for b in result.in_process) + " |",
        "| --- | " + " | ".join("---:" for _ in result.in_process) + " |",
        "| rows/s | " + " | ".join(f"{r:.0f}" for r in result.in_process.values()) + " |",
        "| CPU ms/row | "
        + " | ".join(f"{c:.1f}" for c in result.in_process_cpu_ms.values())
        + " |",
        "",
        f"The least CPU per row: {cheapest:.1f} ms. `x limit` is req/s over the limit's "
        "rows/s; `CPU x` is that CPU over the server's CPU per request (what the throughput "
        "ratio is on cores the server has to itself).",
        "",
        "| configuration | c | req/s | x limit | p50 ms | x bare | p99 ms | CPU ms/req | CPU x "
        "| errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in result.served:
        lines.append(
            f"| {s.config} | {s.concurrency} | {s.rps:.1f} | {s.rps / limit:.2f} | "
            f"{s.p50_ms:.1f} | {s.p50_ms / result.bare_ms:.2f} | {s.p99_ms:.1f} | "
            f"{s.cpu_ms:.1f} | {cheapest / max(s.cpu_ms, 1e-9):.2f} | {s.errors} |"
        )
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("model")
@click.option("--config", "configs", multiple=True, help="WORKERSxTHREADS[/ROWS[/WAIT_MS]]")
@click.option("--seconds", default=5, show_default=True, help="Per concurrency.")
@click.option("--via", type=click.Choice(["rest", "grpc"]), default="rest", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=RESULTS)
def main(model: str, configs: tuple[str, ...], seconds: int, via: str, out: Path) -> None:
    """Measure MODEL (a directory under models/) alone and served in each --config."""
    model_dir = MODELS / model
    manifest = Manifest.read(model_dir)
    result = Measurement(model, {**machine(), "cpus": str(cpu_count())}, via=via)
    result.in_process, result.in_process_cpu_ms, result.bare_ms = in_process(model, seconds / 2)
    click.echo(f"{model}: in process {result.in_process}, bare {result.bare_ms:.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps(request_body(manifest)))
        for text in configs or ("1x1",):
            config = Config.parse(text)
            log = Path(tmp) / f"{text.replace('/', '_')}.log"
            result.served += served(model_dir, config, body, seconds, log, via)
            for s in result.served[-len(CONCURRENCIES) :]:
                click.echo(f"  {s.config} c={s.concurrency}: {s.rps:.1f} req/s p50 {s.p50_ms:.1f}")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{model}.json").write_text(json.dumps(asdict(result), indent=1) + "\n")
    (out / f"{model}.md").write_text(markdown(result))
    click.echo(f"written to {out / model}.md")


if __name__ == "__main__":
    main()
