"""`dpsql analysts …`, `dpsql budget …`, `dpsql tables delete`: an owner's changes to
the ledger without a server, under the owner API's rules (:mod:`proxy.grants`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from .common import budget_summary, cli_actor, deployment_ledger, fail, text_table


def run_analysts_add(args: argparse.Namespace) -> int:
    from accountant import Budget

    from ..auth import hash_key, new_key
    from ..grants import check_grant, check_name, expiry_of

    if args.role == "analyst" and args.epsilon is None:
        print("usage_error: an analyst needs a budget; give --epsilon (and --delta)",
              file=sys.stderr)
        return 2
    check_name(args.name)
    if args.epsilon is not None:  # the owner API's rules (proxy/grants.py)
        check_grant(args.role, expiry_of(args.expires), dt.datetime.now(dt.UTC))
    with deployment_ledger(args, seed=True) as (_, ledger):
        if any(r.name == args.name for r in ledger.analysts()):
            return fail("analyst_exists", f"an analyst named {args.name!r} exists; choose "
                                          f"another name (`dpsql analysts list` shows them)")
        budget = None if args.epsilon is None else Budget.of(args.epsilon, args.delta)
        key = new_key()
        if budget is not None:  # checked before the analyst exists, so a bad budget adds nobody
            from accountant.ledger.records import check_grantable

            check_grantable(ledger.accounting, budget)
        ledger.register_analyst(args.name, args.role, hash_key(key), actor=cli_actor(),
                                reason=args.reason)
        if budget is not None:
            ledger.set_grant(args.name, budget, expiry_of(args.expires), actor=cli_actor(),
                             reason=args.reason)
    print(key)
    print(f"created {args.role} {args.name!r}; the key above is shown once (only its SHA-256 "
          f"is stored): hand it over now", file=sys.stderr)
    return 0


def run_analysts_list(args: argparse.Namespace) -> int:
    with deployment_ledger(args) as (_, ledger):
        rows = [{"name": r.name, "role": r.role,
                 "status": "disabled" if r.disabled else "enabled",
                 "key_sha256": r.key_sha256[:16] + "…"} for r in ledger.analysts()]
    if rows:
        print(text_table(rows))
    else:
        print("no analysts in the ledger yet (the server records dpsql.yaml's at start)",
              file=sys.stderr)
    return 0


def run_analysts_budget(args: argparse.Namespace) -> int:
    from accountant import Budget

    from ..grants import KEEP, check_grant, expiry_of, resolve_expiry

    now = dt.datetime.now(dt.UTC)
    with deployment_ledger(args, seed=True) as (config, ledger):
        record = next((r for r in ledger.analysts() if r.name == args.name), None)
        if record is None:
            return fail("not_found", f"no analyst named {args.name!r}; `dpsql analysts list` "
                                     f"shows them")
        # without --expires the grant keeps its expiry (a raise must not lift it)
        requested = KEEP if args.expires is None else expiry_of(args.expires)
        check_grant(record.role, requested, now)
        ledger.set_grant(args.name, Budget.of(args.epsilon, args.delta),
                         resolve_expiry(ledger, args.name, requested, now),
                         actor=cli_actor(), reason=args.reason)
        print(text_table(budget_summary(config, ledger, args.name)))
    return 0


def run_analysts_disable(args: argparse.Namespace) -> int:
    with deployment_ledger(args, seed=True) as (_, ledger):
        ledger.set_analyst_disabled(args.name, args.disabled, actor=cli_actor(), reason=args.reason)
    state = "disabled: its key is refused" if args.disabled else "enabled"
    print(f"analyst {args.name!r} {state}", file=sys.stderr)
    return 0


def run_budget_show(args: argparse.Namespace) -> int:
    with deployment_ledger(args) as (config, ledger):
        print(text_table(budget_summary(config, ledger, None)))
    return 0


def run_budget_dataset(args: argparse.Namespace) -> int:
    from accountant import Budget

    with deployment_ledger(args, seed=True) as (config, ledger):
        ledger.set_dataset_budget(Budget.of(args.epsilon, args.delta), actor=cli_actor(),
                                  reason=args.reason)
        print(text_table(budget_summary(config, ledger, None)))
    return 0


def run_tables_delete(args: argparse.Namespace) -> int:
    """Withdraw a table from the ledger's metadata (what DELETE /v1/admin/tables does),
    without a server: a table the database lost stops every start until it is gone."""
    with deployment_ledger(args, seed=True) as (_, ledger):
        if args.name not in ledger.tables()[1]:
            return fail("not_found", f"no table named {args.name!r} in the ledger's metadata")
        ledger.set_table(args.name, None, actor=cli_actor(), reason=args.reason,
                         note={"loosens": [], "tightens": ["table removed"],
                               "removed": ["table"]})
    print(f"table {args.name!r} withdrawn; analysts can no longer query it", file=sys.stderr)
    return 0
