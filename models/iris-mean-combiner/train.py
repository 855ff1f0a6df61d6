"""Builds this built-in COMBINER with ``modelrepo new``: the mean of two iris classifiers'
probabilities (graphs/iris-ensemble). There is nothing to fit: its artifact is the
``combiner.json`` the flags describe, and its golden pairs are seeded made-up probabilities."""

from __future__ import annotations

from pathlib import Path

from modelrepo.modeldir.rebuild import rebuild_command

HERE = Path(__file__).resolve().parent
NAME = "iris-mean-combiner"
DESCRIPTION = "The mean of two iris classifiers' probabilities per species."


def train(_: Path) -> list[str]:
    """The `modelrepo new` arguments: a mean over 2 children answering as sklearn-iris does."""
    return [
        "--kind", "combiner",
        "--combine", "mean",
        "--children", "2",
        "--like", str(HERE.parent / "sklearn-iris"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, HERE)

if __name__ == "__main__":
    main()
