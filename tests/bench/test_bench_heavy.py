"""Smoke test of the heavy cases (``modelrepo bench --heavy``): real servers, real load, one
short case per server and wire, on the heavy models whose artifacts are present.

It checks that every server starts, answers what the model answers in process, is driven over
each of its wires, and that the report is written; it asserts nothing about speed.
TorchServe's case needs its own environment (``make torchserve-venv``, a few minutes): it runs
in the full benchmark and here only when that environment exists.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import MODELS_DIR

from bench import harness
from bench.heavy import report
from bench.heavy.run import HEAVY_MODELS, SMOKE, run_heavy
from bench.heavy.servers import OURS_WIRES, mlserver_ready, torchserve_ready
from wrappers.core.manifest import Manifest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not harness.wrk_available(), reason="wrk (`make bench-tools`) is missing"),
]


def materialised(name: str) -> bool:
    """The model directory exists with every artifact its manifest pins."""
    if not (MODELS_DIR / name / "manifest.json").exists():
        return False
    manifest = Manifest.read(MODELS_DIR / name)
    return all((MODELS_DIR / name / a.path).exists() for a in manifest.artifacts)


#: one heavy model is enough to smoke every server and wire (the full bench runs both): the
#: first whose files are present, else the CNN they are modelled on
MODELS = tuple(m for m in HEAVY_MODELS if materialised(m))[:1] or ("torch-digits-cnn",)


def test_every_server_answers_as_the_model_and_is_measured(tmp_path):
    assert mlserver_ready(), "MLServer's environment (`make v2-client`) is missing"
    plan = replace(SMOKE, models=MODELS, servers=("ours", "naive", "mlserver"))
    run = run_heavy(plan, tmp_path, log=lambda _: None)

    for model in MODELS:
        expected = {f"ours-{model}:{wire}" for wire in OURS_WIRES}
        expected |= {f"naive-{model}:seldon"}
        for config in plan.peer_configs:
            expected |= {f"mlserver-{config}-{model}:{w}" for w in ("v2-json", "grpc")}
        assert {c.server for c in run.cases if c.model == model} == expected
        assert {c.server for c in run.checks if c.model == model} == expected
        limit = run.inprocess[model]["limit"]
        assert set(limit["rows_per_s"]) == {"1", "4"}  # batch sizes, as JSON keys
        assert limit["call_ms"] > 0
        for wire in ("v2-binary", "grpc"):
            cost = run.inprocess[model]["overhead"][wire]
            assert 0 < cost["model_ms"] < cost["request_ms"]
    for case in run.cases:
        assert case.requests > 0 and case.errors == 0, case
        assert case.p50_ms <= case.p99_ms and case.cpu_ms > 0
        assert case.worker_rss_mb > 0
    assert all(check.equal for check in run.checks), run.checks
    assert all(seconds > 0 for seconds in run.startup_s.values())

    path = report.write(run, tmp_path / "out")
    text = path.read_text()
    for model in MODELS:
        assert (tmp_path / "out" / f"{model}.png").stat().st_size > 0
        assert f"| {model} | our best req/s / MLServer's best |" in text
        assert f"| `ours-{model}:v2-binary` | {model} | 2 |" in text


@pytest.mark.skipif(not torchserve_ready(), reason="no TorchServe environment: full bench only")
def test_torchserve_answers_as_the_model_and_is_measured(tmp_path):
    plan = replace(SMOKE, models=MODELS[:1], servers=("torchserve",))
    run = run_heavy(plan, tmp_path, log=lambda _: None)
    (case,) = run.cases
    assert case.server.startswith("torchserve-") and case.requests > 0 and case.errors == 0
    assert [check.equal for check in run.checks] == [True]
