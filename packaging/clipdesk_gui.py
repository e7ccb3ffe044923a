"""Frozen entry point of the desktop app (PyInstaller runs this as the ``clipdesk`` executable)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Training data loaders may start worker processes; in a frozen app they re-enter here.
    multiprocessing.freeze_support()
    from clipdesk.app import main

    sys.exit(main())
