"""Model directories signed in the OpenSSF model-signing format, verified before they load.

``model_signing sign key`` (the OpenSSF CLI, in its own environment: it needs a newer
cryptography than seldon-core allows) writes ``model.sig``: a Sigstore bundle whose DSSE
envelope carries an in-toto statement listing the sha256 of every file of the directory, signed
with an EC key (ECDSA over the DSSE pre-authentication encoding). This module checks that
bundle with the pinned cryptography: the signature against the deployment's public key, the
statement's own root digest, and then every file, while copying the directory into a private
directory that only this process can write. The framework loads that copy, so the bytes it
reads are the bytes whose digests were signed, even if the model directory changes meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wrappers.errors import SignatureError
from wrappers.settings import Settings

logger = logging.getLogger(__name__)

SIGNATURE_FILE = "model.sig"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
#: never signed, copied or loaded: the signature itself, git's files (model_signing leaves
#: them out by default) and the bytecode Python writes beside imported sources
IGNORED = frozenset(
    {SIGNATURE_FILE, ".git", ".gitignore", ".gitattributes", ".github", "__pycache__"}
)
#: the hash each curve's signature uses (as model_signing signs)
CURVE_HASHES = {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}
CHUNK = 1 << 20


@dataclass(frozen=True)
class Verified:
    """A directory whose every file matched the signed digests."""

    #: the private copy that was hashed (what the framework should load)
    copy: Path
    files: int
    bytes: int
    seconds: float


def ignored(relative: str) -> bool:
    return any(part in IGNORED for part in PurePosixPath(relative).parts)


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise SignatureError(f"cannot read the public key {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in CURVE_HASHES:
        raise SignatureError(f"{path} is not an EC P-256, P-384 or P-521 public key")
    return key


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the envelope's signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """model_signing's name for a key: the sha256 of its PEM SubjectPublicKeyInfo."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def signed_digests(bundle_bytes: bytes, key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The sha256 of each file that the bundle's valid signature vouches for, by path."""
    try:
        bundle = json.loads(bundle_bytes)
        if bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
            raise SignatureError(f"not a {BUNDLE_MEDIA_TYPE}: {bundle.get('mediaType')!r}")
        material = bundle.get("verificationMaterial") or {}
        if "publicKey" not in material:
            raise SignatureError(
                "the bundle is not signed with a key (a certificate or Sigstore identity): "
                "sign with `model_signing sign key`"
            )
        hint = (material.get("publicKey") or {}).get("hint")
        envelope = bundle["dsseEnvelope"]
        if envelope["payloadType"] != PAYLOAD_TYPE:
            raise SignatureError(f"the envelope carries {envelope['payloadType']!r}")
        if len(envelope["signatures"]) != 1:
            raise SignatureError(f"expected one signature, got {len(envelope['signatures'])}")
        payload = base64.b64decode(envelope["payload"], validate=True)
        signature = base64.b64decode(envelope["signatures"][0]["sig"], validate=True)
    except SignatureError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise SignatureError(f"{SIGNATURE_FILE} is not a model-signing bundle: {exc!r}") from exc
    algorithm = CURVE_HASHES[key.curve.name]()
    try:
        key.verify(signature, pae(PAYLOAD_TYPE, payload), ec.ECDSA(algorithm))
    except InvalidSignature as exc:
        other = f" (it names the key {hint})" if hint and hint != key_hint(key) else ""
        raise SignatureError(
            f"the signature does not verify with the configured public key{other}"
        ) from exc
    return _statement_digests(payload)


def _statement_digests(payload: bytes) -> dict[str, str]:
    """The signed statement's file digests, checked against its own root digest."""
    try:
        statement = json.loads(payload)
        if statement["_type"] != STATEMENT_TYPE or statement["predicateType"] != PREDICATE_TYPE:
            raise SignatureError(
                f"unsupported statement {statement['_type']!r} / {statement['predicateType']!r}"
            )
        (subject,) = statement["subject"]
        predicate = statement["predicate"]
        method = predicate["serialization"]
        if method.get("method") != "files" or method.get("hash_type") != "sha256":
            raise SignatureError(
                f"the model was serialized as {method}: only whole files hashed with sha256 "
                "(model_signing's default) are verified here"
            )
        digests: dict[str, str] = {}
        root = hashlib.sha256()
        for resource in predicate["resources"]:
            name, digest = resource["name"], resource["digest"]
            if resource["algorithm"] != "sha256" or len(digest) != 64:
                raise SignatureError(f"{name}: not a sha256 digest")
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or name in digests:
                raise SignatureError(f"the statement names {name!r} twice or outside the model")
            digests[name] = digest
            root.update(bytes.fromhex(digest))
    except SignatureError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SignatureError(f"the signed statement is malformed: {exc!r}") from exc
    if root.hexdigest() != subject.get("digest", {}).get("sha256"):
        raise SignatureError("the statement's root digest does not match its file digests")
    return {name: digest for name, digest in digests.items() if not ignored(name)}


