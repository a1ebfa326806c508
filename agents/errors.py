"""The project's own error types.

Every problem with user input (a spec, a scenario, a CLI argument) is raised as
a :class:`SpecboundError` whose message is one line naming the file, key or
value and what is allowed. The CLI prints that line and exits 2; anything else
escaping is a bug.
"""

from __future__ import annotations


class SpecboundError(Exception):
    """Bad input. ``str(err)`` is the one line shown to the user."""


class SpecError(SpecboundError):
    """A spec file or spec reference is invalid."""


class ScenarioError(SpecboundError):
    """A scenario file, override or reference is invalid."""


class RunFailure(Exception):
    """A run with valid input could not do its work (say, every language-model call failed).

    Not bad input: the CLI exits 1 with one line, and a sweep stores the run as failed.
    """


class InterfaceError(SpecboundError):
    """A class or function registered as an environment, policy, check or metric breaks its interface,
    or takes a name another module registered (raised when it is defined or registered)."""
