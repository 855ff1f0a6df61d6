"""Runs every server one after the other under the same load and collects comparable numbers.

All cases run in one process on one machine, so ratios between them are fair even when the
machine is shared: the load comes from ``wrk`` (one thread, C, few CPU cycles per request) with
``post.lua`` for the JSON body, for a fixed duration per case.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.boosters import BOOSTER_MODELS, booster_servers
from bench.procs import memory_of_busy, session_sample
from bench.servers import (
    MLSERVER_VENV,
    MODELS,
    ROOT,
    V2,
    Server,
    ceiling_server,
    flask_server,
    keras_server,
    mlserver_server,
    model_server,
    request_rows,
    s2i_environment,
)
from wrappers.core.budget import cpu_count
from wrappers.core.manifest import Manifest

LUA = Path(__file__).with_name("post.lua")
MODEL_NAMES = ("sklearn-iris", "torch-classifier", "tf-regressor")
#: the batch every server answers once, to check that they all predict the same
CHECK_ROWS = 100


@dataclass(frozen=True)
class Plan:
    """How long each case runs and which request shapes and concurrencies it covers."""

    duration: int = 3
    warmup: int = 1
    rounds: int = 2
    concurrencies: tuple[int, ...] = (1, 8)
    rows: tuple[int, ...] = (1, 100)


FULL = Plan()
QUICK = Plan(duration=1, warmup=0, rounds=1, concurrencies=(8,), rows=(1,))
ABLATION = Plan(rows=(1,))


@dataclass(frozen=True)
class Case:
    server: str
    label: str
    model: str
    concurrency: int
    rows: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    #: server CPU time per answered request: less sensitive to other load than req/s
    cpu_ms: float
    worker_rss_mb: float
    total_pss_mb: float
    busy_processes: int


@dataclass(frozen=True)
class Check:
    model: str
    server: str
    reference: str
    equal: bool
    detail: str


@dataclass
class Run:
    machine: dict[str, str]
    plan: Plan
    cases: list[Case] = field(default_factory=list)
    startup_s: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)  # key -> label with settings

    def case(self, server: str, model: str, concurrency: int, rows: int) -> Case | None:
        return next(
            (
                c
                for c in self.cases
                if (c.server, c.model, c.concurrency, c.rows) == (server, model, concurrency, rows)
            ),
            None,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


# ---- the servers of a run ----------------------------------------------------------------------


def standard_servers(run_dir: Path) -> list[Server]:
    """Baselines first, then every model as deployed (through the launcher, and as plain
    ``seldon-core-microservice`` as Seldon's s2i images run it) and with Seldon's plain
    defaults, and sklearn-iris as deployed asked over V2 with the request MLServer gets."""
    servers = [
        flask_server(),
        mlserver_server(run_dir),
        ceiling_server(list(MODEL_NAMES)),
        ceiling_server(["torch-classifier", "tf-regressor"], launcher=True),
        keras_server(),
    ]
    for name in MODEL_NAMES:
        deployed = s2i_environment(MODELS / name)
        servers.append(model_server(name, "deployed", deployed, f"{name} as deployed"))
        label = f"{name} as deployed, plain seldon-core-microservice"
        servers.append(model_server(name, "seldon", deployed, label, launcher=False))
        servers.append(model_server(name, "plain", PLAIN, f"{name}, Seldon defaults"))
    iris = s2i_environment(MODELS / "sklearn-iris")
    label = "sklearn-iris as deployed, over V2 REST (MLServer's request)"
    servers.append(model_server("sklearn-iris", "v2", iris, label, protocol=V2))
    servers += booster_servers(run_dir)
    return servers


def ablation_servers() -> list[Server]:
    """Each model from Seldon's defaults to its deployed settings, one change at a time."""
    baseline = {**PLAIN, "GUNICORN_WORKERS": "2"}
    fast = {**baseline, "MODELREPO_FAST_JSON": "true"}
    steps = {
        "sklearn-iris": [
            ("1-plain", PLAIN, "Seldon defaults: 1 worker, generic path, scikit-learn's trees"),
            ("2-workers", baseline, "2 workers"),
            ("3-fasttrees", {**baseline, "MODELREPO_FAST_TREES": "true"}, "+ tree evaluator"),
            ("4-fastjson", {**fast, "MODELREPO_FAST_TREES": "true"}, "+ JSON fast path"),
            (
                "5-batching",
                {
                    **fast,
                    "MODELREPO_FAST_TREES": "true",
                    "GUNICORN_THREADS": "8",
                    "MODELREPO_MICROBATCH_ROWS": "32",
                },
                "+ 8 threads with micro-batching",
            ),
        ],
        "torch-classifier": [
            ("1-plain", PLAIN, "Seldon defaults: 1 worker, generic path"),
            ("2-workers", baseline, "2 workers"),
            (
                "4-batching",
                {**fast, "GUNICORN_THREADS": "8", "MODELREPO_MICROBATCH_ROWS": "32"},
                "2 workers, fast path, 8 threads with micro-batching",
            ),
        ],
        "tf-regressor": [
            ("1-plain", PLAIN, "Seldon defaults: 1 worker, generic path"),
            ("2-workers", baseline, "2 workers"),
            (
                "4-batching",
                {**fast, "GUNICORN_THREADS": "8", "MODELREPO_MICROBATCH_ROWS": "32"},
                "2 workers, fast path, 8 threads with micro-batching",
            ),
        ],
    }
    servers = [ceiling_server(list(MODEL_NAMES))]
    servers.append(ceiling_server(list(MODEL_NAMES), launcher=True))
    for name, variants in steps.items():
        for key, env, label in variants:
            servers.append(model_server(name, key, env, f"{name}: {label}"))
        deployed = s2i_environment(MODELS / name)
        servers.append(model_server(name, "deployed", deployed, f"{name} as deployed"))
    return servers


#: Seldon's defaults (one worker, one thread) with the wrapper's own speed-ups switched off
PLAIN = {
    "GUNICORN_WORKERS": "1",
    "GUNICORN_THREADS": "1",
    "MODELREPO_MICROBATCH_ROWS": "1",
    "MODELREPO_FAST_JSON": "false",
    "MODELREPO_FAST_TREES": "false",
}

# ---- load --------------------------------------------------------------------------------------


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def drive(
    url: str, body: Path, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> dict[str, float]:
    """One ``wrk`` run: keeps ``connections`` requests in flight for ``seconds``; ``headers``
    replace the JSON Content-Type."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(LUA), url]
    given = "".join(f"{name}: {value}\n" for name, value in (headers or {}).items())
    done = subprocess.run(
        command,
        env={**os.environ, "BENCH_BODY": str(body), "BENCH_HEADERS": given},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {done.stdout}{done.stderr}")
    return json.loads(line.removeprefix("BENCH "))


def measure(
    server: Server, model: str, rows: int, plan: Plan, work_dir: Path, warmup: int
) -> Iterable[Case]:
    manifest = Manifest.read(MODELS / model)
    body = work_dir / f"{model}-{rows}.json"
    body.write_text(json.dumps(server.protocol.encode(manifest, request_rows(manifest, rows))))
    assert server.process is not None
    if warmup:
        drive(server.url, body, max(plan.concurrencies), warmup)
    for connections in plan.concurrencies:
        before = session_sample(server.process.pid)
        stats = drive(server.url, body, connections, plan.duration)
        memory = memory_of_busy(before, session_sample(server.process.pid))
        seconds = stats["duration_us"] / 1e6
        ok = stats["requests"] - stats["status_errors"]
        yield Case(
            server=server.key,
            label=server.label,
            model=model,
            concurrency=connections,
            rows=rows,
            requests=int(stats["requests"]),
            errors=int(stats["status_errors"] + stats["socket_errors"]),
            rps=ok / seconds,
            p50_ms=stats["p50_us"] / 1000,
            p99_ms=stats["p99_us"] / 1000,
            cpu_ms=memory.cpu_s * 1000 / max(ok, 1),
            worker_rss_mb=memory.worker_rss_mb,
            total_pss_mb=memory.total_pss_mb,
            busy_processes=memory.busy,
        )


# ---- equal predictions -------------------------------------------------------------------------


def _as_labels(answer: np.ndarray, classes: list[str]) -> np.ndarray:
    if answer.dtype.kind in "fc" and classes and answer.ndim == 2:
        return np.asarray(classes)[answer.argmax(axis=1)]
    return answer.reshape(len(answer), -1)[:, 0] if answer.ndim == 2 else answer


def compare(answers: dict[tuple[str, str], np.ndarray], echoes: set[str], run: Run) -> None:
    """Every server's answer to the check batch: echoes against the input, the others against
    the first server of the same model that returned numbers."""
    for model in (*MODEL_NAMES, *BOOSTER_MODELS):
        manifest = Manifest.read(MODELS / model)
        classes = [str(c) for c in manifest.options.get("classes", [])]
        sent = np.asarray(request_rows(manifest, CHECK_ROWS))
        mine = []
        for (server, name), answer in answers.items():
            if name != model:
                continue
            if server in echoes:
                equal = answer.shape == sent.shape and bool(np.allclose(answer, sent))
                run.checks.append(Check(model, server, "its input", equal, "echo"))
            else:
                mine.append((server, answer))
        if not mine:
            continue
        reference, expected = next(((s, a) for s, a in mine if a.dtype.kind in "fc"), mine[0])
        for server, answer in mine:
            if server != reference:
                equal, detail = _same(answer, expected, classes, manifest.tolerance)
                run.checks.append(Check(model, server, reference, equal, detail))


def _same(
    answer: np.ndarray, expected: np.ndarray, classes: list[str], tol: float
) -> tuple[bool, str]:
    if answer.dtype.kind in "fc" and expected.dtype.kind in "fc":
        if answer.shape != expected.shape:
            return False, f"shape {answer.shape} vs {expected.shape}"
        diff = float(np.max(np.abs(answer - expected)))
        return bool(np.allclose(answer, expected, rtol=tol, atol=tol)), f"max abs diff {diff:.2g}"
    labels, reference = _as_labels(answer, classes), _as_labels(expected, classes)
    return bool(np.array_equal(labels, reference)), "class labels"


# ---- the run ------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": str(cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def run_benchmark(
    servers: list[Server],
    plan: Plan,
    work_dir: Path,
    log: Callable[[str], None] = print,
) -> Run:
    """Starts every server, checks its answers, then drives all cases in rounds.

    All servers stay up for the whole run and each round visits them in turn (every other
    round in reverse order), so a burst of load from elsewhere on the machine hits one round
    of a case, not one server; each case keeps its best round.
    """
    if not wrk_available():
        raise RuntimeError("wrk is not installed: `make bench-tools` installs it (Debian: wrk)")
    run = Run(machine=machine(), plan=plan)
    answers: dict[tuple[str, str], np.ndarray] = {}
    try:
        for server in servers:
            log(f"{server.label}: starting")
            run.startup_s[server.key] = server.start(work_dir)
            run.servers[server.key] = (
                f"{server.label} ({server.workers} worker(s) x {server.threads} thread(s))"
            )
            for model in server.models:
                manifest = Manifest.read(MODELS / model)
                check = server.protocol.encode(manifest, request_rows(manifest, CHECK_ROWS))
                answers[(server.key, model)] = server.protocol.decode(server.ask(check))
        best: dict[tuple[str, str, int, int], Case] = {}
        for round_ in range(plan.rounds):
            log(f"round {round_ + 1} of {plan.rounds}")
            for server in servers if round_ % 2 == 0 else reversed(servers):
                for model in server.models:
                    for rows in plan.rows:
                        if server.key == "keras" and rows > 1:
                            continue  # one slow baseline number is enough
                        warm = plan.warmup if round_ == 0 else 0
                        for case in measure(server, model, rows, plan, work_dir, warm):
                            log(
                                f"  {server.key:24} {model:17} c={case.concurrency} "
                                f"rows={rows:3}: {case.rps:8.1f} req/s  p50 {case.p50_ms:7.2f}"
                                f" ms  p99 {case.p99_ms:7.2f} ms  errors {case.errors}"
                            )
                            key = (case.server, case.model, case.concurrency, case.rows)
                            if key not in best or case.rps > best[key].rps:
                                best[key] = case
        run.cases = list(best.values())
    finally:
        for server in servers:  # all at once: each takes a few seconds to shut down
            server.stop(wait=False)
        for server in servers:
            server.stop()
    compare(answers, {s.key for s in servers if s.echo}, run)
    return run


def default_work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="modelrepo-bench-"))


def mlserver_ready() -> bool:
    return (MLSERVER_VENV / "bin" / "mlserver").exists()


__all__ = ["FULL", "QUICK", "ROOT", "Plan", "Run", "run_benchmark", "standard_servers"]
