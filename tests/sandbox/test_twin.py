"""The twin builder: from metadata only, reproducible, and shaped so that the caps and
the clamping have something to show."""

from __future__ import annotations

import inspect

import numpy as np

from proxy.sandbox import twin
from proxy.sandbox.twin import DEFAULT_PEOPLE, OUTSIDE, OVER_CAP, synthesize
from rewriter import Catalog, Table
from tests.rewriter.conftest import EMPLOYEES, VISITS

CATALOG = Catalog({"employees": Table.model_validate(EMPLOYEES),
                   "visits": Table.model_validate(VISITS)})


def test_the_builder_takes_no_engine_and_reads_nothing() -> None:
    assert list(inspect.signature(synthesize).parameters) == ["name", "table", "catalog",
                                                              "marginals"]
    source = inspect.getsource(twin)
    assert "execute" not in source and "engine" not in source.replace("engine.", "")


def test_same_metadata_same_twin_and_changed_metadata_another() -> None:
    a = synthesize("visits", CATALOG.tables["visits"], CATALOG)
    b = synthesize("visits", CATALOG.tables["visits"], CATALOG)
    assert all(np.array_equal(a.columns[c], b.columns[c]) for c in a.columns)
    wider = Table.model_validate({**VISITS, "max_rows_per_unit": 6})
    c = synthesize("visits", wider, CATALOG)
    assert not np.array_equal(a.columns["amount"][:100], c.columns["amount"][:100])


def test_people_rows_per_person_and_values_follow_the_metadata() -> None:
    visits = synthesize("visits", CATALOG.tables["visits"], CATALOG)
    assert visits.people == DEFAULT_PEOPLE
    ids, per_person = np.unique(visits.columns["person_id"], return_counts=True)
    assert list(ids) == list(range(1, DEFAULT_PEOPLE + 1))
    over = float(np.mean(per_person > 5))  # max_rows_per_unit = 5
    assert abs(over - OVER_CAP) < 0.02
    assert set(visits.columns["city"]) == {"Oslo", "Lima", "Pune"}
    amount = visits.columns["amount"]
    assert amount.min() >= -50
    assert abs(float(np.mean(amount > 500)) - OUTSIDE) < 0.01  # some to clamp
    inside = amount[amount <= 500]
    assert inside.max() - inside.min() > 0.8 * 550  # spread over the bounds


def test_text_without_keys_comes_from_a_synthetic_vocabulary() -> None:
    employees = synthesize("employees", CATALOG.tables["employees"], CATALOG)
    names = set(employees.columns["name"])
    assert names and all(n.startswith("name-") for n in names)
    assert set(employees.columns["dept"]) <= {"Engineering", "HR", "Legal", "Sales"}
    assert set(np.unique(employees.columns["remote"])) == {False, True}


def test_declared_size_is_used() -> None:
    small = Table.model_validate({**EMPLOYEES, "sandbox_people": 123})
    assert synthesize("employees", small, CATALOG).people == 123
