"""The Trino client protocol, so BI tools and the `trino` clients connect unchanged
(SPEC §3 "BI tools"; notes/trino-protocol.md).

    protocol.py    the HTTP endpoints and QueryResults documents
    session.py     client session state carried in X-Trino-* headers
    auth.py        API keys as HTTP Basic or bearer tokens
    statements.py  the statement router (EXECUTE, PREPARE, …)
    commands.py    SHOW / DESCRIBE / SET SESSION / USE / transactions
    catalog_sql.py SELECTs over information_schema, system.jdbc, dpsql.budget
    metadata.py    those tables, built from the deployment's metadata
    data.py        SELECTs over the analyst's tables, via the /v1/query pipeline
    pages.py       result pages between POST and the GETs on nextUri
    types.py       Trino type signatures and value encoding
"""

from .protocol import router

__all__ = ["router"]
