"""Fits loan-pipeline's LogisticRegression on loan-preprocess's output (the same seeded
applications) and builds this model directory with ``modelrepo new``: the MODEL behind the
loan-preprocess TRANSFORMER in graphs/loan-two-step."""

from __future__ import annotations

from pathlib import Path

import click
import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from modelrepo.modeldir.rebuild import rebuild_command, train_module

HERE = Path(__file__).resolve().parent
PREPROCESS = train_module(HERE.parent / "loan-preprocess")
NAME = "loan-classifier"
DESCRIPTION = "LogisticRegression on loan-preprocess's matrix: approved or rejected."


def train(directory: Path) -> list[str]:
    """Fits the classifier on the preprocessed applications (columns named as the transformer
    names them) and saves it and a sample of preprocessed rows in `directory`."""
    prep, frame, decisions = PREPROCESS.fitted()
    matrix = pd.DataFrame(prep.transform(frame), columns=prep.get_feature_names_out())
    model = LogisticRegression().fit(matrix, decisions)
    accuracy = float(np.mean(model.predict(matrix) == decisions))
    click.echo(f"{NAME}: {len(matrix)} applications, training accuracy {accuracy:.3f}")
    joblib.dump(model, directory / "model.joblib")
    matrix.head(PREPROCESS.LOANS.SAMPLE_ROWS).to_csv(directory / "rows.csv", index=False)
    return [
        "-f", "sklearn",
        "-a", str(directory / "model.joblib"),
        "--sample", str(directory / "rows.csv"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, HERE)

if __name__ == "__main__":
    main()
