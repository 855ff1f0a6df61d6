"""Integer inputs: a torch network over int64 token ids with an ``nn.Embedding``, made with
``modelrepo new`` from an int64 ``.npy`` sample and served by the real microservice.

The sample's dtype is the contract's, the embedding's size bounds the ids, and an id outside
it is refused before the network runs, on all four routes. Answers are compared with the
trained network itself. The same network as ``torch.export`` programs: the range read from the
program's graph, and a program traced with a batch of one keeps that batch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_cli
from routes import ROUTES, seldon, v2
from user_models import TOKENS, VOCABULARY, TokenModel, token_model

from modelrepo.local.process import Microservice
from wrappers import InvalidInput, Manifest, TorchModel
from wrappers.contract import TensorSpec
from wrappers.errors import ModelLoadError

NAME = "token-bag"
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
COLUMNS = [f"x{i}" for i in range(TOKENS)]


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> TokenModel:
    return token_model(tmp_path_factory.mktemp("token-user"))


@pytest.fixture(scope="module")
def model_dir(user, tmp_path_factory):
    made = tmp_path_factory.mktemp("token-dirs") / NAME
    module = f"{user.module}:TokenBag"
    result = run_cli("new", made, "-f", "torch", "-a", user.artifact, "--module", module,
                     "--sample", user.sample)  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert "input: int64[N,5] in [0, 49]" in result.stderr
    return made


@pytest.fixture(scope="module")
def service(model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / f"{NAME}.log"
    with Microservice(model_dir, log_path=log) as running:
        yield running


def test_an_int64_sample_gives_an_int64_input_bounded_by_the_embedding(model_dir, user):
    manifest = Manifest.read(model_dir)
    bounded = TensorSpec(
        name="input", dtype="int64", shape=[-1, TOKENS], names=COLUMNS, minimum=0, maximum=49
    )
    assert manifest.inputs == [bounded]
    assert np.load(user.sample).dtype == np.int64
    assert manifest.golden[-1].input["input"] == np.load(user.sample).tolist()


def send(route: str, service: Microservice, ids: list[list[int]]):
    if route.startswith("seldon"):
        target = service.url if route == "seldon-rest" else service.grpc_target
        return seldon(route, target, {"data": {"ndarray": ids}})
    target = service.url if route == "v2-rest" else service.grpc_target
    flat = [i for row in ids for i in row]
    tensor = {"name": "input", "datatype": "INT64", "shape": [len(ids), TOKENS], "data": flat}
    return v2(route, target, NAME, tensor)


@pytest.mark.e2e
@pytest.mark.parametrize("route", ROUTES)
def test_valid_ids_are_answered_as_the_network_answers(service, user, route):
    ids = [*user.rows.tolist(), [0, 0, VOCABULARY - 1, VOCABULARY - 1, 7]]
    answer = send(route, service, ids)
    assert answer.output is not None, answer.message
    np.testing.assert_allclose(answer.output, user.predict(np.array(ids)), **TOLERANCE)


@pytest.mark.e2e
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("bad", [VOCABULARY, -1, 10**6])
def test_an_id_outside_the_embedding_is_refused_before_the_model_runs(service, user, route, bad):
    ids = user.rows[:2].tolist()
    ids[1][3] = bad
    answer = send(route, service, ids)
    assert answer.refused, (answer.code, answer.message)
    assert f"input: this input holds integers in [0, 49], got {bad}" in answer.message


def test_range_flag_bounds_an_input_and_wins_over_the_inferred_range(user, tmp_path):
    low = tmp_path / "low.npy"
    np.save(low, np.load(user.sample) % 30)
    module = f"{user.module}:TokenBag"
    made = tmp_path / "ranged"
    result = run_cli("new", made, "-f", "torch", "-a", user.artifact, "--module", module,
                     "--sample", low, "--range", "input=0:40", "--no-check")  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    (spec,) = Manifest.read(made).inputs
    assert (spec.minimum, spec.maximum) == (0, 40)
    model = TorchModel(model_dir=made)
    model.load()
    with pytest.raises(InvalidInput, match=r"holds integers in \[0, 40\], got 41"):
        model.predict(np.array([[1, 2, 3, 4, 41]]))

    result = run_cli("new", tmp_path / "narrow", "-f", "torch", "-a", user.artifact,
                     "--module", module, "--sample", user.sample, "--range", "0:9")  # fmt: skip
    assert result.exit_code != 0
    assert "the sample does not fit" in result.stderr
    assert "holds integers in [0, 9]" in result.stderr


SHIFTED = """import torch
from torch import nn


