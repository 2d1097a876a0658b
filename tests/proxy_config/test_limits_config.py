"""The `limits:` and `logging:` sections of dpsql.yaml: defaults, key paths in
errors, and every setting documented in the README (STYLE habit 10)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from proxy.config import ConfigError, LimitsConfig, LoggingConfig, parse_config
from rewriter.limits import Limits

README = Path(__file__).resolve().parents[2] / "README.md"
BASE: dict[str, Any] = {"engine": {"kind": "duckdb", "database": "x.duckdb"}}


def test_defaults_are_the_rewriters() -> None:
    config = parse_config(BASE)
    assert config.limits.limits() == Limits()
    assert config.logging.engine_errors is False


def test_values_reach_the_limits() -> None:
    config = parse_config({**BASE, "limits": {"max_joins": 0, "max_noise_cells": 5}})
    assert config.limits.limits() == Limits(max_joins=0, max_noise_cells=5)


@pytest.mark.parametrize(("section", "path", "fragment"), [
    ({"limits": {"max_nesting_depth": 0}}, "limits.max_nesting_depth", "greater than or equal"),
    ({"limits": {"max_nesting_depth": 100}}, "limits.max_nesting_depth", "less than or equal"),
    ({"limits": {"max_joins": -1}}, "limits.max_joins", "greater than or equal"),
    ({"limits": {"max_noise_cells": "many"}}, "limits.max_noise_cells", "integer"),
    ({"limits": {"max_noise_cells": 1.5}}, "limits.max_noise_cells", "integer"),
    ({"limits": {"max_sql_char": 5}}, "limits.max_sql_char", "unknown key"),
    ({"logging": {"engine_errors": "maybe"}}, "logging.engine_errors", "boolean"),
])
def test_errors_name_the_key_path(section: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, **section})
    line = next((ln.strip() for ln in info.value.message.splitlines()
                 if ln.strip().startswith(path + ":")), None)
    assert line is not None and fragment in line, info.value.message


@pytest.mark.parametrize("section,model", [("limits", LimitsConfig), ("logging", LoggingConfig)])
def test_every_setting_is_documented(section: str, model: type[LimitsConfig]) -> None:
    text = README.read_text()
    for name, field in model.model_fields.items():
        row = re.search(rf"^\| `{section}\.{name}` \| `?([^|`]+)`? \|", text, re.MULTILINE)
        assert row is not None, f"README documents no `{section}.{name}`"
        default = field.default
        shown = str(default).lower() if isinstance(default, bool) else f"{default:_}"
        assert row.group(1).strip() == shown, (name, row.group(1), shown)
