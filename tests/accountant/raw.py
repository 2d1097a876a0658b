"""Direct access to a ledger's database, as an attacker (or a careless admin) would have."""

import sqlite3

import psycopg


def execute(url: str, statement: str, params=(), *, bypass_triggers: bool = False) -> None:
    """Run one statement on the ledger's own database, outside the ledger's API.

    With ``bypass_triggers`` the append-only triggers are removed first, so
    edits reach the rows and only the hash chain can tell.
    """
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            if bypass_triggers:
                conn.execute("DROP TRIGGER IF EXISTS entries_append_only_update")
                conn.execute("DROP TRIGGER IF EXISTS entries_append_only_delete")
            conn.execute(statement, params)
        finally:
            conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        if bypass_triggers:
            conn.execute("ALTER TABLE entries DISABLE TRIGGER USER")
        conn.execute(statement.replace("?", "%s"), params)


def fetch_row(url: str, statement: str) -> dict:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.row_factory = sqlite3.Row
        try:
            return dict(conn.execute(statement).fetchone())
        finally:
            conn.close()
    with psycopg.connect(url) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        return dict(cur.execute(statement).fetchone())
