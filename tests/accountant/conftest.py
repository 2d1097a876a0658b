"""Fixtures for ledger tests: a fresh ledger per backend (SQLite file, PostgreSQL database).

Every test that takes ``ledger_url`` (directly or through ``pure``/``zcdp``)
runs once on SQLite and once on PostgreSQL.
"""

import pytest
from psycopg.conninfo import conninfo_to_dict

from accountant import Accounting, Budget, open_ledger
from tests.pg import require_postgres, throwaway_database


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def ledger_url(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    require_postgres()
    with throwaway_database("dpsql_ledger") as (admin_dsn, _reader):
        yield postgres_url(admin_dsn)


def postgres_url(conninfo: str) -> str:
    """The ``postgresql://`` URL a config's ledger.url would hold for this conninfo."""
    parts = conninfo_to_dict(conninfo)
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"


@pytest.fixture
def pure(ledger_url):
    ledger = open_ledger(ledger_url, Accounting.PURE)
    ledger.set_grant("alice", Budget.of(1.0, 1e-6), None, actor="olivia", reason="seed")
    yield ledger
    ledger.close()


@pytest.fixture
def zcdp(ledger_url):
    ledger = open_ledger(ledger_url, Accounting.ZCDP)
    ledger.set_grant("alice", Budget.of(1.0, 1e-6), None, actor="olivia", reason="seed")
    yield ledger
    ledger.close()
