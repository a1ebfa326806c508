"""The ``specbound`` command line, the top layer: it may import every other package."""