class Shifted(nn.Module):
    \"\"\"Ids 1..50 (0 reserved elsewhere), shifted down before the table: not a direct index.\"\"\"

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(50, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids - 1).sum(dim=1)
"""


def test_an_input_transformed_before_the_embedding_gets_no_inferred_range(tmp_path):
    (tmp_path / "shifted.py").write_text(SHIFTED)
    namespace: dict = {}
    exec(compile(SHIFTED, "shifted.py", "exec"), namespace)
    torch.manual_seed(0)
    torch.save(namespace["Shifted"]().state_dict(), tmp_path / "shifted.pt")
    np.save(tmp_path / "ids.npy", np.random.default_rng(1).integers(1, 51, (4, TOKENS)))
    made = tmp_path / "shifted-dir"
    result = run_cli("new", made, "-f", "torch", "-a", tmp_path / "shifted.pt",
                     "--module", f"{tmp_path / 'shifted.py'}:Shifted",
                     "--sample", tmp_path / "ids.npy", "--no-check")  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    (spec,) = Manifest.read(made).inputs
    assert (spec.dtype, spec.minimum, spec.maximum) == ("int64", None, None)


@pytest.mark.parametrize("value", ["0-9", "a:b", "9:0", "input=1"])
def test_a_malformed_range_is_refused(user, tmp_path, value):
    result = run_cli("new", tmp_path / "m", "-f", "torch", "-a", user.artifact,
                     "--module", f"{user.module}:TokenBag", "--range", value)  # fmt: skip
    assert result.exit_code == 2
    assert "expected [INPUT=]MIN:MAX" in result.stderr


# ---- the same network as torch.export programs ------------------------------------------------


def exported(user: TokenModel, directory, rows: int, dynamic: bool):
    ids = torch.from_numpy(np.load(user.sample)[:rows])
    shapes = {"ids": {0: torch.export.Dim("batch")}} if dynamic else None
    program = torch.export.export(user.network, (ids,), dynamic_shapes=shapes)
    path = directory / f"tokens-{rows}.pt2"
    torch.export.save(program, path)
    return path


def test_a_program_gets_the_range_from_its_embedding(user, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELREPO_ALLOW_PICKLE", "1")  # torch.export.load unpickles
    made = tmp_path / "program"
    program = exported(user, tmp_path, 4, dynamic=True)
    result = run_cli("new", made, "-f", "torch", "-a", program, "--sample", user.sample)
    assert result.exit_code == 0, result.output + result.stderr
    (spec,) = Manifest.read(made).inputs
    assert (spec.dtype, spec.shape, spec.minimum, spec.maximum) == ("int64", [-1, 5], 0, 49)
    model = TorchModel(model_dir=made)
    model.load()
    np.testing.assert_allclose(model.predict(user.rows), user.predict(user.rows), **TOLERANCE)
    with pytest.raises(InvalidInput, match=r"got 50"):
        model.predict(np.array([[1, 2, 3, 4, 50]]))


def test_a_program_with_a_fixed_batch_keeps_it_and_says_how_to_free_it(user, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELREPO_ALLOW_PICKLE", "1")
    made = tmp_path / "fixed" / NAME
    program = exported(user, tmp_path, 1, dynamic=False)
    result = run_cli("new", made, "-f", "torch", "-a", program, "--sample", user.sample)
    assert result.exit_code == 0, result.output + result.stderr
    said = " ".join((result.output + result.stderr).split())  # the check's table and warnings
    assert "takes a fixed batch of 1 rows" in said
    assert 'dynamic_shapes={"x": {0: torch.export.Dim("batch")}}' in said
    manifest = Manifest.read(made)
    assert manifest.inputs[0].shape == [1, TOKENS]
    assert [len(pair.input["input"]) for pair in manifest.golden] == [1]

    with Microservice(
        made, log_path=tmp_path / "fixed.log", env={"MODELREPO_ALLOW_PICKLE": "1"}
    ) as served:
        for route in ROUTES:
            one = send(route, served, user.rows[:1].tolist())
            assert one.output is not None, one.message
            np.testing.assert_allclose(one.output, user.predict(user.rows[:1]), **TOLERANCE)
            two = send(route, served, user.rows[:2].tolist())
            assert two.refused, (route, two.code, two.message)
            assert "input: expected a fixed batch of 1 rows (shape [1, 5]), got 2" in two.message

    # a manifest that claims any batch is refused as the program loads, naming the remedy
    manifest.inputs = [manifest.inputs[0].model_copy(update={"shape": [-1, TOKENS]})]
    manifest.golden = []
    manifest.write(made)
    with pytest.raises(ModelLoadError, match=r"fixed batch of 1.*dynamic_shapes"):
        TorchModel(model_dir=made).load()
