"""What every dpsql package shares: the one error root and its codes (:mod:`dpsql.errors`).

Imports nothing of dpsql's own, so the rewriter and the accountant can use it
while staying pure of the proxy.
"""

from dpsql.errors import STARTUP_CODES, STATUS, DpsqlError

__all__ = ["STARTUP_CODES", "STATUS", "DpsqlError"]
