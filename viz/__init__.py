"""The live dashboard: ``specbound viz SCENARIO`` serves a Mesa SolaraViz page.

A layer of its own, above ``sim`` and ``analysis`` and below ``cli``, imported
only by the ``viz`` command (``cli/viz.py``), so batch runs never load Solara
or its web stack.

- :mod:`viz.live`: :class:`~viz.live.LiveModel`, the batch model (same step
  code) plus what a page needs between steps: per-step conflicts by level,
  the recent conflict ledger, a spec patch applied now, Mesa's
  ``datacollector`` view of the time series.
- :mod:`viz.controls`: the page's parameters (spec per group, the scenario's
  ``[sweep]`` paths, seed) as Mesa ``model_params``.
- :mod:`viz.network`: the trust network drawn on a layout computed once.
- :mod:`viz.app`: the Solara components and the page.
- :mod:`viz.server`: starting the page's server on 127.0.0.1, offline.
"""

import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)
