"""Signed checkpoints: where the chain stood, signed with a key kept outside the database.

A hash chain shows that no entry inside it was changed, but not that its tail
is still there: whoever can write the database can delete the newest entries
and rewrite the head row and the running totals to match. A checkpoint says
"the chain had N entries, the N-th hashed H, the attempts log had M rows
ending in A" at a moment, signed with Ed25519 (the ``cryptography`` package).
Each one goes into the ledger's ``checkpoints`` table and is appended to a
file outside the database; a chain that ends before a checkpoint, or whose
entry N no longer hashes to H, is caught by :func:`check_checkpoints`.

What the custody of each part protects:

* the **checkpoint file** (kept where the database's writers cannot rewrite
  it: another host, an append-only log sink, ``chattr +a``) is what makes a
  truncated or rewritten tail visible, even after the database's own
  checkpoints were deleted;
* the **key** (readable by the proxy only) is what stops someone who rewrote
  the history from signing a checkpoint, or a receipt, of the new history.
  Without it a checkpoint can be deleted but not forged.

A truncation that stops exactly at the last checkpoint is invisible to the
checkpoints themselves; a receipt the reviewer kept elsewhere
(``verify --expect-head/--expect-entries``) catches it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from accountant.errors import InvalidParameter
from accountant.ledger.chain import canonical_json
from accountant.ledger.records import iso

BODY_FIELDS = ("entries", "head", "attempts", "attempts_head", "time", "key_id",
               "state_sha256")


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement of where the ledger and the attempts log stood."""

    body: dict[str, Any]
    signature: str  # hex

    @property
    def entries(self) -> int:
        return int(self.body["entries"])

    @property
    def head(self) -> str:
        return str(self.body["head"])

    @property
    def attempts(self) -> int:
        return int(self.body["attempts"])

    @property
    def attempts_head(self) -> str:
        return str(self.body["attempts_head"])

    def text(self) -> str:
        return canonical_json(self.body)

    def as_json(self) -> dict[str, Any]:
        return {"checkpoint": self.body, "signature": self.signature}

    @classmethod
    def parse(cls, document: Any) -> Checkpoint:
        """Read a checkpoint back from its JSON form; ValueError when it is not one."""
        if not isinstance(document, dict) or set(document) != {"checkpoint", "signature"}:
            raise ValueError("expected {\"checkpoint\": {...}, \"signature\": \"...\"}")
        body, signature = document["checkpoint"], document["signature"]
        if not isinstance(body, dict) or set(body) != set(BODY_FIELDS):
            raise ValueError(f"a checkpoint has exactly the fields {', '.join(BODY_FIELDS)}")
        if not isinstance(signature, str):
            raise ValueError("the signature must be hex text")
        return cls(body, signature)


class Notary:
    """Signs checkpoints with an Ed25519 key and appends them to a file.

    ``file`` may be None (no file: checkpoints are kept in the database only,
    which shows edits but not a deleted tail once those rows are deleted too).
    """

    def __init__(self, key: Ed25519PrivateKey, file: Path | None) -> None:
        self._key = key
        self.public_key: Ed25519PublicKey = key.public_key()
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_hex = raw.hex()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]
        self.file = file
        self._checked: dict[tuple[str, str], bool] = {}

    def sign(self, *, entries: int, head: str, attempts: int, attempts_head: str,
             now: datetime, state_sha256: str | None = None) -> Checkpoint:
        """``state_sha256``: the digest of the verified chain state at ``entries``
        (:meth:`ChainState.to_json`), from which a later start-up may resume."""
        body = {"entries": entries, "head": head, "attempts": attempts,
                "attempts_head": attempts_head, "time": iso(now), "key_id": self.key_id,
                "state_sha256": state_sha256}
        signature = self._key.sign(canonical_json(body).encode("utf-8")).hex()
        return Checkpoint(body, signature)

    def signed_by_me(self, checkpoint: Checkpoint) -> bool:
        text = checkpoint.text()
        known = self._checked.get((text, checkpoint.signature))
        if known is not None:  # the file and the database hold the same ones
            return known
        try:
            self.public_key.verify(bytes.fromhex(checkpoint.signature), text.encode("utf-8"))
            good = True
        except (InvalidSignature, ValueError):
            good = False
        self._checked[(text, checkpoint.signature)] = good
        return good

    def append(self, checkpoint: Checkpoint) -> None:
        """Append one line and force it to disk; the file is only ever appended to."""
        if self.file is None:
            return
        line = (json.dumps(checkpoint.as_json(), sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def from_file(self) -> tuple[list[Checkpoint], str | None]:
        """The checkpoints in the file, and a problem when a line is not one."""
        if self.file is None or not self.file.exists():
            return [], None
        found = []
        with self.file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    found.append(Checkpoint.parse(json.loads(line)))
                except ValueError as exc:
                    return found, (f"line {number} of the checkpoint file {self.file} is not a "
                                   f"checkpoint ({exc}); the file was edited")
        return found, None


def load_key(path: Path, *, create: bool = False) -> Ed25519PrivateKey:
    """The private key in a PEM file; with ``create``, make one (mode 0600) if missing."""
    if create and not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_key(path)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        return key
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidParameter(
            f"ledger.checkpoints.key_file: cannot read the signing key {path}: "
            f"{exc.strerror or exc}"
        ) from None
    return key_from_text(text, f"the key file {path}")


def key_from_text(text: str, where: str) -> Ed25519PrivateKey:
    """An Ed25519 private key given as PEM (PKCS#8) or as the 32-byte seed in hex."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if isinstance(key, Ed25519PrivateKey):
                return key
            raise ValueError("not an Ed25519 key")
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except ValueError:
        raise InvalidParameter(
            f"{where} does not hold an Ed25519 private key: give a PEM (PKCS#8) key, as "
            f"`openssl genpkey -algorithm ed25519` writes, or its 32-byte seed as 64 hex digits"
        ) from None


def check_checkpoints(
    checkpoints: Iterable[tuple[str, Checkpoint]],
    notary: Notary,
    *,
    entries: int,
    attempts: int,
    entry_hash_at: Callable[[int], str | None],
    attempt_hash_at: Callable[[int], str | None],
) -> str | None:
    """The first problem with the chain as the checkpoints saw it (None: all agree).

    ``checkpoints`` are (where it was found, checkpoint). ``entries``/``attempts``
    are the rows the chains hold now; ``*_hash_at(n)`` the hash of row n.
    """
    for where, cp in checkpoints:
        stamp = f"the checkpoint signed at {cp.body.get('time')} ({where})"
        if not notary.signed_by_me(cp):
            return (f"{stamp} does not carry a valid signature of this deployment's key "
                    f"(key id {notary.key_id}): it was forged or altered")
        if cp.entries > entries:
            return (f"the ledger was truncated: it holds {entries} entries but {stamp} covers "
                    f"{cp.entries} (head {cp.head[:16]}…); entries {entries + 1}–{cp.entries} "
                    f"were removed")
        if cp.entries and entry_hash_at(cp.entries) != cp.head:
            return (f"entry {cp.entries} is not the one {stamp} covers: the chain was "
                    f"rewritten from that entry or before")
        if cp.attempts > attempts:
            return (f"the attempts log was truncated: it holds {attempts} rows but {stamp} "
                    f"covers {cp.attempts}")
        if cp.attempts and attempt_hash_at(cp.attempts) != cp.attempts_head:
            return (f"attempt {cp.attempts} is not the one {stamp} covers: the attempts log "
                    f"was rewritten")
    return None
