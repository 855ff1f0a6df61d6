"""A router's part that knows no protocol: the built-in policies that pick a child.

``ab`` splits traffic by fixed weights; ``epsilon-greedy`` and ``thompson`` are bandits that
learn from the rewards of feedback (Seldon's ``/send-feedback``, whose ``meta.routing`` names
the child that answered). A policy's state lives in the process that serves it: each server
worker draws from its own seeded generator and learns only from the feedback it receives.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wrappers.errors import InvalidInput

#: what a built-in router writes as its artifact
ROUTER_FILE = "router.json"
Route = Literal["ab", "epsilon-greedy", "thompson"]


class RouterConfig(BaseModel):
    """A built-in router: its policy, its children and the seed of its generator."""

    model_config = ConfigDict(extra="forbid")

    route: Route
    children: int = Field(ge=2)
    seed: int = 0
    #: ``ab``: the share of requests each child gets (normalised to sum to 1)
    weights: list[float] | None = None
    #: ``epsilon-greedy``: the share of requests sent to a child drawn at random
    epsilon: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _parameters_fit(self) -> RouterConfig:
        if (self.route == "ab") != (self.weights is not None):
            raise ValueError("weights are given for, and only for, route: ab")
        if (self.route == "epsilon-greedy") != (self.epsilon is not None):
            raise ValueError("epsilon is given for, and only for, route: epsilon-greedy")
        if self.weights is not None and (
            len(self.weights) != self.children or min(self.weights) < 0 or sum(self.weights) <= 0
        ):
            raise ValueError(f"give {self.children} non-negative weights, not all zero")
        return self


class Policy:
    """Picks a child for each request and learns from rewards; safe across threads."""

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.lock = threading.Lock()
        n = config.children
        #: rewards summed and feedback counted per child
        self.rewards = np.zeros(n)
        self.counts = np.zeros(n)

    def choose(self) -> int:
        with self.lock:
            return int(self._choose())

    def learn(self, child: int, reward: float) -> None:
        """Records one reward for ``child`` (Thompson sampling reads it as a success share)."""
        n = self.config.children
        if not 0 <= child < n:
            raise InvalidInput(f"feedback routes to child {child}; this router has {n} children")
        if self.config.route == "thompson" and not 0 <= reward <= 1:
            raise InvalidInput(f"a Thompson-sampling router takes rewards in [0, 1], got {reward}")
        with self.lock:
            self.rewards[child] += reward
            self.counts[child] += 1

    def state(self) -> dict[str, list[float]]:
        with self.lock:
            return {"rewards": self.rewards.tolist(), "counts": self.counts.tolist()}

    def _choose(self) -> int:
        config, n = self.config, self.config.children
        if config.route == "ab":
            weights = np.asarray(config.weights, dtype=np.float64)
            return self.rng.choice(n, p=weights / weights.sum())
        if config.route == "thompson":
            failures = self.counts - self.rewards
            return np.argmax(self.rng.beta(self.rewards + 1, failures + 1))
        if self.rng.random() < (config.epsilon or 0.0):
            return self.rng.integers(n)
        means = np.divide(self.rewards, self.counts, out=np.zeros(n), where=self.counts > 0)
        return np.argmax(means)  # the first best child while none has a reward
