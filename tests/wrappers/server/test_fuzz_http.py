"""schemathesis against Seldon's own OpenAPI description, on the running microservice: no 5xx.

schemathesis cannot be installed beside seldon-core 1.18.2, so it runs from ``.venv-fuzz``
(``make fuzz-venv`` / ``tools/venv.sh``), with the budget in
``tools/fuzz/schemathesis.toml``.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import seldon_core
from conftest import ROOT

pytestmark = pytest.mark.e2e

FUZZ = ROOT / "tools" / "fuzz"
OPENAPI = Path(seldon_core.__file__).parent / "openapi" / "seldon.json"
#: what a model serves; Seldon's router and transformer endpoints answer 404 without reading
SERVED = "^/(predict|send-feedback)$"


@pytest.fixture(scope="session")
def schemathesis() -> Path:
    venv = [ROOT / "tools" / "venv.sh", ROOT / ".venv-fuzz", FUZZ / "requirements.txt"]
    subprocess.run(venv, check=True, timeout=600)
    return ROOT / ".venv-fuzz" / "bin" / "schemathesis"


def statuses(report: Path) -> Counter[int | None]:
    """The status of every response schemathesis recorded (None: no response)."""
    counts: Counter[int | None] = Counter()
    for line in report.read_text().splitlines():
        event = json.loads(line).get("ScenarioFinished")
        for interaction in (event or {}).get("recorder", {}).get("interactions", {}).values():
            response = interaction.get("response")
            counts[response["status_code"] if response else None] += 1
    return counts


def test_schemathesis_finds_no_server_error(schemathesis, server, tmp_path, reliability):
    report = tmp_path / "schemathesis.ndjson"
    run = subprocess.run(
        [
            schemathesis,
            "--config-file", FUZZ / "schemathesis.toml",
            "run", OPENAPI,
            "--url", server.url,
            "--include-path-regex", SERVED,
            "--report", "ndjson",
            "--report-ndjson-path", report,
        ],
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    counts = statuses(report)
    server_errors = sum(n for status, n in counts.items() if status and status >= 500)
    reliability.add(
        f"schemathesis ({server.model_dir.name})",
        requests=counts.total(),
        bad_inputs=sum(n for status, n in counts.items() if status and 400 <= status < 500),
        server_errors=server_errors,
        no_response=counts[None],
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert counts.total() > 300, counts
    assert server_errors == 0 and counts[None] == 0, counts
