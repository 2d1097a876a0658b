"""HTTP routes, one module per kind of user (SPEC §3)."""

from .analyst import router as analyst
from .compliance import router as compliance
from .owner import router as owner

__all__ = ["analyst", "compliance", "owner"]
