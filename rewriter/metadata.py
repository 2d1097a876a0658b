"""Table metadata: what the data owner declares about each table (SPEC §2).

The same models validate the ``tables:`` section of ``dpsql.yaml`` and the
owner API, so the format is declared once. They are frozen: a catalog handed to
the rewriter cannot change under it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

ColumnType = Literal["integer", "float", "text", "boolean", "date", "timestamp"]
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float"})

KeyValue = bool | int | float | str | dt.date | dt.datetime


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PublicKeysRef(_Frozen):
    """Group keys read from a column of a public table."""

    table: str
    column: str


class Column(_Frozen):
    type: ColumnType
    lower: int | float | None = None
    upper: int | float | None = None
    groupable: bool = True
    public_keys: tuple[KeyValue, ...] | PublicKeysRef | None = None
    # public tables only: how many rows may share one value of this column. A JOIN
    # onto a public table must equate one such column, so a joined row matches at
    # most that many of its rows (verified against the data when the table is
    # registered). `unique: true` is `max_multiplicity: 1`.
    unique: bool = False
    max_multiplicity: int | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("public_keys")
    @classmethod
    def _keys_of_the_column_type(cls, keys: object, info: ValidationInfo) -> object:
        """Listed keys must be values of the column's type: compared with the column
        in the rewritten SQL, a key of another type makes the engine fail after the
        query was charged (an analyst paying for the metadata's mistake)."""
        kind = info.data.get("type")
        if not isinstance(keys, tuple) or kind is None:
            return keys
        return tuple(_key_of(kind, key) for key in keys)

    @model_validator(mode="after")
    def _check(self) -> Column:
        if self.unique and self.max_multiplicity is not None:
            raise ValueError("declare `unique: true` or `max_multiplicity`, not both")
        if (self.lower is None) != (self.upper is None):
            raise ValueError("declare both `lower` and `upper`, or neither")
        if self.lower is not None and self.upper is not None:
            if self.type not in NUMERIC_TYPES:
                raise ValueError(f"bounds apply to integer and float columns, not {self.type}")
            if not (self.lower <= self.upper):
                raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
            for bound in (self.lower, self.upper):
                if bound != bound or abs(bound) == float("inf"):
                    raise ValueError(f"bounds must be finite numbers, got {bound}")
        if isinstance(self.public_keys, tuple):
            if len(self.public_keys) == 0:
                raise ValueError("`public_keys` is empty; list at least one key or remove it")
            if len(set(self.public_keys)) != len(self.public_keys):
                raise ValueError("`public_keys` lists a key twice")
        if self.public_keys is not None and not self.groupable:
            raise ValueError("a column with `groupable: false` cannot declare `public_keys`")
        return self

    @property
    def bounded(self) -> bool:
        return self.lower is not None

    @property
    def multiplicity(self) -> int | None:
        """The most rows of a public table sharing one value of this column, if declared."""
        return 1 if self.unique else self.max_multiplicity


def _key_of(kind: str, key: KeyValue) -> KeyValue:
    """`key` as a value of a column of type `kind` (ISO text for dates and times)."""
    if kind == "integer" and isinstance(key, int) and not isinstance(key, bool):
        return key
    if kind == "float" and isinstance(key, (int, float)) and not isinstance(key, bool):
        return key
    if kind == "text" and isinstance(key, str):
        return key
    if kind == "boolean" and isinstance(key, bool):
        return key
    if kind == "date":
        if isinstance(key, dt.date) and not isinstance(key, dt.datetime):
            return key
        if isinstance(key, str):
            try:
                return dt.date.fromisoformat(key)
            except ValueError:
                pass
    if kind == "timestamp":
        if isinstance(key, dt.datetime):
            return key
        if isinstance(key, str):
            try:
                return dt.datetime.fromisoformat(key)
            except ValueError:
                pass
    article = "an" if kind[0] in "aeiou" else "a"
    raise ValueError(f"`public_keys` of {article} {kind} column must be {kind} values, "
                     f"got {key!r}")


class Table(_Frozen):
    public: bool = False
    privacy_unit: str | None = None
    max_rows_per_unit: int = Field(default=1, ge=1, le=1_000_000)
    max_groups_per_unit: int = Field(default=1, ge=1, le=1_000_000)
    columns: dict[str, Column] = Field(default_factory=dict)
    # how many synthetic people the sandbox's twin of this private table holds
    # (proxy/sandbox); declared, never read from the data. None: the default.
    sandbox_people: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> Table:
        reserved = [name for name in self.columns if name.startswith("__")]
        if reserved:
            # the rewrite names its own columns `__…`; a real one could be shadowed
            raise ValueError(f"column names starting with '__' are reserved for dpsql: "
                             f"{', '.join(reserved)}")
        if self.public:
            if self.privacy_unit is not None:
                raise ValueError(
                    "a public table has no `privacy_unit`; remove it or `public: true`"
                )
            return self
        if self.privacy_unit is None:
            raise ValueError("a private table needs `privacy_unit` (or `public: true`)")
        if self.privacy_unit not in self.columns:
            raise ValueError(
                f"`privacy_unit` {self.privacy_unit!r} is not among the declared columns"
            )
        if self.columns[self.privacy_unit].public_keys is not None:
            raise ValueError("the privacy unit can never be a group key; remove its `public_keys`")
        for name, col in self.columns.items():
            if col.multiplicity is not None:
                raise ValueError(
                    f"column {name!r}: `unique` and `max_multiplicity` describe public tables "
                    "(they bound how many rows a join matches); a private table's rows per "
                    "person are bounded by `max_rows_per_unit`. Remove it."
                )
        return self

    def column(self, name: str) -> Column | None:
        """Look a column up the way SQL does: unquoted names ignore case."""
        found = self.columns.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for key, col in self.columns.items():
            if key.lower() == lowered:
                return col
        return None

    def canonical(self, name: str) -> str | None:
        """The declared spelling of a column name, or None if undeclared."""
        if name in self.columns:
            return name
        lowered = name.lower()
        for key in self.columns:
            if key.lower() == lowered:
                return key
        return None
