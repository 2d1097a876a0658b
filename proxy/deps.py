"""Request dependencies shared by the routes: the running services and the
authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from accountant import Ledger
from accountant.ledger.checkpoints import Notary

from .auth import KeyRing, Principal
from .config import Config
from .engines.base import Engine
from .pipeline import Clock, Pipeline
from .tables import TableStore
from .trust import Checkpointer


@dataclass
class Services:
    config: Config
    engine: Engine
    ledger: Ledger
    pipeline: Pipeline
    keys: KeyRing
    clock: Clock
    tables: TableStore
    notary: Notary | None = None  # signs checkpoints and receipts
    checkpointer: Checkpointer | None = None

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.ledger.close()
        self.engine.close()


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    # another proxy sharing the ledger may have changed a table's metadata; the
    # pipeline reads the refreshed catalog from the table store, call by call
    services.tables.refresh()
    return services


def _principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    principal = services_of(request).keys.authenticate(authorization)
    request.state.principal = principal  # for the access log
    return principal


Svc = Annotated[Services, Depends(services_of)]
Who = Annotated[Principal, Depends(_principal)]
