"""Trains a scikit-learn Pipeline on seeded synthetic loan applications (a DataFrame of numeric,
string and boolean columns) and builds this model directory from it with ``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

import click
import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
N_APPLICATIONS = 1500
MISSING_INCOME = 0.05
#: a sample row whose income is left out, so the sample shows the column is nullable
SAMPLE_ROWS, MISSING_IN_SAMPLE = 8, 3
NAME = "loan-pipeline"
DESCRIPTION = (
    "ColumnTransformer (impute + scale, one-hot, passthrough) + LogisticRegression on "
    "synthetic loan applications."
)
CITIES = ["Berlin", "Lisbon", "Oslo", "Rome"]
EMPLOYMENT = ["employed", "self-employed", "unemployed"]


def applications(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` applications and their decisions ("approved" or "rejected"): a noisy score of age,
    log income, employment, home ownership and city; ~5% of incomes missing."""
    age = rng.integers(18, 76, n)
    income = np.round(rng.lognormal(10.5, 0.5, n), 2)
    city = rng.choice(CITIES, n)
    employment = rng.choice(EMPLOYMENT, n, p=[0.6, 0.25, 0.15])
    owns_home = rng.random(n) < 0.4
    effect = {"employed": 0.8, "self-employed": 0.2, "unemployed": -1.2}
    score = (
        0.03 * (age - 45)
        + 1.2 * (np.log(income) - 10.5)
        + np.array([effect[e] for e in employment])
        + 0.6 * owns_home
        + 0.3 * (city == "Oslo")
        + rng.normal(0.0, 0.8, n)
    )
    missing = rng.random(n) < MISSING_INCOME
    missing[MISSING_IN_SAMPLE] = True
    income[missing] = np.nan
    frame = pd.DataFrame(
        {
            "age": age,
            "income": income,
            "city": city.astype(object),
            "employment": employment.astype(object),
            "owns_home": owns_home,
        }
    )
    return frame, np.where(score > 0, "approved", "rejected")


def pipeline() -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    columns = ColumnTransformer(
        [
            ("num", numeric, ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="error"), ["city", "employment"]),
            ("flag", "passthrough", ["owns_home"]),
        ]
    )
    return Pipeline([("columns", columns), ("clf", LogisticRegression())])


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    frame, decisions = applications(np.random.default_rng(SEED), N_APPLICATIONS)
    model = pipeline().fit(frame, decisions)
    accuracy = float(np.mean(model.predict(frame) == decisions))
    click.echo(f"{NAME}: {len(frame)} applications, training accuracy {accuracy:.3f}")
    joblib.dump(model, directory / "model.joblib")
    frame.head(SAMPLE_ROWS).to_csv(directory / "rows.csv", index=False)
    return [
        "-f", "sklearn",
        "-a", str(directory / "model.joblib"),
        "--sample", str(directory / "rows.csv"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
