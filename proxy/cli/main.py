"""The `dpsql` parser and entry point: which command runs which function, and the
one-line `code: message` for any failure (``--debug`` shows the traceback)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ..config import ConfigError
from .common import (
    add_action,
    add_config_arg,
    add_grant_args,
    add_group,
    amount_arg,
    fail,
    head_hash_arg,
    moment_arg,
    positive_arg,
)
from .ledger import run_ledger_attempts, run_ledger_export, run_ledger_receipt, run_ledger_verify
from .owner import (
    run_analysts_add,
    run_analysts_budget,
    run_analysts_disable,
    run_analysts_list,
    run_budget_dataset,
    run_budget_show,
    run_tables_delete,
)
from .server import run_config_check, run_demo, run_keygen, run_serve, run_suggest


def parser() -> argparse.ArgumentParser:
    from .. import __version__

    top = argparse.ArgumentParser(
        prog="dpsql", description="Differentially private SQL proxy."
    )
    top.add_argument("--version", action="version", version=f"dpsql {__version__}")
    top.add_argument("--debug", action="store_true",
                     help="show tracebacks and library log lines (also DPSQL_DEBUG=1)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = add_group(sub, "config", "check a deployment file")
    add_action(config, "check", "validate dpsql.yaml and check its tables against the "
                                "database (changes nothing)", run_config_check)

    serve = sub.add_parser("serve", help="serve the HTTP API for a deployment")
    add_config_arg(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=run_serve)

    demo = sub.add_parser("demo", help="build demo data and config, print keys, and serve")
    demo.add_argument("--dir", default="demo", help="folder for the demo files")
    demo.add_argument("--people", type=int, default=100_000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--no-serve", action="store_true", help="prepare only, do not serve")
    demo.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb",
                      help="serve the demo from the DuckDB file or from PostgreSQL")
    demo.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres",
                      help="with --engine postgres: a role that may create the demo database")
    demo.set_defaults(run=run_demo)

    helper = sub.add_parser("suggest", help="propose caps and bounds for a table from DP "
                                            "quantiles (spends dataset budget)")
    add_config_arg(helper)
    helper.add_argument("table")
    helper.add_argument("--epsilon", type=amount_arg, required=True,
                        help="what to spend of the dataset-wide budget")
    helper.add_argument("--coverage", type=float, default=0.98,
                        help="share of values the bounds should hold (default 0.98)")
    helper.add_argument("--cap-quantile", type=float, default=0.95,
                        help="quantile of people's row/group counts for the caps (0.95)")
    helper.add_argument("--group-by", help="column to size max_groups_per_unit for")
    helper.add_argument("--columns", nargs="+", help="numeric columns to bound (default all)")
    helper.add_argument("--apply", action="store_true",
                        help="record the proposal as the table's metadata in the ledger")
    helper.add_argument("--reason", default="bounds assistant (CLI)")
    helper.set_defaults(run=run_suggest)

    ledger = add_group(sub, "ledger", "inspect the ledger")
    check = add_action(ledger, "verify", "recompute the hash chain, totals, attempts log "
                                         "and checkpoints", run_ledger_verify)
    check.add_argument("--expect-entries", type=positive_arg,
                       help="from a receipt: the ledger had at least this many entries")
    check.add_argument("--expect-head", type=head_hash_arg,
                       help="from a receipt: the head hash (with --expect-entries: of that entry)")
    export = add_action(ledger, "export", "entries as csv/json, or a budget summary",
                        run_ledger_export)
    export.add_argument("--format", choices=("csv", "json", "summary"), default="json")
    export.add_argument("--analyst", help="only this analyst's entries")
    export.add_argument("--since", type=moment_arg, help="entries at or after (ISO date/time, UTC)")
    export.add_argument("--until", type=moment_arg, help="entries before (ISO date/time, UTC)")
    export.add_argument("--kind", help="only entries of this kind (grant, charge, ...)")
    tried = add_action(ledger, "attempts", "every analyst request's outcome, as csv/json",
                       run_ledger_attempts)
    tried.add_argument("--format", choices=("csv", "json"), default="json")
    tried.add_argument("--analyst", help="only this analyst's attempts")
    tried.add_argument("--since", type=moment_arg, help="attempts at or after (ISO date/time, UTC)")
    tried.add_argument("--until", type=moment_arg, help="attempts before (ISO date/time, UTC)")
    tried.add_argument("--outcome", help="only attempts with this outcome (refused, ...)")
    tried.add_argument("--code", help="only attempts refused with this error code")
    add_action(ledger, "receipt", "sign where the ledger stands, to keep elsewhere",
               run_ledger_receipt)

    analysts = add_group(sub, "analysts", "manage analysts and their budgets")
    add = add_action(analysts, "add", "create an analyst; prints its key once", run_analysts_add)
    add.add_argument("name")
    add.add_argument("--role", choices=("analyst", "owner", "compliance"), required=True)
    add_grant_args(add, required=False)
    add.add_argument("--reason", default="created with the CLI")
    add_action(analysts, "list", "the analysts in the ledger", run_analysts_list)
    grant = add_action(analysts, "budget", "grant or raise an analyst's budget",
                       run_analysts_budget)
    grant.add_argument("name")
    add_grant_args(grant, required=True)
    grant.add_argument("--reason", required=True, help="why; recorded in the ledger")
    for verb, disabled in (("disable", True), ("enable", False)):
        toggle = add_action(analysts, verb, f"{verb} an analyst's key", run_analysts_disable,
                            disabled=disabled)
        toggle.add_argument("name")
        toggle.add_argument("--reason", default=f"{verb}d with the CLI")

    tables = add_group(sub, "tables", "table metadata in the ledger")
    withdraw = add_action(tables, "delete", "withdraw a table (as DELETE /v1/admin/tables/NAME)",
                          run_tables_delete)
    withdraw.add_argument("name")
    withdraw.add_argument("--reason", required=True, help="why; recorded in the ledger")

    budget = add_group(sub, "budget", "the dataset-wide budget and analysts' shares")
    add_action(budget, "show", "each analyst's share of the dataset budget", run_budget_show)
    dataset = add_action(budget, "dataset", "set the dataset-wide budget", run_budget_dataset)
    dataset.add_argument("--epsilon", type=amount_arg, required=True)
    dataset.add_argument("--delta", type=amount_arg, required=True)
    dataset.add_argument("--reason", required=True, help="why; recorded in the ledger")

    keygen = sub.add_parser("keygen", help="make an API key; prints its SHA-256 for dpsql.yaml")
    keygen.set_defaults(run=run_keygen)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.debug = args.debug or bool(os.environ.get("DPSQL_DEBUG"))
    # stderr carries `code: message` only; the server's notes go to its log (`serve`)
    logging.getLogger("dpsql").addHandler(logging.NullHandler())
    try:
        return int(args.run(args))
    except ConfigError as exc:
        if args.debug:
            raise
        from ..startup import one_line

        return fail(*one_line(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `dpsql ledger export | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # an operator sees one line; --debug shows the traceback
        if args.debug:
            raise
        from ..errors import for_operator

        return fail(*for_operator(exc))


if __name__ == "__main__":
    sys.exit(main())
