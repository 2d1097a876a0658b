"""The `dpsql` command: a thin layer over the library.

Exit codes: 0 success, 1 refused or failed, 2 usage. Data goes to stdout;
messages and errors (as `code: message`) go to stderr.

    main.py     the parser and the entry point (`dpsql = "proxy.cli:main"`)
    server.py   serve, config check, demo, suggest, keygen
    ledger.py   ledger verify | export | attempts | receipt
    owner.py    analysts …, budget …, tables delete
    common.py   what the commands share
"""

from .main import main, parser

__all__ = ["main", "parser"]
