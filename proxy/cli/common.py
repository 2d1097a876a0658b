"""What every `dpsql` command shares: the one-line failure, the deployment's ledger,
argument types, the budget summary table, and the helpers that declare subcommands.

Read-only commands show the ledger as it stands; commands that change it first
record what dpsql.yaml declares, exactly as a starting server does
(:func:`deployment_ledger` with ``seed=True``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..config import Config, load_config, parse_expiry

if TYPE_CHECKING:
    from accountant import Budget, Ledger
    from accountant.presentation import Shown


def fail(code: str, message: str) -> int:
    print(f"{code}: {message}", file=sys.stderr)
    return 1


@contextmanager
def deployment_ledger(args: argparse.Namespace, *,
                      seed: bool = False) -> Iterator[tuple[Config, Ledger]]:
    from accountant import Accounting, open_ledger

    from ..trust import start_trusted

    config = load_config(args.config)
    ledger = open_ledger(config.ledger.url, Accounting(config.privacy.accounting))
    try:
        notary = None
        if seed:  # a change is written only to a ledger that verifies, as by the server
            notary = start_trusted(config, ledger)
            seed_from_config(config, ledger)
        yield config, ledger
        if notary is not None:
            ledger.checkpoint(if_moved=True)  # the change is covered before the command ends
    finally:
        ledger.close()


def seed_from_config(config: Config, ledger: Ledger) -> None:
    from ..app import seed_ledger

    seed_ledger(config, ledger)


def cli_actor() -> str:
    return f"cli:{os.environ.get('USER') or getpass.getuser()}"


def moment_arg(text: str) -> dt.datetime:
    """--since/--until: an ISO date (midnight UTC) or date-time (naive means UTC)."""
    from ..reports import parse_moment

    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_expiry_arg(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return parse_expiry(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or date-time such as 2026-06-01 or "
            f"2026-06-01T12:00:00Z") from None


def date_arg(text: str) -> str:
    if text == "never":
        return text
    try:
        parse_expiry_arg(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date such as 2027-06-30 (the grant ends after that "
            f"day, UTC) or a date-time") from None
    return text


def amount_arg(text: str) -> str:
    """An ε or δ as written; kept as text so the ledger reads it exactly."""
    from accountant import to_fraction
    from accountant.errors import InvalidParameter as AccountantInvalid

    try:
        to_fraction(text)
    except AccountantInvalid as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return text


def positive_arg(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of entries")
    return int(text)


def head_hash_arg(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a head hash (64 lowercase hex digits, as in a receipt)")
    return text


def print_records(records: list[dict[str, Any]], fields: tuple[str, ...], form: str) -> int:
    from ..reports import to_csv

    if form == "json":
        print(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(to_csv(records, fields))
    return 0


def usage_choice(name: str, value: str | None, valid: tuple[str, ...]) -> bool:
    """Checked here, not by argparse, so `dpsql --help` need not import the accountant."""
    if value is None or value in valid:
        return False
    print(f"usage_error: {name}: {value!r} is not one of {', '.join(valid)}", file=sys.stderr)
    return True


def budget_summary(config: Config, ledger: Ledger, analyst: str | None) -> list[dict[str, str]]:
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
            "granted": pair_text(status.granted),
            "spent": pair_text(status.spent),
            "remaining": pair_text(status.remaining) + (" (expired)" if status.expired else ""),
            "used": used_text(status.shown),
            "expires": status.expires.isoformat() if status.expires else "-",
            "share_of_dataset": f"{float(shares.get(name, 0)) * 100:.1f}%",
        })
    probe = ledger.status(names[0] if names else "", now)
    if analyst is None:
        rows.append({
            "analyst": "(dataset)", "role": "all analysts together",
            "granted": pair_text(probe.dataset_granted) if probe.dataset_granted else "no limit",
            "spent": pair_text(probe.dataset_spent) if probe.dataset_spent else "-",
            "remaining": pair_text(probe.dataset_remaining) if probe.dataset_remaining else "-",
            "used": used_text(probe.dataset_shown),
            "expires": "-", "share_of_dataset": "100.0%" if shares else "-",
        })
    return rows


def used_text(shown: Shown | None) -> str:
    from accountant.presentation import share_text

    return "-" if shown is None else share_text(shown.share).replace(" %", "%")


def pair_text(budget: Budget | None) -> str:
    if budget is None:
        return "no grant"
    return f"ε={float(budget.epsilon):.6g} δ={float(budget.delta):.6g}"


def text_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return ""
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
    lines = ["  ".join(k.ljust(w) for k, w in widths.items())]
    lines += ["  ".join(r[k].ljust(w) for k, w in widths.items()) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


Subcommands = Any  # argparse's _SubParsersAction, which it does not export


def add_group(sub: Subcommands, name: str, help: str) -> Subcommands:
    group = sub.add_parser(name, help=help)
    return group.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def add_action(group: Subcommands, name: str, help: str, run: Any,
               **defaults: Any) -> argparse.ArgumentParser:
    """A subcommand working on the deployment named by --config."""
    command: argparse.ArgumentParser = group.add_parser(name, help=help)
    add_config_arg(command)
    command.set_defaults(run=run, **defaults)
    return command


def add_grant_args(command: argparse.ArgumentParser, *, required: bool) -> None:
    command.add_argument("--epsilon", type=amount_arg, required=required)
    command.add_argument("--delta", type=amount_arg, default="0",
                         help="default 0 (zCDP accounting needs delta > 0)")
    command.add_argument("--expires", type=date_arg,
                         help="last day of the grant (ISO date, UTC), an exact date-time, or "
                              "`never`; left out, a changed grant keeps its expiry")


def add_config_arg(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", default=os.environ.get("DPSQL_CONFIG", "dpsql.yaml"),
                         help="path to dpsql.yaml (default: $DPSQL_CONFIG, else dpsql.yaml)")
