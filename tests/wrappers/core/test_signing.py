"""Signed model directories: signed by the real ``model_signing`` CLI (in its own environment),
verified by the server with the pinned cryptography before anything is loaded."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import (
    MODELS_DIR,
    ROOT,
    WRAPPER_OF,
    copy_model,
    golden_answer,
    golden_rows,
    rehash,
    run_cli,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelrepo.local.process import Microservice
from wrappers import Manifest, SklearnModel
from wrappers.core.formats import SKOPS_FILE, load_skops, save_skops
from wrappers.core.manifest import sha256_of
from wrappers.core.signing import SIGNATURE_FILE, verified_source
from wrappers.errors import SignatureError
from wrappers.settings import Settings

SIGNING = ROOT / "tools" / "signing"


@pytest.fixture(scope="session")
def model_signing() -> Path:
    venv = [ROOT / "tools" / "venv.sh", ROOT / ".venv-signing", SIGNING / "requirements.txt"]
    subprocess.run(venv, check=True, timeout=600)
    return ROOT / ".venv-signing" / "bin" / "model_signing"


def key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """A P-256 key pair as PEM files: (private, public)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """The deployment's keys, outside every model directory (as a mounted Secret is)."""
    directory = tmp_path_factory.mktemp("keys")
    return {name: key_pair(directory, name) for name in ("signer", "other")}


