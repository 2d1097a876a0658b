"""`dpsql ledger verify | export | attempts | receipt`: reading the ledger (the
records and CSV are :mod:`proxy.reports`, shared with the compliance routes)."""

from __future__ import annotations

import argparse
import json
import sys

from .common import budget_summary, deployment_ledger, fail, print_records, text_table, usage_choice


def run_ledger_verify(args: argparse.Namespace) -> int:
    from ..reports import verify_record
    from ..trust import notary_for, unchecked

    with deployment_ledger(args) as (config, ledger):
        notary = notary_for(config)  # never created here: a verifier that finds none says so
        unchecked(config, ledger, notary)
        report = ledger.verify(notary, expect_entries=args.expect_entries,
                               expect_head=args.expect_head)
    print(json.dumps(verify_record(report)))
    if not report.ok:
        where = f"entry {report.first_bad}" if report.first_bad else "ledger"
        return fail("ledger_tampered", f"{where}: {report.reason}")
    return 0


def run_ledger_export(args: argparse.Namespace) -> int:
    from accountant.ledger.records import ENTRY_KINDS

    from ..reports import ENTRY_FIELDS, entry_record, unknown_analyst

    if usage_choice("--kind", args.kind, ENTRY_KINDS):
        return 2
    with deployment_ledger(args) as (config, ledger):
        if args.format == "summary":
            if args.since or args.until or args.kind:
                print("usage_error: --since/--until/--kind apply to csv and json; the summary "
                      "shows budgets as they stand", file=sys.stderr)
                return 2
            print(text_table(budget_summary(config, ledger, args.analyst)))
            return 0
        if problem := unknown_analyst(ledger, args.analyst):
            return fail("invalid_parameter", f"--analyst: {problem}")
        entries = [e for e in ledger.entries(args.analyst, args.since, args.until)
                   if args.kind is None or e.kind == args.kind]
    return print_records([entry_record(e) for e in entries], ENTRY_FIELDS, args.format)


def run_ledger_attempts(args: argparse.Namespace) -> int:
    from accountant.ledger.attempts import OUTCOMES

    from ..reports import ATTEMPT_FIELDS, attempt_record, unknown_analyst

    if usage_choice("--outcome", args.outcome, OUTCOMES):
        return 2
    with deployment_ledger(args) as (_, ledger):
        if problem := unknown_analyst(ledger, args.analyst):
            return fail("invalid_parameter", f"--analyst: {problem}")
        found = ledger.attempts(args.analyst, args.since, args.until, args.outcome, args.code)
    return print_records([attempt_record(a) for a in found], ATTEMPT_FIELDS, args.format)


def run_ledger_receipt(args: argparse.Namespace) -> int:
    from ..reports import verify_command
    from ..trust import notary_for

    with deployment_ledger(args) as (config, ledger):
        notary = notary_for(config)
        if notary is None:
            return fail("invalid_parameter", "no checkpoint signing key is configured "
                                             "(ledger.checkpoints.key_file or key_env)")
        ledger.use_notary(notary, 0)
        cp = ledger.checkpoint()
    assert cp is not None
    print(json.dumps({**cp.as_json(), "public_key": notary.public_key_hex}))
    print("keep this receipt outside dpsql; check the ledger against it with: "
          + verify_command(cp.entries, cp.head), file=sys.stderr)
    return 0
