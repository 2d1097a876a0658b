"""`${VAR}` in dpsql.yaml (issue #19): secrets from the environment, substituted in
parsed values (never in the YAML text), an unset variable named by its key path."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, substitute_environment


def test_values_are_substituted_with_defaults_and_escapes() -> None:
    data = {"engine": {"dsn": "postgresql://r:${PW}@h/db"},
            "list": ["${A:-x}", "$${LITERAL}", "plain $ sign", 5]}
    assert substitute_environment(data, {"PW": "p@ss: {]"}) == {
        "engine": {"dsn": "postgresql://r:p@ss: {]@h/db"},
        "list": ["x", "${LITERAL}", "plain $ sign", 5]}


def test_an_unset_variable_names_its_key_path() -> None:
    with pytest.raises(ConfigError, match=r"analysts.alice.api_key_sha256: the environment "
                                          r"variable ALICE_HASH is not set"):
        substitute_environment({"analysts": {"alice": {"api_key_sha256": "${ALICE_HASH}"}}}, {})
