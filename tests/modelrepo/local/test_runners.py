"""The runners' shared start, wait and stop: a start that fails leaves nothing running."""

from __future__ import annotations

import os

import pytest
from conftest import MODELS_DIR

from modelrepo.local.process import Microservice

pytestmark = pytest.mark.e2e


def test_a_microservice_that_is_not_ready_in_time_is_stopped_whole(tmp_path):
    service = Microservice(MODELS_DIR / "sklearn-iris", log_path=tmp_path / "log")
    service.ready_timeout = 0.3  # far less than loading takes
    with pytest.raises(TimeoutError, match="not ready after"), service:
        pass
    assert service.process is not None
    with pytest.raises(ProcessLookupError):  # gunicorn, its workers, gRPC and metrics are gone
        os.killpg(service.process.pid, 0)


def test_a_microservice_that_exits_while_starting_says_why_and_leaves_nothing(tmp_path):
    service = Microservice(MODELS_DIR / "sklearn-iris", user_class="NoSuchClass")
    service.log_path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="exited with"), service:
        pass
    with pytest.raises(ProcessLookupError):
        os.killpg(service.process.pid, 0)
