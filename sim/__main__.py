"""``python -m sim`` is the ``specbound`` command, kept for the documented invocation.

The command line sits above ``sim`` in the layers; this entry point is the one
place allowed to reach up to it (the import-layer test exempts it), because
nothing imports ``sim.__main__``.
"""

from cli.main import entry

entry()
