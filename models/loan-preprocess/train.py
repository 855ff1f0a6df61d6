"""Fits loan-pipeline's preprocessing alone (a Pipeline without a final estimator) on the same
seeded loan applications and builds this transformer's directory with ``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelrepo.modeldir.rebuild import rebuild_command, train_module

HERE = Path(__file__).resolve().parent
LOANS = train_module(HERE.parent / "loan-pipeline")
NAME = "loan-preprocess"
DESCRIPTION = (
    "loan-pipeline's preprocessing as a TRANSFORMER: impute + scale, one-hot, passthrough, "
    "to the matrix loan-classifier takes."
)


def preprocessing() -> Pipeline:
    """loan-pipeline's ColumnTransformer, answering a dense matrix."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    encoder = OneHotEncoder(handle_unknown="error", sparse_output=False)
    columns = ColumnTransformer(
        [
            ("num", numeric, ["age", "income"]),
            ("cat", encoder, ["city", "employment"]),
            ("flag", "passthrough", ["owns_home"]),
        ]
    )
    return Pipeline([("columns", columns)])


def fitted() -> tuple[Pipeline, pd.DataFrame, np.ndarray]:
    """The preprocessing fitted on loan-pipeline's applications, with them and their decisions."""
    frame, decisions = LOANS.applications(np.random.default_rng(LOANS.SEED), LOANS.N_APPLICATIONS)
    return preprocessing().fit(frame), frame, decisions


def train(directory: Path) -> list[str]:
    """Fits and saves the preprocessing and a sample of applications in `directory`; returns
    the `modelrepo new` arguments for them."""
    prep, frame, _ = fitted()
    joblib.dump(prep, directory / "preprocess.joblib")
    frame.head(LOANS.SAMPLE_ROWS).to_csv(directory / "rows.csv", index=False)
    return [
        "-f", "sklearn",
        "--kind", "transformer",
        "-a", str(directory / "preprocess.joblib"),
        "--sample", str(directory / "rows.csv"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, HERE)

if __name__ == "__main__":
    main()
