"""Smoke test of the benchmark harness: real servers, real load, one short case each.

It checks that the harness starts the servers, drives them, compares their predictions and
writes its report; it asserts nothing about speed.
"""

from __future__ import annotations

import pytest
from conftest import MODELS_DIR

from bench import harness, report
from bench.boosters import booster_servers
from bench.servers import ceiling_server, flask_server, model_server, s2i_environment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not harness.wrk_available(), reason="wrk (`make bench-tools`) is missing"),
]


def test_harness_measures_the_baselines_and_the_deployed_model(tmp_path):
    servers = [
        flask_server(),
        ceiling_server(["sklearn-iris"]),
        model_server(
            "sklearn-iris", "deployed", s2i_environment(MODELS_DIR / "sklearn-iris"), "as deployed"
        ),
    ]
    plan = harness.Plan(duration=1, warmup=0, rounds=1, concurrencies=(2,), rows=(1,))
    run = harness.run_benchmark(servers, plan, tmp_path, log=lambda _: None)

    assert {(c.server, c.model) for c in run.cases} == {
        ("flask", "sklearn-iris"),
        ("ceiling", "sklearn-iris"),
        ("sklearn-iris-deployed", "sklearn-iris"),
    }
    for case in run.cases:
        assert case.requests > 0 and case.errors == 0, case
        assert case.p50_ms <= case.p99_ms
        assert case.worker_rss_mb > 0 and case.total_pss_mb > 0
    assert [(c.server, c.reference, c.equal) for c in run.checks] == [
        ("ceiling", "its input", True),
        ("flask", "sklearn-iris-deployed", True),
    ]
    assert set(run.startup_s) == {"flask", "ceiling", "sklearn-iris-deployed"}
    assert all(
        servers_stopped for servers_stopped in (s.process.poll() is not None for s in servers)
    )

    path = report.write(run, tmp_path / "out")
    text = path.read_text()
    assert "| `flask` | sklearn-iris | 2 | 1 |" in text
    assert (tmp_path / "out" / "results.png").stat().st_size > 0
    assert (tmp_path / "out" / "results.json").exists()


@pytest.mark.skipif(not harness.mlserver_ready(), reason="MLServer's environment is missing")
def test_boosters_are_measured_beside_mlservers_runtimes(tmp_path):
    servers = [s for s in booster_servers(tmp_path) if s.models == ["lightgbm-diabetes"]]
    assert [s.key for s in servers] == [
        "lightgbm-diabetes-deployed",
        "lightgbm-diabetes-v2",
        "mlserver-lightgbm",
    ]
    plan = harness.Plan(duration=1, warmup=0, rounds=1, concurrencies=(2,), rows=(1,))
    run = harness.run_benchmark(servers, plan, tmp_path, log=lambda _: None)

    assert {c.server for c in run.cases} == {s.key for s in servers}
    for case in run.cases:
        assert case.requests > 0 and case.errors == 0, case
    # the same 100 rows, as a table to the wrappers and as category codes to MLServer
    assert {(c.server, c.reference, c.equal) for c in run.checks} == {
        ("lightgbm-diabetes-v2", "lightgbm-diabetes-deployed", True),
        ("mlserver-lightgbm", "lightgbm-diabetes-deployed", True),
    }
