"""Sample files for ``modelrepo new``: the inputs whose answers become the golden pairs.

What a file holds decides the kind of input it stands for: a table (``.csv``, ``.parquet``,
a ``.json``/``.jsonl`` list of records), texts (a ``.json``/``.jsonl`` list of strings), one
tensor (``.npy``, a ``.json`` list of rows or a Seldon request) or several named inputs
(``.npz`` with one array per input, a ``.json`` object of input name -> nested list).
A ``.npy`` or ``.npz`` array of integers (token ids) keeps its integer dtype in the contract.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wrappers.errors import ScaffoldError

SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".npy", ".npz")
#: the integer dtypes a contract tensor may declare
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8")


@dataclass
class Sample:
    """One input's sample (``value``) or several inputs' (``named``); ``names`` are columns a
    file gave for a matrix."""

    value: Any = None
    named: dict[str, Any] | None = None
    names: list[str] | None = None
    #: the file records its arrays' dtypes (``.npy``, ``.npz``), which the contract keeps
    typed: bool = False

    def head(self, rows: int) -> Sample:
        if self.named is not None:
            named = {k: head_rows(v, rows) for k, v in self.named.items()}
            return Sample(named=named, typed=self.typed)
        return Sample(head_rows(self.value, rows), names=self.names, typed=self.typed)

    @property
    def dtype(self) -> str | None:
        """The integer or boolean dtype of a typed single array (None: the model's default)."""
        if not self.typed or not isinstance(self.value, np.ndarray):
            return None
        return kept_dtype(self.value.dtype)


def kept_dtype(dtype: np.dtype) -> str | None:
    """A contract dtype for an array's integers or booleans; None for floats (whose width is
    the model's: a float64 sample of a float32 network still takes float32)."""
    if dtype.kind == "b":
        return "bool"
    if dtype.kind in "iu":
        return dtype.name if dtype.name in INTEGER_DTYPES else "int64"
    return None


def load_sample(path: Path) -> Sample:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScaffoldError(f"--sample {path}: expected one of {', '.join(SUFFIXES)}")
    try:
        sample = _READERS[suffix](path)
    except ScaffoldError:
        raise
    except (OSError, ValueError, ImportError) as exc:
        raise ScaffoldError(f"--sample {path}: {exc}") from exc
    values = sample.named.values() if sample.named is not None else [sample.value]
    if any(_length(v) == 0 for v in values):
        raise ScaffoldError(f"--sample {path} holds no rows")
    return sample


def _csv(path: Path) -> Sample:
    import pandas as pd

    text = path.read_text()
    first = next((line for line in text.splitlines() if line.strip()), "")
    headerless = all(_is_float(cell) for cell in first.split(","))
    frame = pd.read_csv(io.StringIO(text), header=None if headerless else 0)
    if headerless:
        return Sample(frame.to_numpy())
    frame.columns = [str(c).strip() for c in frame.columns]
    return _frame(frame)


def _parquet(path: Path) -> Sample:
    import pandas as pd

    return _frame(pd.read_parquet(path))


def _frame(frame: Any) -> Sample:
    """A table; all-numeric columns may also feed a matrix, so the names are kept for it."""
    return Sample(frame, names=[str(c) for c in frame.columns])


def _json(path: Path) -> Sample:
    return _document(json.loads(path.read_text()))


def _jsonl(path: Path) -> Sample:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return _document([json.loads(line) for line in lines])


def _document(document: Any) -> Sample:
    if isinstance(document, dict):
        data = document.get("data")
        if isinstance(data, dict) and "ndarray" in data:
            return (
                _document(data["ndarray"])
                if data.get("names") is None
                else _rows(data["ndarray"], data["names"])
            )
        if "jsonData" in document:
            return _document(document["jsonData"])
        if "strData" in document:
            return Sample([document["strData"]])
        return Sample(named={str(k): np.asarray(v) for k, v in document.items()})
    if not isinstance(document, list) or not document:
        raise ScaffoldError("a JSON sample is a non-empty list (rows, records or strings)")
    if all(isinstance(r, dict) for r in document):
        import pandas as pd

        return _frame(pd.DataFrame.from_records(document))
    if all(isinstance(r, str) for r in document):
        return Sample(document)
    return Sample(np.asarray(document))


def _rows(rows: list[Any], names: list[str]) -> Sample:
    array = np.asarray(rows)
    if array.dtype.kind in "iuf":
        return Sample(array, names=list(names))
    import pandas as pd

    return _frame(pd.DataFrame(rows, columns=names).infer_objects())


def _npy(path: Path) -> Sample:
    return Sample(np.load(path, allow_pickle=False), typed=True)


def _npz(path: Path) -> Sample:
    with np.load(path, allow_pickle=False) as archive:
        named = {name: archive[name] for name in archive.files}
    return Sample(named=named, typed=True)


_READERS = {
    ".csv": _csv,
    ".parquet": _parquet,
    ".json": _json,
    ".jsonl": _jsonl,
    ".npy": _npy,
    ".npz": _npz,
}


def head_rows(value: Any, rows: int) -> Any:
    """The first ``rows`` of an array, a DataFrame or a list."""
    return value.iloc[:rows] if hasattr(value, "iloc") else value[:rows]


def _length(value: Any) -> int:
    return len(value) if np.ndim(value) or hasattr(value, "iloc") else 0


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
