"""Seldon's custom metrics, kept by each worker and shared in the background.

Seldon Core 1.18.2 keeps every worker's custom metrics in a ``multiprocessing.Manager`` dict
that its metrics server reads. On every request a worker fetches its own entry from the
manager process, merges the request's metrics into it and sends it back, each time under a
Manager lock: six round trips to another process, ~0.15 ms of wall time and CPU in two
processes per request, more than a small model's prediction.

The entry belongs to one worker (it is keyed by its pid), so the worker can hold the current
copy itself. ``WorkerMetrics`` merges each request's metrics into that copy with Seldon's own
code and a background thread writes it to the shared dict at most every ``FLUSH_SECONDS``; a
scrape sees a worker's metrics at most that much later. The shared dict is guarded by a
``ProcessSafeLock`` instead of the Manager lock, which a killed worker left held so that every
other worker blocked forever.

A TIMER (a histogram) is merged by adding one to its bucket in place (``add_to_histogram``),
not by Seldon's ``np.histogram`` over all buckets and a new list per request; its buckets
(``LATENCY_BUCKETS``) start at 10 µs, as a small model answers in less than Seldon's first
bucket of 1 ms. Every metric carries the labels of the served model (``label_with``) instead of
Seldon's ``NOT_IMPLEMENTED`` outside a SeldonDeployment.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import math
import os
import signal
import tempfile
import threading
import time
from typing import Any

import numpy as np

#: the longest a scrape of the metrics server lags behind a worker's requests
FLUSH_SECONDS = 1.0
#: every TIMER's bucket bounds in seconds: 0, then 50 spread logarithmically from 10 µs to
#: 30 s, then infinity (Seldon's own spread from 1 ms)
LATENCY_BUCKETS = [0.0, *(float(b) for b in np.logspace(-5, math.log10(30), 50)), math.inf]


def add_to_histogram(
    seconds: float, counts: list[float], total: float
) -> tuple[list[float], float]:
    """Seldon's ``_update_hist`` at the cost of one bisection: ``counts[i]`` holds the values
    in ``[LATENCY_BUCKETS[i], LATENCY_BUCKETS[i + 1])``, as ``np.histogram`` counts them."""
    index = bisect.bisect_right(LATENCY_BUCKETS, seconds) - 1
    if 0 <= index < len(counts):
        counts[index] += 1
    elif seconds == math.inf:
        counts[-1] += 1
    return counts, total + seconds


class ProcessSafeLock:
    """A lock for the processes forked from its creator that dies with its holder.

    ``flock(2)`` locks belong to an open file description and are dropped when the last
    descriptor to it closes, as it does when a process dies. Each process therefore opens the
    (already unlinked) file anew through ``/proc/self/fd``; a thread lock adds exclusion between
    the threads of one process, which share their description.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the lock
        self._owner = -1
        self._fd = -1
        self._threads = threading.Lock()

    def _descriptor(self) -> int:
        if self._owner != os.getpid():
            self._fd = os.open(f"/proc/self/fd/{self._file.fileno()}", os.O_RDWR)
            self._owner, self._threads = os.getpid(), threading.Lock()
        return self._fd

    def __enter__(self) -> ProcessSafeLock:
        descriptor = self._descriptor()
        self._threads.acquire()
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


class WorkerMetrics:
    """One process's custom metrics: merged in place, written to the shared store in the
    background.

    It offers the attributes Seldon's ``SeldonMetrics.update`` reads from ``self`` (``data``,
    ``_lock``, ``worker_id_func``, ``_update_hist``), so that code merges the metrics unchanged.
    """

    def __init__(self, shared: Any, interval: float = FLUSH_SECONDS) -> None:
        self.pid = os.getpid()
        self.data: dict[int, dict[Any, Any]] = {}
        self._lock = contextlib.nullcontext()  # ``record`` already holds ``_merging``
        self._update_hist = add_to_histogram
        self._shared = shared
        self._interval = interval
        self._merging = threading.Lock()
        self._changed = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self._flush_forever, name="worker-metrics", daemon=True
        )
        self._thread.start()

    def worker_id_func(self) -> int:
        return self.pid

    def record(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
        from seldon_core.metrics import SeldonMetrics

        with self._merging:
            SeldonMetrics.update(self, custom_metrics, method)  # type: ignore[arg-type]
        self._changed.set()

    def flush(self) -> None:
        """Writes this worker's metrics to the shared store (unless the worker is leaving)."""
        self._changed.clear()
        with self._merging:
            if self._closed:
                return
            # written while ``_merging`` is held: ``add_to_histogram`` changes lists in place
            snapshot = dict(self.data.get(self.pid, {}))
            with self._shared._lock:
                self._shared.data[self.pid] = snapshot

    def close(self) -> None:
        """No more writes: the worker is exiting and Seldon removes its entry."""
        with self._merging:
            self._closed = True

    def _flush_forever(self) -> None:
        while not self._closed:
            self._changed.wait()
            time.sleep(self._interval)
            try:
                self.flush()
            except (OSError, EOFError):  # the manager process has gone: the server is stopping
                return


def kept_in_workers(store: type, interval: float = FLUSH_SECONDS) -> type:
    """Seldon's metrics store class ``store``, recording custom metrics through
    ``WorkerMetrics`` (the TIMER buckets are Seldon's ``metrics.BINS``: ``LATENCY_BUCKETS``
    replaces them beside this)."""

    class SeldonMetrics(store):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # the Manager process Seldon starts here holds every worker's metrics until the
            # server has stopped: a SIGTERM to the whole process group must not end it first
            # (``wrappers.server.shutdown`` stops it last)
            previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                super().__init__(*args, **kwargs)
            finally:
                signal.signal(signal.SIGTERM, previous)
            self._lock = ProcessSafeLock()
            self._own: WorkerMetrics | None = None
            self._creating = threading.Lock()
            os.register_at_fork(after_in_child=self._forget_parents)

        def label_with(self, labels: dict[str, str]) -> None:
            """Labels every metric with ``labels`` (over Seldon's own of the same name); set
            before the metrics server forks."""
            self._extra_default_labels = {**self._extra_default_labels, **labels}

        def _forget_parents(self) -> None:
            self._own, self._creating = None, threading.Lock()

        def _worker(self) -> WorkerMetrics:
            if self._own is None:  # once per process; the lock only guards the creation
                with self._creating:
                    if self._own is None:
                        self._own = WorkerMetrics(self, interval)
            return self._own

        def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
            if custom_metrics:  # Seldon records every request, most of them with nothing
                self._worker().record(custom_metrics, method)

        def collect(self) -> Any:
            """Seldon's families, one per name: Seldon yields one per worker and label set, and
            a second ``# TYPE`` line for a name is an error to strict Prometheus parsers."""
            families: dict[str, Any] = {}
            for family in super().collect():
                known = families.setdefault(family.name, family)
                if known is not family:
                    known.samples.extend(family.samples)
            yield from families.values()

        def clear(self) -> None:
            if self._own is not None:
                self._own.close()
            super().clear()

    return SeldonMetrics
