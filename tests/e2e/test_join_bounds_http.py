"""Public join keys over HTTP on both engines: a join on a column that may
repeat is refused with the fix, and a declared multiplicity the data
contradicts stops the server at start-up and is refused (400) on the owner API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from proxy.config import ConfigError

from .conftest import Proxy


def test_join_on_a_repeating_public_column_is_refused(proxy: Proxy) -> None:
    response = proxy.query("SELECT COUNT(*) FROM employees e JOIN departments d "
                           "ON e.dept = d.budget_code")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_query" and error["position"] is not None
    assert "unique" in error["message"] and "d.dept" in error["message"]


def test_declaring_a_second_unique_column_lets_it_be_joined(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/departments", headers=owner).json()
    document["columns"]["budget_code"]["unique"] = True
    response = proxy.client.put("/v1/admin/tables/departments", json=document, headers=owner)
    assert response.status_code == 200, response.text
    response = proxy.query("SELECT COUNT(*) FROM employees e JOIN departments d "
                           "ON e.dept = d.budget_code", epsilon=1.0)
    assert response.status_code == 200, response.text


def test_owner_api_refuses_a_multiplicity_the_data_contradicts(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/departments", headers=owner).json()
    document["columns"]["floor"]["unique"] = True  # Finance and HR share floor 4
    response = proxy.client.put("/v1/admin/tables/departments", json=document, headers=owner)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["message"] == (
        "table departments: columns.floor declares unique: true, but a value occurs 2 times "
        "in the data; declare max_multiplicity: 2 (or more), or remove the repeated rows")
    # nothing was recorded: the old metadata still answers
    after = proxy.client.get("/v1/admin/tables/departments", headers=owner).json()
    assert "unique" not in after["columns"]["floor"]
    document["columns"]["floor"] = {"type": "integer", "max_multiplicity": 2}
    response = proxy.client.put("/v1/admin/tables/departments", json=document, headers=owner)
    assert response.status_code == 200, response.text


def test_owner_api_refuses_multiplicity_on_a_private_table(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/employees", headers=owner).json()
    document["columns"]["dept"]["unique"] = True
    response = proxy.client.put("/v1/admin/tables/employees", json=document, headers=owner)
    assert response.status_code == 400
    assert "describe public tables" in response.json()["error"]["message"]


def _floor_unique(document: dict[str, Any]) -> None:
    document["tables"]["departments"]["columns"]["floor"]["unique"] = True


def _missing_column(document: dict[str, Any]) -> None:
    document["tables"]["departments"]["columns"]["wing"] = {"type": "text", "unique": True}


@pytest.mark.parametrize(("tweak", "message"), [
    (_floor_unique, "table departments: columns.floor declares unique: true, but a value "
                    "occurs 2 times in the data"),
    # the engine's catalog is checked first (proxy/schema_check.py): the column is named
    (_missing_column, "tables.departments.columns.wing: no such column in the database"),
])
def test_start_up_refuses_a_multiplicity_the_data_contradicts(
    make_proxy: Callable[..., Proxy], tweak: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_proxy(tweak)
