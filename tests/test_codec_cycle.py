"""An observation codec is freed by reference counting: no cycle for the collector.

Its decode cache was an lru_cache over its own bound method, so every codec (and the
environment and model holding it) lived until a garbage collection.
"""

from __future__ import annotations

import gc
import weakref
from collections import namedtuple

from scenarios.environment import ObsCodec

Obs = namedtuple("Obs", "a b")


def test_a_used_codec_is_freed_without_the_collector() -> None:
    codec = ObsCodec(Obs, (3, 4))
    assert codec.decode(7) == Obs(1, 3) and codec.decode(7) is codec.decode(7)
    ref = weakref.ref(codec)
    gc.disable()
    try:
        del codec
        assert ref() is None
    finally:
        gc.enable()
