"""Who is calling: the analyst's API key, as HTTP Basic (user = analyst,
password = key) or as a bearer token, which is what Trino clients send
(notes/trino-protocol.md §3). Keys are checked by the same `KeyRing` as the JSON
API; the client's `X-Trino-User` must name the key's analyst.

Clients send credentials only over TLS (`tls:` in dpsql.yaml, or a proxy in
front); nothing here weakens that.
"""

from __future__ import annotations

import base64
import binascii

from ..auth import Principal, require
from ..deps import Services
from ..errors import Unauthenticated
from .session import Session

CHALLENGE = 'Basic realm="dpsql", Bearer realm="dpsql"'


def authenticate(svc: Services, authorization: str | None, session: Session) -> Principal:
    if not authorization:
        raise Unauthenticated(
            "send your API key: user = your analyst name, password = your key (HTTP Basic), "
            "or the key as a bearer token (access_token); both need https"
        )
    scheme, _, credentials = authorization.partition(" ")
    user = None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("the Basic credentials are not valid base64 of user:key") \
                from None
        user, sep, key = decoded.partition(":")
        if not sep or not key:
            raise Unauthenticated("HTTP Basic needs your analyst name as user and your API key "
                                  "as password")
        principal = svc.keys.authenticate(f"Bearer {key}")
    else:
        principal = svc.keys.authenticate(authorization)
    # the name in the request must be the key's own: a key never speaks for another
    for claimed, where in ((user, "Basic user"), (session.user, f"{session.prefix}User")):
        if claimed is not None and claimed != principal.name:
            raise Unauthenticated(f"the {where} {claimed!r} does not match the key, which "
                                  f"belongs to {principal.name}")
    return require(principal, "analyst")

