"""The `dpsql` command: a thin layer over the library.

Exit codes: 0 success, 1 refused or failed, 2 usage. Data goes to stdout;
messages and errors (as `code: message`) go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpsql.errors import DpsqlError

from .config import Config, ConfigError, load_config, parse_expiry

if TYPE_CHECKING:
    from accountant import Budget, Ledger
    from accountant.presentation import Shown


def _fail(code: str, message: str) -> int:
    print(f"{code}: {message}", file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    """Start-up runs before uvicorn, so every failure is one `code: message` line
    (proxy/startup.py); then the server says where it listens."""
    import uvicorn

    from . import __version__
    from .app import create_app
    from .startup import listen, loud, prepare, quiet_start_up

    if not args.debug:
        quiet_start_up()
    config = load_config(args.config)
    sock = listen(args.host, args.port)
    try:
        services = prepare(config)
    except BaseException:
        sock.close()
        raise
    loud()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host = f"[{args.host}]" if ":" in args.host else args.host
    tls = config.tls.uvicorn_options() if config.tls else {}
    scheme = "https" if tls else "http"
    print(f"dpsql {__version__} listening on {scheme}://{host}:{args.port} "
          f"({config.engine.kind}, {len(services.tables.catalog.tables)} tables; Ctrl-C stops)",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(config, services=services),
                                           log_level="warning", **tls))
    server.run(sockets=[sock])
    return 0


def _config_check(args: argparse.Namespace) -> int:
    """Validate dpsql.yaml and check its tables against the database; changes nothing."""
    from .startup import check_deployment, quiet_start_up

    if not args.debug:
        quiet_start_up()
    config = load_config(args.config)
    for line in check_deployment(config):
        print(line, file=sys.stderr)
    print(f"ok: {args.config}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import build_demo_database, write_demo_config

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.duckdb"
    if not database.exists():
        print(f"building demo data ({args.people} people) in {database} …", file=sys.stderr)
        build_demo_database(database, people=args.people)
    dsn = None
    if args.engine == "postgres":
        from .pgload import install_demo

        print(f"loading the demo into PostgreSQL ({args.admin_dsn}) …", file=sys.stderr)
        dsn = install_demo(database, args.admin_dsn)
    keys = write_demo_config(folder, database, dsn=dsn)
    config_path = folder / "dpsql.yaml"
    analyst_key = "$DPSQL_KEY"
    if keys:
        print("API keys (shown once; only their hashes are stored in dpsql.yaml):", file=sys.stderr)
        for name, key in keys.items():
            print(f"  {name:8s} {key}", file=sys.stderr)
        analyst_key = keys.get("alice", analyst_key)
    else:
        from .demo import retarget_demo_config

        before = retarget_demo_config(folder, database, dsn=dsn)
        if before is not None:
            print(f"{config_path}: engine switched from {before} to {args.engine} "
                  "(keys unchanged)", file=sys.stderr)
        print(f"{config_path} exists: its keys were shown when it was made. Delete the "
              f"folder {folder} to start afresh, or set DPSQL_KEY to alice's key.", file=sys.stderr)
    url = f"http://{args.host}:{args.port}"
    body = json.dumps({"sql": "SELECT dept, COUNT(*) AS n, AVG(salary) AS avg_salary "
                              "FROM employees GROUP BY dept", "epsilon": 0.5})
    print("\nAsk a differentially private question:\n", file=sys.stderr)
    # double quotes: a pasted `$DPSQL_KEY` is expanded by the shell (a key has no `"`)
    print(f"curl -s {url}/v1/query -H \"Authorization: Bearer {analyst_key}\" "
          f"-H 'Content-Type: application/json' -d '{body}'\n", file=sys.stderr)
    if args.no_serve:
        return 0
    args.config = str(config_path)
    return _serve(args)


def _suggest(args: argparse.Namespace) -> int:
    """The bounds and caps assistant (proxy/suggest.py) on one table; with --apply the
    proposal becomes the table's metadata in the ledger, as PATCH would make it."""
    import yaml

    from .startup import prepare, quiet_start_up
    from .suggest import suggest

    if not args.debug:
        quiet_start_up()
    services = prepare(load_config(args.config))
    try:
        table = services.tables.catalog.tables.get(args.table)
        if table is None:
            return _fail("not_found", f"no table named {args.table!r} in the metadata")
        result = suggest(args.table, table, engine=services.engine, ledger=services.ledger,
                         pipeline=services.pipeline, owner=_actor(), epsilon=args.epsilon,
                         delta=services.pipeline.privacy.default_delta, reason=args.reason,
                         coverage=args.coverage, cap_quantile=args.cap_quantile,
                         group_by=args.group_by, columns=args.columns)
        print(f"spent ε = {result.charged_epsilon:g} of the dataset-wide budget "
              f"(ledger {result.query_id})", file=sys.stderr)
        for proposal in result.proposals:
            print(f"- {proposal.words}")
        for note in result.notes:
            print(f"  note: {note}")
        print(f"\nin dpsql.yaml, under tables.{args.table}:")
        print(yaml.safe_dump(result.patch, sort_keys=False), end="")
        if args.apply:
            change = services.tables.patch(args.table, result.patch, actor=_actor(),
                                           reason=f"{args.reason} (applied)")
            print(f"applied to the ledger's metadata; loosens: {change.loosens or 'nothing'}; "
                  f"tightens: {change.tightens or 'nothing'}", file=sys.stderr)
        else:
            print("\nnot applied: run again with --apply, PATCH /v1/admin/tables/"
                  f"{args.table} with this patch, or edit dpsql.yaml", file=sys.stderr)
    finally:
        services.close()
    return 0


