"""Frozen entry point of ``clipdesk-cli`` (the same bundle, a console executable)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from clipdesk.cli import main

    sys.exit(main())
