"""``python -m sim`` is the ``specbound`` command."""

from sim.cli import main

raise SystemExit(main())
