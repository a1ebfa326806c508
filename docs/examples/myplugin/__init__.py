"""An example plugin: one environment, policy, check and metric, and a spec folder.

Load it with ``specbound --plugin docs/examples/myplugin ...`` (or by name,
with its parent folder on the path); ``docs/extending.md`` walks through it.
"""

from myplugin import check, environment, metric, policy, specs  # noqa: F401  (registration)
