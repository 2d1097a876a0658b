"""`python -m proxy.cli`, as the `dpsql` command."""

import sys

from .main import main

sys.exit(main())
