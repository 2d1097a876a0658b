"""`dpsql serve`, `config check`, `demo`, `suggest` and `keygen`: the commands that
start or prepare a deployment."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..config import load_config
from .common import cli_actor, fail


def run_serve(args: argparse.Namespace) -> int:
    """Start-up runs before uvicorn, so every failure is one `code: message` line
    (proxy/startup.py); then the server says where it listens."""
    import uvicorn

    from .. import __version__
    from ..app import create_app
    from ..startup import listen, loud, prepare, quiet_start_up

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


def run_config_check(args: argparse.Namespace) -> int:
    """Validate dpsql.yaml and check its tables against the database; changes nothing."""
    from ..startup import check_deployment, quiet_start_up

    if not args.debug:
        quiet_start_up()
    config = load_config(args.config)
    for line in check_deployment(config):
        print(line, file=sys.stderr)
    print(f"ok: {args.config}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from ..demo import build_demo_database, write_demo_config

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.duckdb"
    if not database.exists():
        print(f"building demo data ({args.people} people) in {database} …", file=sys.stderr)
        build_demo_database(database, people=args.people)
    dsn = None
    if args.engine == "postgres":
        from ..pgload import install_demo

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
        from ..demo import retarget_demo_config

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
    return run_serve(args)


def run_suggest(args: argparse.Namespace) -> int:
    """The bounds and caps assistant (proxy/suggest.py) on one table; with --apply the
    proposal becomes the table's metadata in the ledger, as PATCH would make it."""
    import yaml

    from ..startup import prepare, quiet_start_up
    from ..suggest import suggest

    if not args.debug:
        quiet_start_up()
    services = prepare(load_config(args.config))
    try:
        table = services.tables.catalog.tables.get(args.table)
        if table is None:
            return fail("not_found", f"no table named {args.table!r} in the metadata")
        result = suggest(args.table, table, engine=services.engine, ledger=services.ledger,
                         pipeline=services.pipeline, owner=cli_actor(), epsilon=args.epsilon,
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
            change = services.tables.patch(args.table, result.patch, actor=cli_actor(),
                                           reason=f"{args.reason} (applied)")
            print(f"applied to the ledger's metadata; loosens: {change.loosens or 'nothing'}; "
                  f"tightens: {change.tightens or 'nothing'}", file=sys.stderr)
        else:
            print("\nnot applied: run again with --apply, PATCH /v1/admin/tables/"
                  f"{args.table} with this patch, or edit dpsql.yaml", file=sys.stderr)
    finally:
        services.close()
    return 0


def run_keygen(_: argparse.Namespace) -> int:
    from ..auth import hash_key, new_key

    key = new_key()
    print(f"key:             {key}", file=sys.stderr)
    print(hash_key(key))
    return 0
