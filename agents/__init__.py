"""Agents, specs and the chain of command: the bottom layer, imported before any other.

Importing this package first pins numpy's CPU dispatch (:mod:`agents.cpu_pin`), so
that a run gives the same floats on every x86 machine; every other package of
specbound imports it before anything that loads numpy.
"""

from agents import cpu_pin as _cpu_pin

_cpu_pin.pin()
