"""The XGBoost and LightGBM cases: each committed booster served by the wrappers (Seldon REST
and V2 REST, a table as MLServer's ``PandasCodec`` sends it) beside MLServer 1.7's own
xgboost and lightgbm runtimes on the very same model file.

MLServer's runtimes take one numeric tensor (``NumpyRequestCodec``), so they are sent the
feature matrix with each category as its code, which is what both libraries take from a matrix;
the wrappers are sent the table itself and do that coding per request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.servers import MODELS, Protocol, Server, mlserver_home, model_server, s2i_environment
from wrappers import wrapper_for
from wrappers.contract import TableSpec
from wrappers.core.manifest import Manifest
from wrappers.frameworks.boosters import feature_matrix
from wrappers.protocols.v2.dataplane import column_datatype

#: each booster model and the MLServer runtime that serves its model file
MODELS_AND_RUNTIMES = {
    "xgboost-breast-cancer": "mlserver_xgboost.XGBoostModel",
    "lightgbm-diabetes": "mlserver_lightgbm.LightGBMModel",
}
BOOSTER_MODELS = tuple(MODELS_AND_RUNTIMES)
#: workers of every booster server: one per core of the benchmark machine
WORKERS = 2


def _table(manifest: Manifest) -> TableSpec:
    (spec,) = manifest.inputs
    assert isinstance(spec, TableSpec), f"{manifest.name} takes a table"
    return spec


def _seldon_request(manifest: Manifest, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"jsonData": records}


def _v2_table_request(manifest: Manifest, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One tensor per column and ``content_type`` ``pd``: MLServer's ``PandasCodec``."""
    columns = [
        {
            "name": c.name,
            "datatype": column_datatype(c),
            "shape": [len(records), 1],
            "data": [r[c.name] for r in records],
        }
        for c in _table(manifest).columns
    ]
    return {"parameters": {"content_type": "pd"}, "inputs": columns}


def _codes_request(manifest: Manifest, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The feature matrix with categories as codes, the one tensor MLServer's runtimes take."""
    spec = _table(manifest)
    frame = spec.check(pd.DataFrame(records, dtype=object))
    matrix = feature_matrix(frame, spec, np.dtype(wrapper_for(manifest.framework).dtype))
    datatype = "FP32" if matrix.dtype == np.float32 else "FP64"
    body: dict[str, Any] = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(matrix.shape),
                "datatype": datatype,
                "data": matrix.ravel().tolist(),
            }
        ]
    }
    if manifest.output_names == ["predict_proba"]:
        body["outputs"] = [{"name": "predict_proba"}]
    return body


def _v2_answer(body: dict[str, Any]) -> np.ndarray:
    output = body["outputs"][0]
    values = np.asarray(output["data"]).reshape(output["shape"])
    return values.reshape(len(values), -1)


SELDON_TABLE = Protocol(
    "/api/v1.0/predictions", _seldon_request, lambda body: np.asarray(body["data"]["ndarray"])
)


def v2_table(name: str) -> Protocol:
    return Protocol(f"/v2/models/{name}/infer", _v2_table_request, _v2_answer)


def mlserver_codes(name: str) -> Protocol:
    return Protocol(f"/v2/models/{name}/infer", _codes_request, _v2_answer)


def booster_servers(run_dir: Path) -> list[Server]:
    """For each booster: the wrappers over Seldon REST and over V2 REST, and MLServer."""
    servers = []
    for name in BOOSTER_MODELS:
        env = {**s2i_environment(MODELS / name), "GUNICORN_WORKERS": str(WORKERS)}
        label = f"{name}, {WORKERS} workers"
        servers.append(model_server(name, "deployed", env, label, protocol=SELDON_TABLE))
        servers.append(
            model_server(name, "v2", env, f"{label}, over V2 REST", protocol=v2_table(name))
        )
        servers.append(mlserver_booster_server(run_dir, name))
    return servers


def mlserver_booster_server(run_dir: Path, name: str, workers: int = WORKERS) -> Server:
    """MLServer 1.7 with its xgboost or lightgbm runtime on the committed model file, in its
    own environment."""
    manifest = Manifest.read(MODELS / name)
    model_file = MODELS / name / manifest.artifacts[0].path

    def launch(port: int) -> tuple[list[str], Path, dict[str, str]]:
        model = {
            "name": name,
            "implementation": MODELS_AND_RUNTIMES[name],
            "parameters": {"uri": str(model_file)},
        }
        home = run_dir / f"mlserver-{name}"
        return mlserver_home(home, port, workers, model), home, {}

    label = f"MLServer 1.7 {manifest.framework} runtime, {workers} workers"
    key = f"mlserver-{manifest.framework}"
    return Server(key, label, [name], mlserver_codes(name), workers=workers, launch=launch)
