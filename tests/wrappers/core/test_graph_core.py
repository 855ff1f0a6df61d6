"""The protocol-free parts of graph nodes: a combiner's children checked and combined, and the
routers' policies learning from rewards."""

from __future__ import annotations

import numpy as np
import pytest

from wrappers.contract import TensorSpec
from wrappers.core.combine import CombinerConfig, combine, per_child, read_children, side_by_side
from wrappers.core.routing import Policy, RouterConfig
from wrappers.errors import InvalidInput

PROBA = TensorSpec(name="proba", dtype="float64", shape=[-1, 3], names=["a", "b", "c"])


def test_children_are_laid_side_by_side_after_their_checks():
    first, second = [[0.2, 0.3, 0.5]], [[0.6, 0.3, 0.1]]
    names = [{"proba": ["a", "b", "c"]}, {"proba": ["c", "b", "a"]}]
    with pytest.raises(InvalidInput, match="child 1's proba names"):
        read_children([PROBA], [{"proba": first}, {"proba": second}], names)
    value = read_children([PROBA], [{"proba": first}, {"proba": second}])["proba"]
    assert value.tolist() == [[0.2, 0.3, 0.5, 0.6, 0.3, 0.1]]
    assert per_child(value, 2).tolist() == [first, second]


@pytest.mark.parametrize(
    ("children", "reason"),
    [
        ([{"proba": [[0.1, 0.2, 0.7]]}, {"proba": [[0.1, 0.2, 0.7]] * 2}], "has shape [2, 3]"),
        ([{"proba": [[0.1, 0.2, 0.7]]}, {"proba": [[0.1, 0.9]]}], "child 1: proba: expected 3"),
        ([{"proba": [[0.1, 0.2, 0.7]]}, {"p": [[0.1, 0.2, 0.7]]}], "child 1: expected the inputs"),
        ([{"proba": [[0.1, 0.2, 0.7]]}], "expects 2 children's outputs, got 1"),
    ],
)
def test_children_that_do_not_match_are_refused_naming_the_child(children, reason):
    with pytest.raises(InvalidInput) as refused:
        read_children([PROBA], children, expected=2)
    assert reason in refused.value.message


def test_builtin_combinations():
    first = np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    second = np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    value = side_by_side([first, second])
    mean = CombinerConfig(combine="mean", children=2)
    weighted = CombinerConfig(combine="weighted", children=2, weights=[1, 3])
    vote = CombinerConfig(combine="vote", children=2)
    np.testing.assert_allclose(combine(mean, value), (first + second) / 2)
    np.testing.assert_allclose(combine(weighted, value), 0.25 * first + 0.75 * second)
    assert combine(vote, value).tolist() == [[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]]


@pytest.mark.parametrize(
    "config",
    [
        {"combine": "weighted", "children": 2},
        {"combine": "mean", "children": 2, "weights": [1, 1]},
        {"combine": "weighted", "children": 2, "weights": [0, 0]},
        {"combine": "mean", "children": 1},
    ],
)
def test_combiner_configs_that_cannot_combine_are_refused(config):
    with pytest.raises(ValueError):
        CombinerConfig(**config)


def test_ab_split_follows_its_weights_and_its_seed():
    config = RouterConfig(route="ab", children=2, weights=[3, 1], seed=4)
    routes = [Policy(config).choose() for _ in range(3)]
    assert len(set(routes)) == 1  # every policy of one seed starts alike
    policy = Policy(config)
    share = np.mean([policy.choose() for _ in range(4000)])
    assert 0.2 < share < 0.3


def test_epsilon_greedy_exploits_the_best_mean_reward_and_explores_epsilon():
    policy = Policy(RouterConfig(route="epsilon-greedy", children=3, epsilon=0.2, seed=0))
    for child, reward in [(0, 0.1), (1, 0.2), (2, 0.9), (2, 0.7)]:
        policy.learn(child, reward)
    routes = np.array([policy.choose() for _ in range(3000)])
    assert 0.82 < np.mean(routes == 2) < 0.9  # 0.8 + 0.2 / 3
    assert policy.state() == {"rewards": [0.1, 0.2, 1.6], "counts": [1.0, 1.0, 2.0]}


def test_thompson_sampling_moves_to_the_child_that_is_rewarded():
    policy = Policy(RouterConfig(route="thompson", children=2, seed=0))
    before = np.mean([policy.choose() for _ in range(400)])
    assert 0.4 < before < 0.6  # Beta(1, 1) for both
    for _ in range(30):
        policy.learn(1, 1.0)
        policy.learn(0, 0.0)
    assert np.mean([policy.choose() for _ in range(400)]) > 0.99


def test_rewards_for_children_it_does_not_have_or_outside_thompsons_range_are_refused():
    policy = Policy(RouterConfig(route="thompson", children=2))
    with pytest.raises(InvalidInput, match="has 2 children"):
        policy.learn(2, 1.0)
    with pytest.raises(InvalidInput, match=r"rewards in \[0, 1\]"):
        policy.learn(0, 1.5)
