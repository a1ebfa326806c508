"""``python -m cli`` is the ``specbound`` command."""

from cli.main import entry

entry()
