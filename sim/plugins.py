"""Plugins: environments, policies, checks, metrics and spec folders from a user's own module.

A plugin is an ordinary Python module or package that registers what it
brings when it is imported (``@environment``, ``@policy``, ``@check``,
``@metric``, ``spec_folder``). It is loaded:

- by the ``specbound.plugins`` entry-point group (an installed package
  declares ``[project.entry-points."specbound.plugins"] name = "module"``);
- by ``--plugin MODULE`` on every command (a module name, or a path to a
  ``.py`` file or a package folder);
- by ``plugins = ["module"]`` at the top of a scenario file (names relative
  to the scenario's folder are found there).

Runs in worker processes import the same plugins first (``EngineTask``
carries them as absolute paths). What a plugin registers is what the
registries hold after its import and did not before, which is how
``specbound list --plugin M`` and ``specbound check M`` know it. A plugin
that fails to import, or whose classes break an interface or take a
built-in's name, is one line (:class:`PluginError`, exit 2).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from agents.checks import CHECKS
from agents.errors import SpecboundError
from agents.policies import POLICIES
from agents.spec import SPEC_FOLDERS
from scenarios.environment import ENVIRONMENTS
from scenarios.metric_registry import METRICS

GROUP = "specbound.plugins"


class PluginError(SpecboundError):
    """A plugin could not be loaded: import error, name clash, or a class that fails its interface."""


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A loaded plugin and the names it registered."""

    ref: str  # how it can be loaded again (an absolute path, or an importable module name)
    module: str
    environments: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    spec_folders: tuple[str, ...] = ()

    def registered(self) -> dict[str, tuple[str, ...]]:
        return {"environments": self.environments, "policies": self.policies, "checks": self.checks,
                "metrics": self.metrics, "spec_folders": self.spec_folders}


#: Plugins loaded in this process, by module name (importing twice would register twice).
_LOADED: dict[str, Plugin] = {}
_ENTRY_POINTS_DONE: list[bool] = []


def _snapshot() -> dict[str, set[str]]:
    return {"environments": set(ENVIRONMENTS), "policies": set(POLICIES), "checks": set(CHECKS),
            "metrics": set(METRICS), "spec_folders": {str(p) for p in SPEC_FOLDERS}}


def load_plugin(ref: str, where: str = "--plugin", base: Path | None = None) -> Plugin:
    """Import the plugin ``ref`` once (module name, ``.py`` file or package folder) and record what it adds.

    Args:
        ref: what the user wrote.
        where: where it was named, for the error line (``--plugin``, ``scenario.toml: plugins``...).
        base: folder that relative paths and top-level module names are looked up in first
            (a scenario's folder); the current folder otherwise.
    """
    _engine_first()  # built-ins first, so a clash is the plugin's

    if not isinstance(ref, str) or not ref.strip():
        raise PluginError(f"{where}: a plugin is a module name or a path, got {ref!r}")
    base = base or Path.cwd()
    path, name = _locate(ref, base)
    if name in _LOADED:
        return _LOADED[name]
    before = _snapshot()
    try:
        module = _import(name, path, base)
    except SpecboundError as e:
        _forget(name)
        raise PluginError(f"plugin {ref}: {e}") from None
    except ModuleNotFoundError as e:
        _forget(name)
        missing = e.name or ref
        hint = "" if missing != name else " (not installed, and no such file or folder here)"
        raise PluginError(f"{where} {ref}: no module named {missing!r}{hint}") from None
    except Exception as e:  # a plugin's own bug: still one line, naming it
        _forget(name)
        raise PluginError(f"{where} {ref}: import failed: {type(e).__name__}: {e}") from None
    after = _snapshot()
    added = {k: tuple(sorted(after[k] - before[k])) for k in after}
    file = getattr(module, "__file__", None)
    canonical = ref
    if file:
        f = Path(file).resolve()
        canonical = str(f.parent if f.name == "__init__.py" else f)
    plugin = Plugin(canonical, name, **added)
    _LOADED[name] = plugin
    return plugin


def _locate(ref: str, base: Path) -> tuple[Path | None, str]:
    """(file or package folder, module name) for a path; (None, name) for a module name."""
    looks_like_path = ref.endswith(".py") or "/" in ref or ref.startswith(".")
    for root in (base, Path.cwd()):
        p = (root / ref).resolve() if not Path(ref).is_absolute() else Path(ref)
        if p.is_file() and p.suffix == ".py":
            return p, p.stem
        if p.is_dir() and (p / "__init__.py").is_file():
            return p, p.name
        if looks_like_path:
            continue
        # A top-level module name may live beside the scenario (or in the current folder).
        first = ref.split(".")[0]
        if (root / f"{first}.py").is_file() or (root / first / "__init__.py").is_file():
            _add_path(root)
            return None, ref
    if looks_like_path:
        raise PluginError(f"--plugin {ref}: no such .py file or package folder")
    return None, ref


def _add_path(folder: Path) -> None:
    s = str(folder.resolve())
    if s not in sys.path:
        sys.path.insert(0, s)


def _import(name: str, path: Path | None, base: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    if path is None:
        return importlib.import_module(name)
    if path.is_dir():
        _add_path(path.parent)
        return importlib.import_module(name)
    _add_path(path.parent)  # a file plugin may import its neighbours
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"--plugin {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _forget(name: str) -> None:
    """Undo a failed import: its module, and whatever it registered before it failed."""
    sys.modules.pop(name, None)
    for reg in (ENVIRONMENTS, POLICIES, CHECKS):
        for key in [k for k, v in reg.items() if _module_of(v).split(".")[0] == name]:
            del reg[key]
    for key in [k for k, m in METRICS.items() if _module_of(m.step or m.final).split(".")[0] == name]:
        METRICS.remove(key)


def _module_of(entry: object) -> str:
    obj = getattr(entry, "fn", entry)
    return str(getattr(obj, "__module__", "") or "")


def load_plugins(refs: Iterable[str], where: str = "--plugin", base: Path | None = None) -> list[Plugin]:
    """Load several plugins (each once per process), in order."""
    return [load_plugin(r, where, base) for r in refs]


def _engine_first() -> None:
    """Import the engine, so its environments and metrics register before any plugin's.

    ``sim.metrics`` takes the metrics registered when it loads as the engine's own.
    """
    import scenarios  # noqa: F401
    import sim.metrics  # noqa: F401


def load_entry_points() -> list[Plugin]:
    """Load the installed packages' plugins (the ``specbound.plugins`` entry-point group), once."""
    _engine_first()
    if _ENTRY_POINTS_DONE:
        return [p for p in _LOADED.values()]
    _ENTRY_POINTS_DONE.append(True)
    out: list[Plugin] = []
    # Parsing every installed package's entry points costs ~25 ms a process (each command,
    # each sweep worker); a text search finds the usual case, where none declares the group.
    if not any(GROUP in (dist.read_text("entry_points.txt") or "")
               for dist in importlib.metadata.distributions()):
        return out
    for ep in importlib.metadata.entry_points(group=GROUP):
        out.append(load_plugin(ep.value.split(":")[0], f"entry point {ep.name!r} ({GROUP})"))
    return out


def loaded() -> tuple[str, ...]:
    """How to load, in another process, every plugin this one loaded (absolute paths or module names)."""
    return tuple(p.ref for p in _LOADED.values())
