"""Golden fixture files in the manner of sqlglot's tests/fixtures/optimizer: a
preamble of comments, then titled cases, each the input SQL followed by one
`-- <section>:` block per expected output. With DPSQL_UPDATE_GOLDENS=1 the tests
write the expected blocks anew instead of comparing (then read the diff)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

UPDATE = os.environ.get("DPSQL_UPDATE_GOLDENS") == "1"


@dataclass
class Case:
    title: str
    sql: str
    expected: dict[str, str]


def parse(text: str) -> tuple[str, list[Case]]:
    """The file's preamble and its cases."""
    preamble, *blocks = re.split(r"^-- title: ", text, flags=re.M)
    cases = []
    for block in blocks:
        title, _, body = block.partition("\n")
        parts = re.split(r"^-- (\w+):\n", body, flags=re.M)
        sql, expected = parts[0].strip(), dict(zip(parts[1::2], (p.strip() for p in parts[2::2]),
                                                   strict=True))
        cases.append(Case(title.strip(), sql, expected))
    return preamble, cases


def format_cases(preamble: str, cases: list[Case], sections: Sequence[str]) -> str:
    out = [preamble.rstrip("\n") + "\n"]
    for case in cases:
        out.append(f"\n-- title: {case.title}\n{case.sql}\n")
        for name in sections:
            if name in case.expected:  # filled in one test at a time
                out.append(f"-- {name}:\n{case.expected[name]}\n")
    return "".join(out)
