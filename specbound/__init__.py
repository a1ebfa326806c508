"""specbound's bridges to other ecosystems, above the simulator like the command line.

``specbound.pettingzoo`` (extra ``specbound[pettingzoo]``) wraps any scenario
as a PettingZoo parallel environment. Nothing is imported here, so importing
``specbound`` costs nothing and needs no optional dependency.
"""

import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)
