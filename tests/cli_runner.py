"""Run the `dpsql` CLI in this process, as a shell would see it: exit code, stdout,
stderr. In-process runs cost milliseconds where a subprocess costs a second of
interpreter start-up and imports; the few tests that need a real process (signals,
kill -9, the installed entry point) start one themselves."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from unittest import mock

from proxy.cli import main


@dataclass(frozen=True)
class Completed:
    """The parts of `subprocess.CompletedProcess` the tests read."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> Completed:
    """`dpsql ARGS` with `env` laid over the environment for the call's duration."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, dict(env or {})), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
    return Completed(code, out.getvalue(), err.getvalue())
