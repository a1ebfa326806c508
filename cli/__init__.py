"""The ``specbound`` command line, the top layer: it may import every other package."""

import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)
