from __future__ import annotations

import pytest

from rewriter import Catalog, Table

EMPLOYEES = {
    "privacy_unit": "id",
    "max_rows_per_unit": 1,
    "max_groups_per_unit": 1,
    "columns": {
        "id": {"type": "integer"},
        "name": {"type": "text", "groupable": False},
        "dept": {"type": "text", "public_keys": ["Engineering", "HR", "Legal", "Sales"]},
        "salary": {"type": "float", "lower": 0, "upper": 250000},
        "age": {"type": "integer", "lower": 16, "upper": 100},
        "hired": {"type": "date"},
        "remote": {"type": "boolean"},
        "city": {"type": "text"},
    },
}

VISITS = {
    "privacy_unit": "person_id",
    "max_rows_per_unit": 5,
    "max_groups_per_unit": 2,
    "columns": {
        "person_id": {"type": "integer"},
        "city": {"type": "text", "public_keys": ["Oslo", "Lima", "Pune"]},
        "amount": {"type": "float", "lower": -50, "upper": 500},
        "visit_date": {"type": "date"},
    },
}


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog({
        "employees": Table.model_validate(EMPLOYEES),
        "visits": Table.model_validate(VISITS),
        "cities": Table.model_validate({"public": True, "columns": {
            # a name may be listed twice (the property tests join on it)
            "name": {"type": "text", "max_multiplicity": 2}, "region": {"type": "text"},
            "rank": {"type": "integer", "lower": 0, "upper": 10},
        }}),
        "departments": Table.model_validate({"public": True, "columns": {
            "dept": {"type": "text", "unique": True},
            "floor": {"type": "integer", "lower": 0, "upper": 20},
            "budget_code": {"type": "text"}, "id": {"type": "integer"},
        }}),
    })
