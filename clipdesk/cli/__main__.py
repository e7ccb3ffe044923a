"""``python -m clipdesk.cli``: the same as the ``clipdesk-cli`` command."""

from clipdesk.cli import main

if __name__ == "__main__":  # importing the module (e.g. to check its imports) runs nothing
    raise SystemExit(main())
