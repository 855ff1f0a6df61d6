"""Builds this built-in ROUTER with ``modelrepo new``: an epsilon-greedy bandit between the
two versions of iris-tree (graphs/iris-tree-ab), learning from feedback's rewards. Its
artifact is the ``router.json`` the flags describe."""

from __future__ import annotations

from pathlib import Path

from modelrepo.modeldir.rebuild import rebuild_command

HERE = Path(__file__).resolve().parent
NAME = "iris-tree-router"
DESCRIPTION = "Epsilon-greedy (0.1) between iris-tree v1 and v2, learning from feedback."


def train(_: Path) -> list[str]:
    """The `modelrepo new` arguments: 2 children taking iris-tree's inputs, seed 0."""
    return [
        "--kind", "router",
        "--route", "epsilon-greedy",
        "--epsilon", "0.1",
        "--children", "2",
        "--seed", "0",
        "--like", str(HERE.parent / "iris-tree-v1"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, HERE)

if __name__ == "__main__":
    main()
