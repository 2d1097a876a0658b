"""The roles dpsql.yaml accepts are the ledger's."""

from __future__ import annotations

import typing

from accountant.ledger.records import ROLES, Role
from proxy.config import ConfigRole


def test_the_config_spells_the_ledgers_roles() -> None:
    assert typing.get_args(ConfigRole) == typing.get_args(Role) == tuple(ROLES)
