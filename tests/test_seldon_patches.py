"""The corrections wrappers.launch applies to Seldon (bind behaviour: test_http_attacks)."""

import multiprocessing
import os
import signal
import threading
import time

import grpc
import pytest

from wrappers.seldon_patches import ProcessSafeLock, address, grpc_status, rehost


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1:9000"), ("::1", "[::1]:9000"), ("0.0.0.0", "0.0.0.0:9000")],
)
def test_seldons_hard_coded_host_is_replaced_and_its_port_kept(host, expected):
    assert rehost("0.0.0.0:9000", host) == expected
    assert address(host, 9000) == expected


@pytest.mark.parametrize(
    ("http_status", "code"),
    [
        (400, grpc.StatusCode.INVALID_ARGUMENT),
        (404, grpc.StatusCode.UNIMPLEMENTED),
        (503, grpc.StatusCode.UNAVAILABLE),
        (500, grpc.StatusCode.INTERNAL),
    ],
)
def test_seldon_errors_map_to_grpc_status_codes(http_status, code):
    assert grpc_status(http_status) == code


def hold_until_killed(lock, holding) -> None:
    lock.__enter__()
    holding.set()
    time.sleep(60)


def holding_process(lock) -> multiprocessing.Process:
    """Starts a process that takes ``lock`` and keeps it until it is killed."""
    holding = multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_until_killed, args=(lock, holding))
    holder.start()
    assert holding.wait(30)
    return holder


def acquired_by_a_thread(lock, seconds: float) -> bool:
    done = threading.Event()

    def take() -> None:
        with lock:
            done.set()

    threading.Thread(target=take, daemon=True).start()
    return done.wait(seconds)


def test_seldons_manager_lock_stays_held_after_its_holder_is_killed():
    """Why survive_killed_workers exists: this is the lock every Seldon worker takes."""
    manager = multiprocessing.Manager()
    lock = manager.Lock()
    holder = holding_process(lock)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    assert not lock.acquire(timeout=2)
    manager.shutdown()


def test_process_safe_lock_excludes_other_processes_and_dies_with_its_holder():
    lock = ProcessSafeLock()
    holder = holding_process(lock)
    assert not acquired_by_a_thread(lock, 1), "held by another process"
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    assert acquired_by_a_thread(lock, 30), "released when its holder died"
