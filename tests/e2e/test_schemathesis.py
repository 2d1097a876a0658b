"""Schemathesis drives the live server from its own OpenAPI document, with a
valid key for each role: no 500s, and every response matches the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import KEYS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.mark.slow
@pytest.mark.parametrize("who", ["alice", "olivia", "carl"])
def test_api_conforms_to_its_schema(live_url: str, who: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    headers = {"Authorization": f"Bearer {KEYS[who]}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