def sign(model_signing: Path, model_dir: Path, private_key: Path) -> None:
    subprocess.run(
        [
            model_signing, "sign", "key", "--private_key", private_key,
            "--signature", model_dir / SIGNATURE_FILE, model_dir,
        ],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def signed(model_signing, keys, tmp_path):
    """Copies of committed models, each signed with the signer's key."""

    def make(name: str) -> Path:
        model_dir = copy_model(name, tmp_path)
        sign(model_signing, model_dir, keys["signer"][0])
        return model_dir

    return make


def load(model_dir: Path, public_key: Path | None, policy: str = "require", **settings):
    model = WRAPPER_OF.get(model_dir.name, SklearnModel)(
        model_dir=model_dir,
        signature_policy=policy,
        signature_public_key=public_key,
        **settings,
    )
    model.load()
    return model


@pytest.mark.parametrize("name", sorted(WRAPPER_OF))
def test_a_directory_signed_by_model_signing_is_verified_and_served(signed, keys, name, caplog):
    model_dir = signed(name)
    bundle = json.loads((model_dir / SIGNATURE_FILE).read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    caplog.set_level(logging.INFO, logger="wrappers.core.signing")
    model = load(model_dir, keys["signer"][1])
    assert model.ready, model.problem
    assert "signature verified" in caplog.text
    manifest = Manifest.read(model_dir)
    answer = model.predict(golden_rows(manifest))
    np.testing.assert_allclose(answer, golden_answer(manifest), rtol=1e-5, atol=1e-6)


def tamper_and_rehash(model_dir: Path) -> None:
    """Replaces the forest by another one and records its hash, as an attacker who can write
    the directory (manifest included) would: the manifest check alone would pass."""
    estimator = load_skops(model_dir / SKOPS_FILE)
    estimator.estimators_ = estimator.estimators_[:10]
    save_skops(estimator, model_dir / SKOPS_FILE)
    rehash(model_dir)


def test_a_tampered_and_rehashed_directory_is_refused(signed, keys):
    model_dir = signed("sklearn-iris")
    tamper_and_rehash(model_dir)
    assert not SklearnModel(model_dir=model_dir).manifest.artifact_mismatches(model_dir)
    with pytest.raises(SignatureError) as refused:
        load(model_dir, keys["signer"][1])
    message = str(refused.value)
    assert f"{SKOPS_FILE}: sha256" in message and "manifest.json: sha256" in message


def test_an_extra_file_is_refused(signed, keys):
    model_dir = signed("sklearn-iris")
    (model_dir / "sitecustomize.py").write_text("print('hello')\n")
    with pytest.raises(SignatureError, match=r"sitecustomize\.py: not signed"):
        load(model_dir, keys["signer"][1])


def test_a_missing_file_is_refused(signed, keys):
    model_dir = signed("torch-classifier")
    (model_dir / "network.py").unlink()
    with pytest.raises(SignatureError, match=r"network\.py: missing"):
        load(model_dir, keys["signer"][1])


def test_another_key_is_refused(signed, keys):
    model_dir = signed("sklearn-iris")
    with pytest.raises(SignatureError, match="does not verify with the configured public key"):
        load(model_dir, keys["other"][1])


def test_a_signature_by_another_key_over_the_tampered_directory_is_refused(
    model_signing, signed, keys
):
    model_dir = signed("sklearn-iris")
    tamper_and_rehash(model_dir)
    sign(model_signing, model_dir, keys["other"][0])  # the attacker's own, valid signature
    with pytest.raises(SignatureError, match="does not verify"):
        load(model_dir, keys["signer"][1])


def test_require_without_a_signature_or_a_key_is_refused(keys, tmp_path):
    unsigned = copy_model("sklearn-iris", tmp_path)
    with pytest.raises(SignatureError, match=f"no {SIGNATURE_FILE}"):
        load(unsigned, keys["signer"][1])
    with pytest.raises(SignatureError, match="no signature_public_key"):
        load(unsigned, None)


def test_a_key_inside_the_model_directory_is_refused(signed, keys):
    model_dir = signed("sklearn-iris")
    inside = model_dir / "deploy.pub"
    inside.write_bytes(keys["signer"][1].read_bytes())
    with pytest.raises(SignatureError, match="inside the model directory"):
        load(model_dir, inside)


def test_warn_logs_and_serves_a_tampered_directory(signed, keys, caplog):
    model_dir = signed("sklearn-iris")
    tamper_and_rehash(model_dir)
    model = load(model_dir, keys["signer"][1], policy="warn", verify_golden=False)
    assert model.ready
    assert "WITHOUT a verified signature" in caplog.text and "sha256" in caplog.text


def test_off_serves_without_looking(signed, keys, caplog):
    model_dir = signed("sklearn-iris")
    tamper_and_rehash(model_dir)
    caplog.set_level(logging.INFO, logger="wrappers.core.signing")
    model = load(model_dir, keys["other"][1], policy="off", verify_golden=False)
    assert model.ready
    assert "signature" not in caplog.text


def test_the_bytes_loaded_are_the_bytes_verified(signed, keys):
    """A file swapped after verification does not reach the framework: it reads the copy."""
    model_dir = signed("sklearn-iris")
    signed_digest = sha256_of(model_dir / SKOPS_FILE)
    settings = Settings(signature_policy="require", signature_public_key=keys["signer"][1])
    with verified_source(model_dir, settings) as source:
        tamper_and_rehash(model_dir)  # the swap, between verification and load
        assert source != model_dir
        assert sha256_of(source / SKOPS_FILE) == signed_digest
        assert len(load_skops(source / SKOPS_FILE).estimators_) == 100
    assert not source.exists()  # the private copy is gone once loaded


def test_pycache_written_beside_the_sources_is_not_loaded_or_refused(signed, keys):
    model_dir = signed("torch-classifier")
    assert load(model_dir, keys["signer"][1]).ready  # imports network.py from the copy
    cache = model_dir / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "network.cpython-311.pyc").write_bytes(b"not from the signer")
    assert load(model_dir, keys["signer"][1]).ready


def test_modelrepo_check_reports_the_signature(signed, keys, monkeypatch):
    model_dir = signed("sklearn-iris")
    monkeypatch.setenv("MODELREPO_SIGNATURE_PUBLIC_KEY", str(keys["signer"][1]))
    monkeypatch.setenv("MODELREPO_SIGNATURE_POLICY", "require")
    result = run_cli("check", model_dir)
    assert result.exit_code == 0, result.output + result.stderr
    assert "signature" in result.output and "match the signature" in result.output
    tamper_and_rehash(model_dir)
    result = run_cli("check", model_dir)
    assert result.exit_code == 1
    assert "fail: signature:" in result.output


def test_the_microservice_serves_a_signed_model_and_refuses_a_tampered_one(signed, keys, tmp_path):
    model_dir = signed("sklearn-iris")
    env = {
        "MODELREPO_SIGNATURE_POLICY": "require",
        "MODELREPO_SIGNATURE_PUBLIC_KEY": str(keys["signer"][1]),
    }
    manifest = Manifest.read(model_dir)
    with Microservice(model_dir, env=env, log_path=tmp_path / "good.log") as service:
        answer = requests.post(
            service.url + "/api/v1.0/predictions",
            json={"data": {"ndarray": golden_rows(manifest)}},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(answer.json()["data"]["ndarray"], golden_answer(manifest))
    assert "signature verified" in (tmp_path / "good.log").read_text()

    (model_dir / "extra.txt").write_text("not signed\n")
    service = Microservice(model_dir, env=env, log_path=tmp_path / "bad.log").start()
    try:
        with pytest.raises((RuntimeError, TimeoutError)):
            service.wait_ready(timeout=60)
    finally:
        service.stop()
    assert "extra.txt: not signed" in (tmp_path / "bad.log").read_text()


def test_committed_models_verify(model_signing, keys, tmp_path):
    """Every committed model directory, signed and verified (the timings in docs/security.md)."""
    for name in sorted(p.name for p in MODELS_DIR.iterdir() if (p / "manifest.json").is_file()):
        model_dir = copy_model(name, tmp_path)
        sign(model_signing, model_dir, keys["signer"][0])
        settings = Settings(signature_policy="require", signature_public_key=keys["signer"][1])
        with verified_source(model_dir, settings) as source:
            assert source != model_dir
            assert sorted(p.name for p in source.iterdir()) == sorted(
                p.name for p in model_dir.iterdir() if p.name != SIGNATURE_FILE
            )
