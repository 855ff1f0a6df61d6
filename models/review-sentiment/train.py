"""Trains a TF-IDF + logistic regression sentiment classifier on seeded synthetic product
reviews and builds this model directory from it with ``modelrepo new``."""

from __future__ import annotations

import json
from pathlib import Path

import click
import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
N_REVIEWS = 600
NAME = "review-sentiment"
DESCRIPTION = "TF-IDF (1-2 grams) + LogisticRegression sentiment of short product reviews."

POSITIVE = [
    "great", "excellent", "love", "perfect", "amazing", "sturdy", "reliable", "fast",
    "comfortable", "beautiful", "recommend", "happy", "works well", "très bon", "worth it",
]  # fmt: skip
NEGATIVE = [
    "terrible", "awful", "broke", "useless", "disappointing", "cheap", "slow", "flimsy",
    "refund", "waste of money", "stopped working", "poor", "hate", "returned", "leaks",
]  # fmt: skip
NEUTRAL = [
    "the box", "delivery", "the colour", "the size", "the manual", "the price", "my kitchen",
    "the battery", "the cable", "the handle", "my order", "the lid", "the packaging",
]  # fmt: skip
TEMPLATES = [
    "{s} product, {n} was as described",
    "{n} arrived on time and it is {s}",
    "really {s}",
    "{s} {s2}, would say {n} matters",
    "after a week: {s}. {n} is fine",
    "I think it is {s}",
    "{n}: {s}",
    "honestly {s} and {s2}",
]

SAMPLE = [
    "great blender, love it",
    "terrible quality, it broke after two days",
    "the box arrived on time",
    "très bon produit 👍",
    "not bad, works well enough",
    "waste of money, returned it",
]


def reviews(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """``n`` reviews from the templates, half positive and half negative, in random order."""
    texts, labels = [], []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = POSITIVE if label == "positive" else NEGATIVE
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        text = template.format(
            s=words[rng.integers(len(words))],
            s2=words[rng.integers(len(words))],
            n=NEUTRAL[rng.integers(len(NEUTRAL))],
        )
        texts.append(text)
        labels.append(label)
    order = rng.permutation(n)
    return [texts[i] for i in order], [labels[i] for i in order]


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    texts, labels = reviews(np.random.default_rng(SEED), N_REVIEWS)
    model = Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=1)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    ).fit(texts, labels)
    accuracy = float(np.mean(model.predict(texts) == np.asarray(labels)))
    click.echo(f"{NAME}: {len(texts)} reviews, training accuracy {accuracy:.3f}")
    joblib.dump(model, directory / "model.joblib")
    (directory / "reviews.json").write_text(json.dumps(SAMPLE, ensure_ascii=False, indent=2))
    return [
        "-f", "sklearn",
        "-a", str(directory / "model.joblib"),
        "--sample", str(directory / "reviews.json"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