def directory_files(model_dir: Path) -> list[str]:
    """Every regular file below ``model_dir`` (POSIX paths), refusing links and devices."""
    files = []
    for root, dirs, names in os.walk(model_dir):
        for name in [*dirs, *names]:
            path = Path(root) / name
            relative = path.relative_to(model_dir).as_posix()
            if ignored(relative):
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise SignatureError(f"{relative} is a symbolic link; a signed model has none")
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise SignatureError(f"{relative} is not a regular file")
            if stat.S_ISREG(mode):
                files.append(relative)
        dirs[:] = [d for d in dirs if not ignored(d)]
    return sorted(files)


def copy_hashing(source: Path, relative: str, target: Path) -> tuple[str, int]:
    """Copies one file and returns the sha256 and size of the bytes written."""
    digest, size = hashlib.sha256(), 0
    destination = target / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(source / relative, flags), "rb") as inp, open(destination, "xb") as out:
        while block := inp.read(CHUNK):
            digest.update(block)
            out.write(block)
            size += len(block)
    return digest.hexdigest(), size


def verify_into(model_dir: Path, key_path: Path, target: Path) -> Verified:
    """Verifies ``model_dir``'s signature and copies it into ``target`` (an empty private
    directory); raises ``SignatureError`` naming every extra, missing or changed file."""
    started = time.perf_counter()
    model_dir = Path(model_dir).resolve()
    key_path = Path(key_path).resolve()
    if key_path.is_relative_to(model_dir):
        raise SignatureError(
            f"the public key {key_path} lies inside the model directory: whoever can write the "
            "model could replace it; mount it from the deployment (a Secret or ConfigMap)"
        )
    key = load_public_key(key_path)
    signature = model_dir / SIGNATURE_FILE
    try:
        bundle = signature.read_bytes()
    except FileNotFoundError as exc:
        raise SignatureError(f"{model_dir} has no {SIGNATURE_FILE}") from exc
    expected = signed_digests(bundle, key)
    present = directory_files(model_dir)
    problems = [f"{name}: not signed" for name in present if name not in expected]
    problems += [f"{name}: missing" for name in expected if name not in set(present)]
    if problems:
        raise SignatureError(_refusal(model_dir, problems))
    total = 0
    for name in present:
        actual, size = copy_hashing(model_dir, name, target)
        total += size
        if actual != expected[name]:
            problems.append(f"{name}: sha256 {actual} is not the signed {expected[name]}")
    if problems:
        raise SignatureError(_refusal(model_dir, problems))
    return Verified(target, len(present), total, time.perf_counter() - started)


def _refusal(model_dir: Path, problems: list[str]) -> str:
    return f"{model_dir} does not match its signature: " + "; ".join(problems)


@contextlib.contextmanager
def verified_source(model_dir: Path, settings: Settings) -> Iterator[Path]:
    """The directory a worker should load from, as ``signature_policy`` says: a private,
    verified copy (removed afterwards) when the signature holds; the model directory itself
    with ``off``, or with ``warn`` (and a warning) when it does not."""
    policy, key = settings.signature_policy, settings.signature_public_key
    if policy == "off":
        yield model_dir
        return
    private = Path(tempfile.mkdtemp(prefix="modelrepo-verified-"))  # mode 0700
    try:
        try:
            if key is None:
                raise SignatureError(
                    "no signature_public_key is configured (MODELREPO_SIGNATURE_PUBLIC_KEY)"
                )
            verified = verify_into(model_dir, key, private / Path(model_dir).resolve().name)
        except SignatureError as exc:
            if policy == "require":
                raise SignatureError(f"signature_policy=require: {exc}") from exc
            logger.warning("serving %s WITHOUT a verified signature: %s", model_dir, exc)
            yield model_dir
            return
        logger.info(
            "%s: signature verified (%d files, %.1f MB in %.3fs)",
            model_dir,
            verified.files,
            verified.bytes / 1e6,
            verified.seconds,
        )
        yield verified.copy
    finally:
        shutil.rmtree(private, ignore_errors=True)


def signature_status(model_dir: Path, settings: Settings) -> tuple[str, str]:
    """``modelrepo check``'s row: ok, warn, fail (as the policy would treat it) or skip."""
    if settings.signature_policy == "off":
        return "skip", "signature_policy=off"
    has_signature = (Path(model_dir) / SIGNATURE_FILE).is_file()
    if settings.signature_public_key is None:
        state = f"{SIGNATURE_FILE} present" if has_signature else f"no {SIGNATURE_FILE}"
        status = "fail" if settings.signature_policy == "require" else "warn"
        return status, f"{state}; not verified: no signature_public_key configured"
    with tempfile.TemporaryDirectory(prefix="modelrepo-check-") as private:
        try:
            verified = verify_into(model_dir, settings.signature_public_key, Path(private) / "m")
        except SignatureError as exc:
            status = "fail" if settings.signature_policy == "require" else "warn"
            return status, str(exc)
    return "ok", (
        f"{verified.files} files match the signature of {settings.signature_public_key} "
        f"({verified.seconds * 1000:.0f} ms)"
    )
