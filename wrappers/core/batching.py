"""Adaptive micro-batching: concurrent small requests in one worker run as one model call.

A worker with several threads often holds several single-row requests at once. Running them
one after the other pays the model's fixed per-call cost (Python dispatch, framework overhead)
for every row; running them together pays it once. Callers queue their rows and sleep; one model
thread per process takes every request queued so far (up to ``max_rows`` rows), runs them as one
batch and wakes each caller with exactly its own rows. Alone, a request runs at once (no added
latency); under load, batches grow by themselves, and with ``max_wait_s`` the model thread may
wait briefly for as many requests as were in flight at once since the last batch: closed-loop
clients answered by one batch come back a round trip later.

One thread runs every batch because a framework's thread pool belongs to the thread that calls
it: OpenMP keeps a pool per calling thread, and a torch CNN called from whichever request thread
came first ran at half its speed (42-47 ms against 24 ms, from one thread). The model must treat
rows independently, as every ``predict`` does. Rows are an array's first dimension (any rank) or
a list's items (texts); the answer is always an array.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: a batch of rows: an array (rows along its first dimension) or a list of texts
Rows = np.ndarray | list
Model = Callable[[Rows], np.ndarray]


def join(parts: list[Rows]) -> Rows:
    """Several callers' rows as one batch, in order."""
    if isinstance(parts[0], list):
        return [row for part in parts for row in part]
    return np.concatenate(parts)


@dataclass(eq=False)
class _Pending:
    rows: Rows
    output: np.ndarray | None = None
    error: BaseException | None = None
    #: set when the rows are answered
    done: threading.Event = field(default_factory=threading.Event)

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        assert self.output is not None
        return self.output


class MicroBatcher:
    """Wraps a model function; call it from any number of threads. The model thread starts with
    the first call, in the process that makes it (a thread does not cross a fork)."""

    def __init__(self, model: Model, max_rows: int, max_wait_s: float = 0.0) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.model = model
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self._queue: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._runner: threading.Thread | None = None
        #: callers inside now, and the most inside since the last batch was taken
        self._inside = 0
        self._peak = 1
        #: how many model calls ran and how many requests they answered, for tuning
        self.calls = 0
        self.requests = 0

    def __call__(self, rows: Rows) -> np.ndarray:
        mine = _Pending(rows)
        with self._lock:
            if self._runner is None or not self._runner.is_alive():
                self._runner = threading.Thread(target=self._serve, name="model", daemon=True)
                self._runner.start()
            self._inside += 1
            self._peak = max(self._peak, self._inside)
            self._queue.append(mine)
            self._arrived.notify()
        try:
            mine.done.wait()
            return mine.result()
        finally:
            with self._lock:
                self._inside -= 1

    def _serve(self) -> None:
        """The model thread: one batch after another, for as long as the process lives."""
        while True:
            with self._lock:
                while not self._queue:
                    self._arrived.wait()
                self._gather()
                group = self._take()
            try:
                self._run(group)
            finally:
                for pending in group:
                    pending.done.set()

    def _gather(self) -> None:
        """Waits (lock held) up to ``max_wait_s`` for as many requests as were inside
        the batcher at once since the last batch was taken: under a steady load, the callers just
        answered come back with their next request; alone, it never waits."""
        expected = min(self._peak, self.max_rows)
        if not self.max_wait_s or expected < 2:
            return
        deadline = time.monotonic() + self.max_wait_s
        while len(self._queue) < expected and self._queued_rows() < self.max_rows:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrived.wait(left)

    def _queued_rows(self) -> int:
        return sum(len(p.rows) for p in self._queue)

    def _take(self) -> list[_Pending]:
        group = [self._queue.popleft()]
        rows = len(group[0].rows)
        while self._queue and rows + len(self._queue[0].rows) <= self.max_rows:
            pending = self._queue.popleft()
            group.append(pending)
            rows += len(pending.rows)
        self._peak = self._inside
        return group

    def _run(self, group: list[_Pending]) -> None:
        self.calls += 1
        self.requests += len(group)
        try:
            if len(group) == 1:
                group[0].output = self.model(group[0].rows)
            else:
                output = self.model(join([p.rows for p in group]))
                bounds = np.cumsum([len(p.rows) for p in group])[:-1]
                for pending, part in zip(group, np.split(output, bounds), strict=True):
                    pending.output = part
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:  # one caller's failure must not become everyone's: run each alone
                for pending in group:
                    try:
                        pending.output = self.model(pending.rows)
                    except Exception as alone:
                        pending.error = alone
        finally:
            for pending in group:
                if pending.output is None and pending.error is None:
                    pending.error = RuntimeError("the batch this request was in was interrupted")
