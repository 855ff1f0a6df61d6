"""Smoke test of bench/batching.py: a model alone and served, over REST and V2 gRPC."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import harness
from bench.batching import BATCHES, CONCURRENCIES, Config

pytestmark = pytest.mark.e2e


def test_a_configuration_reads_as_workers_threads_rows_and_wait():
    assert Config.parse("2x8/32/5") == Config(workers=2, threads=8, rows=32, wait_ms=5.0)
    assert Config.parse("1x1") == Config(workers=1, threads=1)
    env = Config.parse("2x8/32/5").env()
    assert env["MODELREPO_MICROBATCH_ROWS"] == "32" and env["GRPC_THREADS"] == "8"


@pytest.mark.parametrize("via", ["rest", "grpc"])
def test_one_short_run_measures_every_batch_and_concurrency(tmp_path, via):
    if via == "rest" and not harness.wrk_available():
        pytest.skip("wrk (`make bench-tools`) is missing")
    command = [sys.executable, "-m", "bench.batching", "torch-digits-cnn", "--via", via]
    command += ["--config", "1x4/4/1", "--seconds", "1", "--out", str(tmp_path)]
    subprocess.run(command, check=True, timeout=600, capture_output=True)
    result = json.loads((tmp_path / "torch-digits-cnn.json").read_text())
    assert [int(b) for b in result["in_process"]] == list(BATCHES)
    assert all(rate > 0 for rate in result["in_process"].values())
    assert [s["concurrency"] for s in result["served"]] == list(CONCURRENCIES)
    assert all(s["rps"] > 0 and s["errors"] == 0 for s in result["served"])
    report = (tmp_path / "torch-digits-cnn.md").read_text()
    assert "| 1 worker(s) x 4 thread(s), batch <= 4, wait 1 ms | 16 |" in report
