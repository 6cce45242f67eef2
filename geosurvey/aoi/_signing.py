"""Ed25519 keys and signatures of registry acts (approve, withdraw, close) over canonical digests.

A party's key pair is Ed25519 (RFC 8032): the private half is a PKCS#8 PEM file that stays with
the party (0600, outside any repository); the public half is 32 bytes, written as base64 in
``parties.toml``. What is signed is a *statement*: the canonical JSON (RFC 8785-style: sorted keys,
no spaces, UTF-8) of the act, the area id, the party, the date and the SHA-256 digest of the area's
decision content. A signature therefore cannot be moved to another area, party, act or version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from geosurvey.errors import InputError, MissingInputError, OutputError
from geosurvey.io import atomic_write_bytes

__all__ = [
    "PrivateKeyLike",
    "canonical_json",
    "digest_of",
    "generate_keypair",
    "load_private_key",
    "parse_public_key",
    "public_key_b64",
    "sign",
    "verify",
    "write_private_key",
]

PrivateKeyLike = bytes | str | os.PathLike | Ed25519PrivateKey
"""A private key as PEM bytes, PEM text, a path to a PEM file, or a cryptography key object."""


def canonical_json(obj: Any) -> bytes:
    """Canonical UTF-8 JSON: sorted keys, no insignificant whitespace, non-ASCII kept as is."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def digest_of(content: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of ``content``."""
    return "sha256:" + hashlib.sha256(canonical_json(content)).hexdigest()


def generate_keypair() -> tuple[bytes, str]:
    """A new Ed25519 key pair: the private key as PKCS#8 PEM bytes, the public key as base64 text.

    The public key (44 characters) goes into the party's ``public_keys`` in ``parties.toml``; the
    private key must stay with the party (see :func:`write_private_key`).
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, public_key_b64(key)


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64-encoded."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str, *, where: str = "public key") -> Ed25519PublicKey:
    """Parse a base64 Ed25519 public key, naming ``where`` if it is not one."""
    try:
        raw = base64.b64decode(str(text), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise InputError(
            f"{where}: {str(text)[:60]!r} is not a base64 Ed25519 public key (32 bytes); "
            "copy the line printed by `geosurvey aoi keygen`"
        ) from exc


def load_private_key(key: PrivateKeyLike, *, where: str = "private key") -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM bytes/text, a PEM file path, or a key object."""
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, str) and key.lstrip().startswith("-----BEGIN"):
        data, source = key.encode(), where
    elif isinstance(key, bytes):
        data, source = key, where
    else:
        path = Path(key)
        if path.is_dir():
            raise InputError(
                f"{where}: {path} is a folder; give the party's private key file (PEM)"
            )
        if not path.is_file():
            raise MissingInputError(
                f"{where}: key file {path} does not exist; create one with `geosurvey aoi keygen`"
            )
        data, source = path.read_bytes(), str(path)
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{source}: not an unencrypted PEM private key ({exc}); use a key made by `geosurvey aoi keygen`"
        ) from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise InputError(
            f"{source}: the key is {type(loaded).__name__}, not Ed25519; registry approvals need Ed25519"
        )
    return loaded


def sign(key: Ed25519PrivateKey, statement: Mapping[str, Any]) -> str:
    """Sign the canonical JSON of ``statement``; return the 64-byte signature as base64."""
    return base64.b64encode(key.sign(canonical_json(statement))).decode("ascii")


def verify(public_key: str, statement: Mapping[str, Any], signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public_key``'s (base64) signature of ``statement``."""
    try:
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        pub.verify(base64.b64decode(signature, validate=True), canonical_json(statement))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def _inside_git_worktree(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / ".git").exists():
            return parent
    return None


def write_private_key(path: str | os.PathLike, pem: bytes, *, overwrite: bool = False) -> Path:
    """Write a private key with permissions 0600, atomically, outside any git repository.

    Missing parent folders are created with permissions 0700.

    Raises
    ------
    OutputError
        If ``path`` is inside a git work tree (private keys must never be committed), or exists and
        ``overwrite`` is false.
    """
    path = Path(path).expanduser()
    repo = _inside_git_worktree(path)
    if repo is not None:
        raise OutputError(
            f"refusing to write a private key to {path}: it is inside the git repository {repo}; "
            "keep private keys outside any repository, e.g. in ~/.config/geosurvey/keys/JP.pem"
        )
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give the key's file name, e.g. {path / 'JP.pem'}")
    if path.exists() and not overwrite:
        raise OutputError(
            f"{path} exists; pass overwrite=True (--force) to replace the key (the old one is then "
            "lost)"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(path, pem, mode=0o600)
    return path
