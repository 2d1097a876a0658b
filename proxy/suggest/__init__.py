"""The bounds and caps assistant (issue #19): `dpsql suggest TABLE` and
`POST /v1/admin/tables/{name}/suggest` (the whole story is in :mod:`.assistant`).

    assistant.py   the run: what is proposed, charged and said
    sql.py         the SQL it runs on the engine
    noise.py       its mechanisms and intervals
"""

from .assistant import COUNT_GRID, VALUE_GRID, Proposal, Suggestion, suggest

__all__ = ["COUNT_GRID", "VALUE_GRID", "Proposal", "Suggestion", "suggest"]
