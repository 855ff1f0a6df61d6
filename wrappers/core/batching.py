"""Adaptive micro-batching: concurrent small requests in one worker run as one model call.

A worker with several threads often holds several single-row requests at once. Running them
one after the other pays the model's fixed per-call cost (Python dispatch, framework overhead)
for every row; running them together pays it once. The batcher does this without a timer
thread: the first caller to find the model idle becomes the leader, takes every request queued
so far (up to ``max_rows`` rows), runs them as one batch and hands each caller exactly its own
rows. Alone, a request runs at once (no added latency); under load, batches grow by themselves,
and with ``max_wait_s`` a leader may wait briefly for as many requests as its last batch had.
The model must treat rows independently, as every ``predict`` does. Rows are an array's first
dimension (any rank) or a list's items (texts); the answer is always an array.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

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
    done: bool = False

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        assert self.output is not None
        return self.output


class MicroBatcher:
    """Wraps a model function; call it from any number of threads."""

    def __init__(self, model: Model, max_rows: int, max_wait_s: float = 0.0) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.model = model
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self._queue: deque[_Pending] = deque()
        self._changed = threading.Condition()
        self._busy = False
        self._last_group = 1
        #: how many model calls ran and how many requests they answered, for tuning
        self.calls = 0
        self.requests = 0

    def __call__(self, rows: Rows) -> np.ndarray:
        if len(rows) >= self.max_rows:
            return self.model(rows)
        mine = _Pending(rows)
        with self._changed:
            self._queue.append(mine)
            if self.max_wait_s:
                self._changed.notify_all()
        while True:
            with self._changed:
                while self._busy and not mine.done:
                    self._changed.wait()
                if mine.done:
                    return mine.result()
                self._busy = True
                self._gather()
                group = self._take()
            try:
                self._run(group)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _gather(self) -> None:
        """Waits (as leader, lock held) up to ``max_wait_s`` for as many requests as the last
        batch had: under concurrent load the others are on their way; alone, it never waits."""
        expected = min(self._last_group, self.max_rows)
        if not self.max_wait_s or expected < 2:
            return
        deadline = time.monotonic() + self.max_wait_s
        while len(self._queue) < expected and self._queued_rows() < self.max_rows:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._changed.wait(left)

    def _queued_rows(self) -> int:
        return sum(len(p.rows) for p in self._queue)

    def _take(self) -> list[_Pending]:
        group = [self._queue.popleft()]
        rows = len(group[0].rows)
        while self._queue and rows + len(self._queue[0].rows) <= self.max_rows:
            pending = self._queue.popleft()
            group.append(pending)
            rows += len(pending.rows)
        self._last_group = len(group)
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
                pending.done = True
