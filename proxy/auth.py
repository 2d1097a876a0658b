"""API keys: stored as SHA-256 hashes only, compared in constant time."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from accountant import AnalystRegistry
from accountant.ledger.records import Role

from .errors import Forbidden, Unauthenticated

KEY_PREFIX = "dpsql_"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key; only its hash is ever stored."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyRing:
    """Authenticates keys against the analysts registered in the ledger, so
    that every proxy sharing the ledger sees new, rotated and disabled keys."""

    def __init__(self, ledger: AnalystRegistry) -> None:
        self._ledger = ledger

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated(
                "missing API key; send the header `Authorization: Bearer <your key>`"
            )
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated("use the header `Authorization: Bearer <your key>`")
        # Only the key's SHA-256 is looked up: the lookup's timing can tell
        # nothing about a key, since finding a preimage of a hash is infeasible.
        record = self._ledger.analyst_by_key_hash(hash_key(key.strip()))
        if record is None:
            raise Unauthenticated("unknown API key; ask your data owner for a key")
        if record.disabled:
            raise Unauthenticated(
                f"the key of {record.name} was disabled by a data owner; ask them to re-enable it"
            )
        return Principal(record.name, record.role)  # type: ignore[arg-type]


def require(principal: Principal, *roles: Role) -> Principal:
    if principal.role not in roles:
        allowed = " or ".join(roles)
        raise Forbidden(
            f"{principal.name} has the role {principal.role}; this endpoint is for {allowed}"
        )
    return principal
