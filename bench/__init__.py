import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)
