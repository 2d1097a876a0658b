"""The package's shape: public API, error codes, and the dependency direction."""

import ast
from pathlib import Path

import accountant
from accountant import AccountantError, BudgetExhausted, InvalidParameter

PACKAGE = Path(accountant.__file__).parent


def test_every_public_name_resolves():
    for name in accountant.__all__:
        assert getattr(accountant, name) is not None, name


def test_error_codes_are_stable():
    assert InvalidParameter.code == "invalid_parameter"
    assert BudgetExhausted.code == "budget_exhausted"
    err = BudgetExhausted("no room", "dataset")
    assert isinstance(err, AccountantError)
    assert (err.message, err.which, err.position) == ("no room", "dataset", None)


def test_accountant_never_imports_proxy_or_rewriter():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"proxy", "rewriter"}
            ]
    assert offenders == []


def test_every_mechanism_states_its_guarantee():
    from accountant.mechanisms import gaussian_for, laplace_for, sampler

    for documented in (laplace_for, gaussian_for, sampler):
        assert "Guarantee" in (documented.__doc__ or ""), documented
