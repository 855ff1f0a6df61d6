"""Runs the heavy cases: each server alone on the machine, one model at a time.

For each model: the model alone in process (``inprocess``), then each server is started (its
cold start is the time from process start to its first answer on every wire), its answer
checked against the in-process one, and driven over each of its wires at each concurrency
(``wrk`` for REST, ``grpc_load`` for gRPC), then stopped before the next starts: these models
take a whole core or more per request, so two servers up together would measure each other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import Case, Check, drive, machine
from bench.heavy import servers as peers
from bench.heavy.servers import Batching, HeavyServer
from bench.heavy.wire import GRPC_METHOD, read_answer
from bench.procs import memory_of_busy, session_sample
from bench.servers import ROOT

#: the models of the heavy cases (made by their own train.py)
HEAVY_MODELS = ("torch-resnet18", "minilm-embeddings")
#: the peers' configurations tried; each peer's best is the one compared
PEER_CONFIGS = (Batching(2, 8, 5), Batching(2, 32, 5))


@dataclass(frozen=True)
class HeavyPlan:
    duration: int = 10
    warmup: int = 3
    concurrencies: tuple[int, ...] = (1, 4, 16, 64)
    models: tuple[str, ...] = HEAVY_MODELS
    #: which servers: ours, naive, mlserver, torchserve
    servers: tuple[str, ...] = ("ours", "naive", "mlserver", "torchserve")
    peer_configs: tuple[Batching, ...] = PEER_CONFIGS
    #: the batch sizes of the in-process limit, and seconds for each
    limit_batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    limit_seconds: float = 3.0


FULL = HeavyPlan()
SMOKE = HeavyPlan(
    duration=1,
    warmup=0,
    concurrencies=(2,),
    peer_configs=(Batching(1, 4, 5),),
    limit_batches=(1, 4),
    limit_seconds=0.2,
)


@dataclass
class HeavyRun:
    machine: dict[str, str]
    plan: HeavyPlan
    cases: list[Case] = field(default_factory=list)
    startup_s: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)
    #: by model: the in-process limit and the server's own cost (``inprocess``)
    inprocess: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, default=str)


def servers_of(model: str, plan: HeavyPlan, work_dir: Path) -> list[HeavyServer]:
    made: list[HeavyServer] = []
    if "ours" in plan.servers:
        made.append(peers.ours(model))
    if "naive" in plan.servers:
        made.append(peers.naive(model))
    for config in plan.peer_configs:
        if "mlserver" in plan.servers:
            made.append(peers.mlserver(model, work_dir, config))
        if "torchserve" in plan.servers:
            made.append(peers.torchserve(model, work_dir, config))
    return made


def inprocess(model: str, plan: HeavyPlan) -> dict[str, Any]:
    batches = ",".join(map(str, plan.limit_batches))
    done = subprocess.run(
        [sys.executable, "-m", "bench.heavy.inprocess", model, str(plan.limit_seconds), batches],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the in-process measurement of {model} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load(server: HeavyServer, wire: str, body: Path, connections: int, seconds: int) -> dict:
    if wire != "grpc":
        return drive(server.target(wire), body, connections, seconds, server.body(wire).headers)
    command = [sys.executable, "-m", "bench.heavy.grpc_load", server.target(wire), GRPC_METHOD]
    command += [str(body), str(connections), str(seconds)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=True
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def measure(server: HeavyServer, wire: str, plan: HeavyPlan, work_dir: Path) -> list[Case]:
    model = server.models[0]
    body = server.body(wire).write(work_dir, f"{server.key}-{model}")
    assert server.process is not None
    if plan.warmup:
        load(server, wire, body, max(plan.concurrencies), plan.warmup)
        server.send(server.body(wire), timeout=300)
    cases = []
    for connections in plan.concurrencies:
        before = session_sample(server.process.pid)
        stats = load(server, wire, body, connections, plan.duration)
        memory = memory_of_busy(before, session_sample(server.process.pid))
        # the calls still queued when the load stopped are answered before the next case
        server.send(server.body(wire), timeout=300)
        ok = stats["requests"] - stats["status_errors"]
        cases.append(
            Case(
                server=f"{server.key}:{wire}",
                label=f"{server.label}, {wire}",
                model=model,
                concurrency=connections,
                rows=1,
                requests=int(stats["requests"]),
                errors=int(stats["status_errors"] + stats["socket_errors"]),
                rps=ok / (stats["duration_us"] / 1e6),
                p50_ms=stats["p50_us"] / 1000,
                p99_ms=stats["p99_us"] / 1000,
                cpu_ms=memory.cpu_s * 1000 / max(ok, 1),
                worker_rss_mb=memory.worker_rss_mb,
                total_pss_mb=memory.total_pss_mb,
                busy_processes=memory.busy,
            )
        )
    return cases


def check(server: HeavyServer, wire: str, reference: np.ndarray, tolerance: float) -> Check:
    data, headers = server.send(server.body(wire))
    answer = read_answer(wire, data, headers)
    model = server.models[0]
    if answer.shape != reference.shape:
        return Check(model, f"{server.key}:{wire}", "in process", False, f"shape {answer.shape}")
    diff = float(np.max(np.abs(answer - reference)))
    equal = bool(np.allclose(answer, reference, rtol=tolerance, atol=tolerance))
    return Check(model, f"{server.key}:{wire}", "in process", equal, f"max abs diff {diff:.2g}")


def run_heavy(plan: HeavyPlan, work_dir: Path, log: Callable[[str], None] = print) -> HeavyRun:
    run = HeavyRun(machine=machine(), plan=plan)
    for model in plan.models:
        log(f"{model}: the model alone, in process")
        found = inprocess(model, plan)
        reference = np.asarray(found.pop("reference"), dtype=np.float32)
        run.inprocess[model] = found
        for server in servers_of(model, plan, work_dir):
            log(f"{server.label}: starting")
            try:
                run.startup_s[server.key] = server.start(work_dir)
                run.servers[server.key] = server.label
                for wire in server.wires:
                    # answers agree to float32 round-off with batching: 1e-4, not the manifest's
                    run.checks.append(check(server, wire, reference, 1e-4))
                    for case in measure(server, wire, plan, work_dir):
                        log(
                            f"  {case.server:44} c={case.concurrency:2}: {case.rps:7.1f} req/s"
                            f"  p50 {case.p50_ms:8.2f} ms  p99 {case.p99_ms:8.2f} ms"
                            f"  errors {case.errors}"
                        )
                        run.cases.append(case)
            finally:
                server.stop()
    return run
