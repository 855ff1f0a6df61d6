"""Trains version 2 of iris-tree (models/iris-tree-v1's tree, grown deeper) and builds this
model directory with ``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

from modelrepo.modeldir.rebuild import rebuild_command, train_module

HERE = Path(__file__).resolve().parent
V1 = train_module(HERE.parent / "iris-tree-v1")
VERSION, DEPTH = 2, 4

main = rebuild_command(
    V1.NAME, V1.DESCRIPTION.format(depth=DEPTH), V1.trainer(VERSION, DEPTH), HERE
)

if __name__ == "__main__":
    main()
