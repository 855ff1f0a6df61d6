"""Trains a HistGradientBoostingClassifier on seeded synthetic customers (a DataFrame with pandas
``category`` columns, ``categorical_features="from_dtype"``, and missing values in every kind of
column) and builds this model directory from it with ``modelrepo new``."""

from __future__ import annotations

from pathlib import Path

import click
import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from modelrepo.modeldir.rebuild import rebuild_command

SEED = 0
N_CUSTOMERS = 2000
#: the share of values left out in each column that has missing values
MISSING = {"monthly_charges": 0.08, "support_calls": 0.10, "payment": 0.05}
#: sample rows with a missing number, so the golden pairs hold nulls: past the first three (each
#: a golden pair of its own, where a lone null has no dtype), and no missing category, as V2
#: clients' codecs have no null for a string (BYTES) element
SAMPLE_ROWS, MISSING_IN_SAMPLE = 8, {"monthly_charges": 3, "support_calls": 5}
NAME = "hgb-churn"
DESCRIPTION = (
    "HistGradientBoostingClassifier over categories and missing values (pandas category "
    "dtype, categorical_features='from_dtype') on synthetic customers."
)
CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENTS = ["bank-transfer", "card", "electronic-check", "mailed-check"]


def customers(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` customers and whether each left ("churned" or "stayed"): a noisy score of tenure,
    monthly charges, contract, payment method and support calls; some values missing."""
    tenure = rng.integers(0, 73, n)
    charges = np.round(rng.uniform(18.0, 120.0, n), 2)
    contract = rng.choice(CONTRACTS, n, p=[0.55, 0.25, 0.2])
    payment = rng.choice(PAYMENTS, n).astype(object)
    calls = rng.poisson(1.5, n).astype(float)
    effect = {"month-to-month": 0.9, "one-year": -0.3, "two-year": -1.2}
    score = (
        -0.04 * (tenure - 30)
        + 0.02 * (charges - 65)
        + np.array([effect[c] for c in contract])
        + 0.6 * (payment == "electronic-check")
        + 0.4 * (calls - 1.5)
        + rng.normal(0.0, 0.8, n)
    )
    for column, values in (("monthly_charges", charges), ("support_calls", calls),
                           ("payment", payment)):  # fmt: skip
        missing = rng.random(n) < MISSING[column]
        missing[:SAMPLE_ROWS] = False
        if column in MISSING_IN_SAMPLE:
            missing[MISSING_IN_SAMPLE[column]] = True
        values[missing] = np.nan
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "contract": pd.Categorical(contract, categories=CONTRACTS),
            "payment": pd.Categorical(payment, categories=PAYMENTS),
            "support_calls": calls,
        }
    )
    return frame, np.where(score > 0, "churned", "stayed")


def model() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=100, random_state=SEED
    )


def train(directory: Path) -> list[str]:
    """Trains the model, saves it and a sample file in `directory` as a user would, and returns
    the `modelrepo new` arguments that build the model directory from them."""
    frame, churned = customers(np.random.default_rng(SEED), N_CUSTOMERS)
    fitted = model().fit(frame, churned)
    accuracy = float(np.mean(fitted.predict(frame) == churned))
    click.echo(f"{NAME}: {len(frame)} customers, training accuracy {accuracy:.3f}")
    joblib.dump(fitted, directory / "model.joblib")
    frame.head(SAMPLE_ROWS).to_csv(directory / "rows.csv", index=False)
    return [
        "-f", "sklearn",
        "-a", str(directory / "model.joblib"),
        "--sample", str(directory / "rows.csv"),
    ]  # fmt: skip


main = rebuild_command(NAME, DESCRIPTION, train, Path(__file__).parent)

if __name__ == "__main__":
    main()