def _ledger_verify(args: argparse.Namespace) -> int:
    from .trust import notary_for, unchecked

    with _ledger(args) as (config, ledger):
        notary = notary_for(config)  # never created here: a verifier that finds none says so
        unchecked(config, ledger, notary)
        report = ledger.verify(notary, expect_entries=args.expect_entries,
                               expect_head=args.expect_head)
    print(json.dumps({"ok": report.ok, "entries": report.entries, "checked": report.checked,
                      "head": report.head, "first_bad": report.first_bad,
                      "reason": report.reason, "attempts": report.attempts,
                      "attempts_head": report.attempts_head,
                      "checkpoints": report.checkpoints}))
    if not report.ok:
        where = f"entry {report.first_bad}" if report.first_bad else "ledger"
        return _fail("ledger_tampered", f"{where}: {report.reason}")
    return 0


def _head_hash(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a head hash (64 lowercase hex digits, as in a receipt)")
    return text


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of entries")
    return int(text)


# --- ledger and budgets ---------------------------------------------------------
# Read-only commands show the ledger as it stands; commands that change it first
# record what dpsql.yaml declares, exactly as a starting server does.


@contextmanager
def _ledger(args: argparse.Namespace, *, seed: bool = False) -> Iterator[tuple[Config, Ledger]]:
    from accountant import Accounting, open_ledger

    from .trust import start_trusted

    config = load_config(args.config)
    ledger = open_ledger(config.ledger.url, Accounting(config.privacy.accounting))
    try:
        notary = None
        if seed:  # a change is written only to a ledger that verifies, as by the server
            notary = start_trusted(config, ledger)
            _seed(config, ledger)
        yield config, ledger
        if notary is not None:
            ledger.checkpoint(if_moved=True)  # the change is covered before the command ends
    finally:
        ledger.close()


def _seed(config: Config, ledger: Ledger) -> None:
    from .app import seed_ledger

    seed_ledger(config, ledger)


def _actor() -> str:
    return f"cli:{os.environ.get('USER') or getpass.getuser()}"


def _moment(text: str) -> dt.datetime:
    """--since/--until: an ISO date (midnight UTC) or date-time (naive means UTC)."""
    from .reports import parse_moment

    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _expiry(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return parse_expiry(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or date-time such as 2026-06-01 or "
            f"2026-06-01T12:00:00Z") from None


def _date_arg(text: str) -> str:
    if text == "never":
        return text
    try:
        _expiry(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date such as 2027-06-30 (the grant ends after that "
            f"day, UTC) or a date-time") from None
    return text


def _amount(text: str) -> str:
    """An ε or δ as written; kept as text so the ledger reads it exactly."""
    from accountant import to_fraction
    from accountant.errors import InvalidParameter as AccountantInvalid

    try:
        to_fraction(text)
    except AccountantInvalid as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return text


def _summary(config: Config, ledger: Ledger, analyst: str | None) -> list[dict[str, str]]:
    """One row per analyst (granted, spent, remaining, the share of its grant used, its
    share of the dataset-wide spend), then the dataset-wide budget; spent + remaining =
    granted, as in the API (:mod:`accountant.presentation`)."""
    now = dt.datetime.now(dt.UTC)
    roles = {r.name: r for r in ledger.analysts()}
    shares = {s.analyst: s.share for s in ledger.shares(now)}
    names = sorted(set(roles) | set(shares))
    rows = []
    for name in names:
        if analyst is not None and name != analyst:
            continue
        status = ledger.status(name, now)
        record = roles.get(name)
        if status.granted is None and name not in shares and analyst is None:
            continue  # owners and compliance hold no budget
        rows.append({
            "analyst": name,
            "role": (record.role + (" (disabled)" if record.disabled else "")) if record else "-",
            "granted": _pair(status.granted),
            "spent": _pair(status.spent),
            "remaining": _pair(status.remaining) + (" (expired)" if status.expired else ""),
            "used": _used(status.shown),
            "expires": status.expires.isoformat() if status.expires else "-",
            "share_of_dataset": f"{float(shares.get(name, 0)) * 100:.1f}%",
        })
    probe = ledger.status(names[0] if names else "", now)
    if analyst is None:
        rows.append({
            "analyst": "(dataset)", "role": "all analysts together",
            "granted": _pair(probe.dataset_granted) if probe.dataset_granted else "no limit",
            "spent": _pair(probe.dataset_spent) if probe.dataset_spent else "-",
            "remaining": _pair(probe.dataset_remaining) if probe.dataset_remaining else "-",
            "used": _used(probe.dataset_shown),
            "expires": "-", "share_of_dataset": "100.0%" if shares else "-",
        })
    return rows


def _used(shown: Shown | None) -> str:
    from accountant.presentation import share_text

    return "-" if shown is None else share_text(shown.share).replace(" %", "%")


def _pair(budget: Budget | None) -> str:
    if budget is None:
        return "no grant"
    return f"ε={float(budget.epsilon):.6g} δ={float(budget.delta):.6g}"


def _table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return ""
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
    lines = ["  ".join(k.ljust(w) for k, w in widths.items())]
    lines += ["  ".join(r[k].ljust(w) for k, w in widths.items()) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _ledger_export(args: argparse.Namespace) -> int:
    from accountant.ledger.records import ENTRY_KINDS

    from .reports import ENTRY_FIELDS, entry_record, unknown_analyst

    if _usage_choice("--kind", args.kind, ENTRY_KINDS):
        return 2
    with _ledger(args) as (config, ledger):
        if args.format == "summary":
            if args.since or args.until or args.kind:
                print("usage_error: --since/--until/--kind apply to csv and json; the summary "
                      "shows budgets as they stand", file=sys.stderr)
                return 2
            print(_table(_summary(config, ledger, args.analyst)))
            return 0
        if problem := unknown_analyst(ledger, args.analyst):
            return _fail("invalid_parameter", f"--analyst: {problem}")
        entries = [e for e in ledger.entries(args.analyst, args.since, args.until)
                   if args.kind is None or e.kind == args.kind]
    return _print_records([entry_record(e) for e in entries], ENTRY_FIELDS, args.format)


def _print_records(records: list[dict[str, Any]], fields: tuple[str, ...], form: str) -> int:
    from .reports import to_csv

    if form == "json":
        print(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(to_csv(records, fields))
    return 0


def _usage_choice(name: str, value: str | None, valid: tuple[str, ...]) -> bool:
    """Checked here, not by argparse, so `dpsql --help` need not import the accountant."""
    if value is None or value in valid:
        return False
    print(f"usage_error: {name}: {value!r} is not one of {', '.join(valid)}", file=sys.stderr)
    return True


def _ledger_attempts(args: argparse.Namespace) -> int:
    from accountant.ledger.attempts import OUTCOMES

    from .reports import ATTEMPT_FIELDS, attempt_record, unknown_analyst

    if _usage_choice("--outcome", args.outcome, OUTCOMES):
        return 2
    with _ledger(args) as (_, ledger):
        if problem := unknown_analyst(ledger, args.analyst):
            return _fail("invalid_parameter", f"--analyst: {problem}")
        found = ledger.attempts(args.analyst, args.since, args.until, args.outcome, args.code)
    return _print_records([attempt_record(a) for a in found], ATTEMPT_FIELDS, args.format)


def _ledger_receipt(args: argparse.Namespace) -> int:
    from .trust import notary_for

    with _ledger(args) as (config, ledger):
        notary = notary_for(config)
        if notary is None:
            return _fail("invalid_parameter", "no checkpoint signing key is configured "
                                              "(ledger.checkpoints.key_file or key_env)")
        ledger.use_notary(notary, 0)
        cp = ledger.checkpoint()
    assert cp is not None
    print(json.dumps({**cp.as_json(), "public_key": notary.public_key_hex}))
    print(f"keep this receipt outside dpsql; check the ledger against it with: dpsql ledger "
          f"verify --expect-entries {cp.entries} --expect-head {cp.head}", file=sys.stderr)
    return 0


def _analysts_add(args: argparse.Namespace) -> int:
    from accountant import Budget

    from .auth import hash_key, new_key
    from .grants import check_grant, check_name, expiry_of

    if args.role == "analyst" and args.epsilon is None:
        print("usage_error: an analyst needs a budget; give --epsilon (and --delta)",
              file=sys.stderr)
        return 2
    check_name(args.name)
    if args.epsilon is not None:  # the owner API's rules (proxy/grants.py)
        check_grant(args.role, expiry_of(args.expires), dt.datetime.now(dt.UTC))
    with _ledger(args, seed=True) as (_, ledger):
        if any(r.name == args.name for r in ledger.analysts()):
            return _fail("analyst_exists", f"an analyst named {args.name!r} exists; choose "
                                           f"another name (`dpsql analysts list` shows them)")
        budget = None if args.epsilon is None else Budget.of(args.epsilon, args.delta)
        key = new_key()
        if budget is not None:  # checked before the analyst exists, so a bad budget adds nobody
            from accountant.ledger.records import check_grantable

            check_grantable(ledger.accounting, budget)
        ledger.register_analyst(args.name, args.role, hash_key(key), actor=_actor(),
                                reason=args.reason)
        if budget is not None:
            ledger.set_grant(args.name, budget, expiry_of(args.expires), actor=_actor(),
                             reason=args.reason)
    print(key)
    print(f"created {args.role} {args.name!r}; the key above is shown once (only its SHA-256 "
          f"is stored): hand it over now", file=sys.stderr)
    return 0


def _analysts_list(args: argparse.Namespace) -> int:
    with _ledger(args) as (_, ledger):
        rows = [{"name": r.name, "role": r.role,
                 "status": "disabled" if r.disabled else "enabled",
                 "key_sha256": r.key_sha256[:16] + "…"} for r in ledger.analysts()]
    if rows:
        print(_table(rows))
    else:
        print("no analysts in the ledger yet (the server records dpsql.yaml's at start)",
              file=sys.stderr)
    return 0


def _analysts_budget(args: argparse.Namespace) -> int:
    from accountant import Budget

    from .grants import KEEP, check_grant, expiry_of, resolve_expiry

    now = dt.datetime.now(dt.UTC)
    with _ledger(args, seed=True) as (config, ledger):
        record = next((r for r in ledger.analysts() if r.name == args.name), None)
        if record is None:
            return _fail("not_found", f"no analyst named {args.name!r}; `dpsql analysts list` "
                                      f"shows them")
        # without --expires the grant keeps its expiry (a raise must not lift it)
        requested = KEEP if args.expires is None else expiry_of(args.expires)
        check_grant(record.role, requested, now)
        ledger.set_grant(args.name, Budget.of(args.epsilon, args.delta),
                         resolve_expiry(ledger, args.name, requested, now),
                         actor=_actor(), reason=args.reason)
        print(_table(_summary(config, ledger, args.name)))
    return 0


def _analysts_disable(args: argparse.Namespace) -> int:
    with _ledger(args, seed=True) as (_, ledger):
        ledger.set_analyst_disabled(args.name, args.disabled, actor=_actor(), reason=args.reason)
    state = "disabled: its key is refused" if args.disabled else "enabled"
    print(f"analyst {args.name!r} {state}", file=sys.stderr)
    return 0


def _budget_show(args: argparse.Namespace) -> int:
    with _ledger(args) as (config, ledger):
        print(_table(_summary(config, ledger, None)))
    return 0


def _budget_dataset(args: argparse.Namespace) -> int:
    from accountant import Budget

    with _ledger(args, seed=True) as (config, ledger):
        ledger.set_dataset_budget(Budget.of(args.epsilon, args.delta), actor=_actor(),
                                  reason=args.reason)
        print(_table(_summary(config, ledger, None)))
    return 0


def _tables_delete(args: argparse.Namespace) -> int:
    """Withdraw a table from the ledger's metadata (what DELETE /v1/admin/tables does),
    without a server: a table the database lost stops every start until it is gone."""
    with _ledger(args, seed=True) as (_, ledger):
        if args.name not in ledger.tables()[1]:
            return _fail("not_found", f"no table named {args.name!r} in the ledger's metadata")
        ledger.set_table(args.name, None, actor=_actor(), reason=args.reason,
                         note={"loosens": [], "tightens": ["table removed"],
                               "removed": ["table"]})
    print(f"table {args.name!r} withdrawn; analysts can no longer query it", file=sys.stderr)
    return 0


def _hash_key(_: argparse.Namespace) -> int:
    from .auth import hash_key, new_key

    key = new_key()
    print(f"key:             {key}", file=sys.stderr)
    print(hash_key(key))
    return 0


Subcommands = Any  # argparse's _SubParsersAction, which it does not export


def _group(sub: Subcommands, name: str, help: str) -> Subcommands:
    group = sub.add_parser(name, help=help)
    return group.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _action(group: Subcommands, name: str, help: str, run: Any,
            **defaults: Any) -> argparse.ArgumentParser:
    """A subcommand working on the deployment named by --config."""
    command: argparse.ArgumentParser = group.add_parser(name, help=help)
    _config_arg(command)
    command.set_defaults(run=run, **defaults)
    return command


def _grant_args(command: argparse.ArgumentParser, *, required: bool) -> None:
    command.add_argument("--epsilon", type=_amount, required=required)
    command.add_argument("--delta", type=_amount, default="0",
                         help="default 0 (zCDP accounting needs delta > 0)")
    command.add_argument("--expires", type=_date_arg,
                         help="last day of the grant (ISO date, UTC), an exact date-time, or "
                              "`never`; left out, a changed grant keeps its expiry")


def _config_arg(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", default=os.environ.get("DPSQL_CONFIG", "dpsql.yaml"),
                         help="path to dpsql.yaml (default: $DPSQL_CONFIG, else dpsql.yaml)")


def parser() -> argparse.ArgumentParser:
    from . import __version__

    top = argparse.ArgumentParser(
        prog="dpsql", description="Differentially private SQL proxy."
    )
    top.add_argument("--version", action="version", version=f"dpsql {__version__}")
    top.add_argument("--debug", action="store_true",
                     help="show tracebacks and library log lines (also DPSQL_DEBUG=1)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = _group(sub, "config", "check a deployment file")
    _action(config, "check", "validate dpsql.yaml and check its tables against the database "
                             "(changes nothing)", _config_check)

    serve = sub.add_parser("serve", help="serve the HTTP API for a deployment")
    _config_arg(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=_serve)

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
    demo.set_defaults(run=_demo)

    helper = sub.add_parser("suggest", help="propose caps and bounds for a table from DP "
                                            "quantiles (spends dataset budget)")
    _config_arg(helper)
    helper.add_argument("table")
    helper.add_argument("--epsilon", type=_amount, required=True,
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
    helper.set_defaults(run=_suggest)

    ledger = _group(sub, "ledger", "inspect the ledger")
    check = _action(ledger, "verify", "recompute the hash chain, totals, attempts log and "
                                      "checkpoints", _ledger_verify)
    check.add_argument("--expect-entries", type=_positive,
                       help="from a receipt: the ledger had at least this many entries")
    check.add_argument("--expect-head", type=_head_hash,
                       help="from a receipt: the head hash (with --expect-entries: of that entry)")
    export = _action(ledger, "export", "entries as csv/json, or a budget summary", _ledger_export)
    export.add_argument("--format", choices=("csv", "json", "summary"), default="json")
    export.add_argument("--analyst", help="only this analyst's entries")
    export.add_argument("--since", type=_moment, help="entries at or after (ISO date/time, UTC)")
    export.add_argument("--until", type=_moment, help="entries before (ISO date/time, UTC)")
    export.add_argument("--kind", help="only entries of this kind (grant, charge, ...)")
    tried = _action(ledger, "attempts", "every analyst request's outcome, as csv/json",
                    _ledger_attempts)
    tried.add_argument("--format", choices=("csv", "json"), default="json")
    tried.add_argument("--analyst", help="only this analyst's attempts")
    tried.add_argument("--since", type=_moment, help="attempts at or after (ISO date/time, UTC)")
    tried.add_argument("--until", type=_moment, help="attempts before (ISO date/time, UTC)")
    tried.add_argument("--outcome", help="only attempts with this outcome (refused, ...)")
    tried.add_argument("--code", help="only attempts refused with this error code")
    _action(ledger, "receipt", "sign where the ledger stands, to keep elsewhere",
            _ledger_receipt)

    analysts = _group(sub, "analysts", "manage analysts and their budgets")
    add = _action(analysts, "add", "create an analyst; prints its key once", _analysts_add)
    add.add_argument("name")
    add.add_argument("--role", choices=("analyst", "owner", "compliance"), required=True)
    _grant_args(add, required=False)
    add.add_argument("--reason", default="created with the CLI")
    _action(analysts, "list", "the analysts in the ledger", _analysts_list)
    grant = _action(analysts, "budget", "grant or raise an analyst's budget", _analysts_budget)
    grant.add_argument("name")
    _grant_args(grant, required=True)
    grant.add_argument("--reason", required=True, help="why; recorded in the ledger")
    for verb, disabled in (("disable", True), ("enable", False)):
        toggle = _action(analysts, verb, f"{verb} an analyst's key", _analysts_disable,
                         disabled=disabled)
        toggle.add_argument("name")
        toggle.add_argument("--reason", default=f"{verb}d with the CLI")

    tables = _group(sub, "tables", "table metadata in the ledger")
    withdraw = _action(tables, "delete", "withdraw a table (as DELETE /v1/admin/tables/NAME)",
                       _tables_delete)
    withdraw.add_argument("name")
    withdraw.add_argument("--reason", required=True, help="why; recorded in the ledger")

    budget = _group(sub, "budget", "the dataset-wide budget and analysts' shares")
    _action(budget, "show", "each analyst's share of the dataset budget", _budget_show)
    dataset = _action(budget, "dataset", "set the dataset-wide budget", _budget_dataset)
    dataset.add_argument("--epsilon", type=_amount, required=True)
    dataset.add_argument("--delta", type=_amount, required=True)
    dataset.add_argument("--reason", required=True, help="why; recorded in the ledger")

    keygen = sub.add_parser("keygen", help="make an API key; prints its SHA-256 for dpsql.yaml")
    keygen.set_defaults(run=_hash_key)
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
        from .startup import one_line

        return _fail(*one_line(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `dpsql ledger export | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # an operator sees one line; --debug shows the traceback
        if args.debug:
            raise
        if isinstance(exc, DpsqlError):
            return _fail(exc.code, exc.message or str(exc) or type(exc).__name__)
        return _fail("internal", str(exc) or type(exc).__name__)


if __name__ == "__main__":
    sys.exit(main())
