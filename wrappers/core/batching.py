"""Adaptive micro-batching: concurrent small requests in one worker run as one model call.

A worker with several threads often holds several single-row requests at once. Running them
one after the other pays the model's fixed per-call cost (Python dispatch, framework overhead)
for every row; running them together pays it once. The batcher does this without a timer
thread: the first caller to find the model idle becomes the leader, takes every request queued
so far (up to ``max_rows`` rows), runs them as one batch and hands each caller exactly its own
rows. Alone, a request runs at once (no added latency); under load, batches grow by themselves,
and with ``max_wait_s`` a leader may wait briefly for as many requests as were in flight at once
since the last batch.
The model must treat rows independently, as every ``predict`` does. Rows are an array's first
dimension (any rank) or a list's items (texts); the answer is always an array.
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
    done: bool = False
    #: set when the rows are answered, or when this caller is to lead the next batch
    woken: threading.Event = field(default_factory=threading.Event)

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        assert self.output is not None
        return self.output


class MicroBatcher:
    """Wraps a model function; call it from any number of threads.

    Each waiting caller sleeps on its own event, woken once: when its rows are answered or when
    it is to lead. A leader hands the lead to the first caller still queued, so one thread wakes
    per batch instead of every waiting one.
    """

    def __init__(self, model: Model, max_rows: int, max_wait_s: float = 0.0) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.model = model
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self._queue: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._busy = False
        self._gathering = False
        #: callers inside now, and the most inside since the last batch was taken
        self._inside = 0
        self._peak = 1
        #: how many model calls ran and how many requests they answered, for tuning
        self.calls = 0
        self.requests = 0

    def __call__(self, rows: Rows) -> np.ndarray:
        if len(rows) >= self.max_rows:
            return self.model(rows)
        mine = _Pending(rows)
        with self._lock:
            self._inside += 1
            self._peak = max(self._peak, self._inside)
            self._queue.append(mine)
            lead = not self._busy
            self._busy = True
            if self._gathering:
                self._arrived.notify()
        try:
            if not lead:
                mine.woken.wait()
            if not mine.done:  # this caller leads: its rows head the queue
                self._lead()
            return mine.result()
        finally:
            with self._lock:
                self._inside -= 1

    def _lead(self) -> None:
        """Takes and runs one batch (the leader's own rows first), then passes the lead on."""
        with self._lock:
            self._gather()
            group = self._take()
        try:
            self._run(group)
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._busy = following is not None
            for pending in group:
                pending.woken.set()
            if following is not None:
                following.woken.set()

    def _gather(self) -> None:
        """Waits (as leader, lock held) up to ``max_wait_s`` for as many requests as were inside
        the batcher at once since the last batch was taken: under a steady load, the callers just
        answered come back with their next request; alone, it never waits."""
        expected = min(self._peak, self.max_rows)
        if not self.max_wait_s or expected < 2:
            return
        deadline = time.monotonic() + self.max_wait_s
        self._gathering = True
        try:
            while len(self._queue) < expected and self._queued_rows() < self.max_rows:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._arrived.wait(left)
        finally:
            self._gathering = False

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
                pending.done = True
