"""Scenarios: loading, strict validation and dotted-path overrides.

A scenario is a TOML file naming an environment and its parameters, a
network, groups of agents (count, policy, spec, principals' instructions), a
number of steps, a script of timed or triggered events and, optionally, its
own sweep. Every key is validated; a typo is an error that names the key and
what is allowed, never silently ignored.

Overrides (``--set``, sweep grids) address any key by dotted path
(``steps``, ``groups.buyers.count``, ``environment.detect_prob``) and any
principle of any spec (``specs.honest-first.principles.do_not_lie.level``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import agents.llm  # noqa: F401  (registers the llm policy)
from agents import inputs
from agents.errors import ScenarioError, SpecboundError
from agents.policies import POLICIES, make_policy
from agents.spec import SPEC_FOLDERS, SpecLibrary, parse_layer, shipped_specs_dir
from scenarios.environment import ENVIRONMENTS, get_environment, parse_params
from scenarios.metric_registry import METRICS
from sim import limits
from sim.capacity import check_population
from sim.events import EVENT_TYPES, LoadContext
from sim.evolution import EvolutionConfig, parse_evolution
from sim.instructions import validate_instruction
from sim.lattice import NEIGHBOURHOODS, lattice_side
from sim.load_memo import BY_ID, LOADED, frozen, remembered
from sim.population import typical_params
from sim.tables import check_keys, unit_interval
from sim.triggers import Trigger, parse_trigger, share_metrics

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"

SCENARIO_KEYS = {
    "id": str, "environment": str, "steps": int, "description": str, "question": str,
    "spec_dirs": list,
}
NETWORK_KINDS = ("complete", "random_regular", "watts_strogatz", "erdos_renyi",
                 "barabasi_albert", "edgelist", "lattice", "none")
NETWORK_KEYS = {"kind": str, "degree": int, "p": float, "path": str, "self_play": bool,
                "rewire": dict, "shuffle": bool}
REWIRE_KEYS = {"below": float, "every": int}
GROUP_KEYS = {
    "count": int, "policy": str, "spec": str, "focal": bool, "deliberation": float,
    "error_rate": float, "params": dict, "mode": str, "llm": dict, "instructions": list,
}
EVENT_COMMON = {"at": int, "when": dict, "to": str, "type": str, "once": bool}
SWEEP_KEYS = {"grid": dict, "zip": dict, "runs": int, "seed": int, "ledger": str}
#: The most steps a run may have (sim.limits): refused wherever the number comes from.
MAX_STEPS = limits.MAX_STEPS
#: Agents one group or join may add (sim.limits): the memory estimate (sim.capacity) is the real limit.
MAX_AGENTS = limits.MAX_AGENTS


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    count: int
    policy: str
    spec: str
    params: tuple[tuple[str, Any], ...] = ()
    focal: bool = True
    deliberation: float = 1.0
    error_rate: float = 0.0
    mode: str = "audit"
    llm: tuple[tuple[str, Any], ...] = ()
    instructions: tuple[tuple[tuple[str, Any], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class ScriptEvent:
    index: int
    type: str
    at: int | None
    when: Trigger | None  # fires on a metric threshold (sim/triggers.py) instead of at a step
    to: str | None
    data: tuple[tuple[str, Any], ...]
    once: bool = True

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated scenario with its spec library (overrides applied)."""

    id: str
    environment: str
    steps: int
    env_params: Any
    network: dict[str, Any]
    groups: tuple[Group, ...]
    events: tuple[ScriptEvent, ...]
    library: SpecLibrary
    raw: dict[str, Any]
    text: str
    overrides: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    description: str = ""
    question: str = ""
    sweep: dict[str, Any] | None = None
    evolution: EvolutionConfig | None = None

    @property
    def spec_texts(self) -> dict[str, str]:
        """TOML text of every spec layer the groups use, for provenance and reruns."""
        out: dict[str, str] = {}
        for g in self.groups:
            spec = self.library.get(g.spec)
            for layer in spec.layers:
                out[layer] = self.library.text(layer)
        return dict(sorted(out.items()))


# --- parsing, cached ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedToml:
    """One TOML text and what ``tomllib`` made of it (``data`` is None when it is not TOML).

    Held by the caches below and shared between loads, so ``data`` is never handed
    out as it is: a load works on its own :func:`copy_tree` of it.
    """

    text: str
    data: dict[str, Any] | None
    error: str = ""


@functools.lru_cache(maxsize=64)
def _parse_cached(text: str) -> ParsedToml:
    # Keyed on the text itself: sweep workers, reruns and run_model(Scenario, set=...)
    # rebuild the same scenario text many times; tomllib is ~0.5 ms per scenario file.
    try:
        return ParsedToml(text, inputs.loads(text, ""))  # depth, 64-bit ints, finite floats
    except SpecboundError as e:
        return ParsedToml(text, None, str(e))


@functools.lru_cache(maxsize=128)
def _file_cached(path: str, device: int, inode: int, mtime_ns: int, size: int) -> ParsedToml:
    # The key holds the file's identity, modification time and size, so an edited or
    # replaced file is read again; the unused arguments are there for the key only.
    del device, inode, mtime_ns, size
    return _parse_cached(Path(path).read_text())


def _parsed_file(path: Path) -> ParsedToml:
    """The cached parse of ``path``; raises OSError or UnicodeDecodeError if unreadable."""
    st = path.stat()
    try:
        # Keyed on the absolute path and the file's (device, inode) rather than the resolved
        # path: resolving walks every component (~10 lstat calls), a tenth of a warm load.
        return _file_cached(os.path.abspath(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError as e:
        e.filename = str(path)  # the error names the file as the user gave it, not resolved
        raise


def copy_tree(value: Any) -> Any:
    """A deep copy of TOML data (tables and arrays; the scalars are immutable).

    Measured on ipd-classic: 26 us, against 69 us for copy.deepcopy and 84 us to
    freeze into read-only views and thaw them back (the validators need dicts).
    """
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


# --- discovery ----------------------------------------------------------------------------


def _declared_id(path: Path) -> str:
    """The ``scenario.id`` a shipped file declares (its file name when it declares none)."""
    try:
        data = _parsed_file(path).data
    except (OSError, UnicodeDecodeError):
        return path.stem
    head = data.get("scenario") if data is not None else None
    return str(head.get("id", path.stem)) if isinstance(head, dict) else path.stem


def shipped() -> dict[str, Path]:
    """Shipped scenario ids and their files."""
    return {_declared_id(p): p for p in sorted(SCENARIO_DIR.glob("*.toml"))}


def scenario_ids() -> list[str]:
    return sorted(shipped())


def resolve_ref(ref: str | Path) -> Path:
    p = Path(ref)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise ScenarioError(f"{ref}: no such scenario file")
        return p
    # Shipped files are named after their ids: look there first, and scan (parse)
    # every shipped file only when the name does not match.
    direct = SCENARIO_DIR / f"{ref}.toml"
    if p.name == str(ref) and direct.is_file() and _declared_id(direct) == str(ref):
        return direct
    known = shipped()
    if str(ref) not in known:
        raise ScenarioError(f"unknown scenario {str(ref)!r}; available: {', '.join(sorted(known))}")
    return known[str(ref)]


def load_scenario(ref: str | Path, overrides: dict[str, Any] | None = None, *,
                  strict_specs: bool = True) -> Scenario:
    """Load a shipped scenario by id, or a scenario file, applying dotted overrides.

    ``strict_specs``: refuse an override of a spec no group uses (see :func:`load_scenario_text`).
    """
    by_id = _by_id_key(ref, overrides, strict_specs)
    if by_id is not None:
        found = BY_ID.find(by_id, _registries)
        if found is not None and LOADED.holds(*found):  # a BY_ID entry copies one of LOADED's
            return found[1]
    path = resolve_ref(ref)
    try:
        parsed = _parsed_file(path)
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(f"{path}: cannot read: {e}") from None
    key = _memo_key(parsed, path, overrides, strict_specs)
    scenario = remembered(key, _registries,
                          lambda: _load(parsed, None, overrides, str(path), strict_specs), _files_of)
    if by_id is not None and key is not None and path == SCENARIO_DIR / f"{ref}.toml":
        BY_ID.put(by_id, _registries(), (key, scenario), _files_of(scenario))
    return scenario


def _by_id_key(ref: str | Path, overrides: dict[str, Any] | None, strict_specs: bool) -> Hashable | None:
    """The key of a shipped scenario named by its id in ``BY_ID``; None for any other reference.

    Why: resolving an id (is it a file here? the shipped file of that name, the id it declares)
    and stamping the file for the parse cache and the load memo were seven ``stat`` calls and a
    dozen path objects, a tenth of a 12-strategy round robin's ``sim.run``. An id that
    ``resolve_ref`` found as the shipped file of its name resolves there again while no file of
    that name appears in the working directory (checked on every call) and the shipped file is
    the same (its stamp, checked with the spec files' by ``BY_ID``). An entry also needs the
    load memo's entry it copies (a cleared memo clears this one).
    """
    if type(ref) is not str or os.sep in ref or ref.endswith(".toml") or os.path.exists(ref):
        return None
    given = frozen(dict(overrides or {}))
    return None if given is None else (ref, str(SCENARIO_DIR), given, strict_specs)


def _memo_key(parsed: ParsedToml, path: Path, overrides: dict[str, Any] | None,
              strict_specs: bool) -> Hashable | None:
    """What a file load depends on besides the files' stamps (``sim.load_memo``); None: not remembered."""
    data = parsed.data
    if not data or data.get("plugins") or not isinstance(data.get("scenario"), dict) \
            or data["scenario"].get("spec_dirs"):
        return None  # plugins and spec folders of its own: loading has effects beyond the value
    given = frozen(dict(overrides or {}))
    return None if given is None else (str(path), id(parsed), given, strict_specs)


def _registries() -> Hashable:
    """The sizes of the registries a load consults, and the spec folders plugins added."""
    from agents.checks import CHECKS

    return (len(ENVIRONMENTS), len(POLICIES), len(CHECKS), len(METRICS), len(EVENT_TYPES),
            tuple(SPEC_FOLDERS))


def _files_of(scenario: Scenario) -> tuple[str, ...]:
    """The files a loaded scenario was built from: its own, its spec layers', the spec folders."""
    layers = [scenario.library.source(sid) for sid in used_specs(scenario)]
    folders = [str(p) for p in (shipped_specs_dir(), *SPEC_FOLDERS)]
    return (scenario.source, *layers, *folders)


def load_scenario_text(
    text: str,
    spec_texts: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    source: str = "<scenario>",
    *,
    strict_specs: bool = False,
) -> Scenario:
    """Load a scenario from its TOML text; ``spec_texts`` (id -> TOML) pin the spec library.

    ``strict_specs``: refuse an override (``specs.<id>....``) of a spec that no group
    uses, directly or as a layer it extends: it would change nothing. Off here because
    a sweep point may patch a spec that only other points use (a grid switching
    ``groups.X.spec`` and a zip patching one of the choices); a sweep checks across
    its points instead.
    """
    parsed = _parse_cached(text)
    return remembered(_text_memo_key(parsed, spec_texts, overrides, source, strict_specs), _registries,
                      lambda: _load(parsed, spec_texts, overrides, source, strict_specs), lambda _: ())


def _text_memo_key(parsed: ParsedToml, spec_texts: dict[str, str] | None, overrides: dict[str, Any] | None,
                   source: str, strict_specs: bool) -> Hashable | None:
    """A text load with pinned spec texts reads no file: each run of a sweep loads the same text,
    specs and point again (~1 ms). None (not remembered) without pinned specs or with plugins."""
    data = parsed.data
    if spec_texts is None or not data or data.get("plugins"):
        return None
    given, pinned = frozen(dict(overrides or {})), frozen(dict(spec_texts))
    if given is None or pinned is None:
        return None
    return ("<text>", parsed.text, pinned, given, source, strict_specs)


def _load(parsed: ParsedToml, spec_texts: dict[str, str] | None, overrides: dict[str, Any] | None,
          source: str, strict_specs: bool) -> Scenario:
    if parsed.data is None:
        raise ScenarioError(f"{source}: {parsed.error}")
    if not parsed.data:
        raise ScenarioError(f"{source}: empty scenario; it needs at least [scenario] and [groups.NAME]")
    raw = copy_tree(parsed.data)  # the scenario keeps it and overrides edit it: not the cache's
    text = parsed.text
    base_dir = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    _load_plugins(raw.get("plugins", []), base_dir, source)
    library = _library(raw, spec_texts, base_dir, source)
    overrides = dict(overrides or {})
    if not overrides:
        return _build(raw, library, text, source, {}, base_dir)
    # The file is validated once, with its overrides applied together: lowering two counts
    # and a degree is one valid change though each alone may not be, and a value the file
    # gets wrong may be one the override corrects. A problem in the result names its key.
    for path, value in overrides.items():
        try:
            inputs.check_tree(value, "")
            library = _apply(raw, library, path, value)
        except SpecboundError as e:
            raise ScenarioError(f"{path}: {e}") from None
    try:
        scenario = _build(raw, library, text, source, overrides, base_dir)
    except SpecboundError as e:
        given = ", ".join(overrides)
        raise ScenarioError(f"{e} (with overrides {given})") from None
    if strict_specs:
        check_spec_paths(overrides, used_specs(scenario))
    return scenario


def _load_plugins(refs: Any, base_dir: Path, source: str) -> None:
    """The scenario's ``plugins = [...]``: imported before its environment and specs are looked up."""
    if not refs:
        return
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise ScenarioError(f"{source}: plugins: expected a list of module names or paths, got {refs!r}")
    from sim.plugins import load_plugins

    load_plugins(refs, f"{source}: plugins:", base_dir)


def used_specs(scenario: Scenario) -> tuple[str, ...]:
    """Every spec layer the scenario's groups use (their specs and what those extend), sorted."""
    return tuple(sorted({layer for g in scenario.groups for layer in scenario.library.get(g.spec).layers}))


def spec_of_path(path: str) -> str | None:
    """The spec id a dotted override path patches (``specs.<id>.<key>``), or None."""
    parts = path.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "specs" else None


def check_spec_paths(paths: Iterable[str], used: Iterable[str], context: str = "") -> None:
    """Refuse a spec override of a spec outside ``used``: it would silently change nothing.

    ``context`` qualifies "does not use" (e.g. " at any grid point").
    """
    used = tuple(used)
    for path in paths:
        sid = spec_of_path(path)
        if sid is not None and sid not in used:
            raise ScenarioError(f"{path}: the scenario does not use spec {sid!r}{context}, so this "
                                f"override would change nothing; its groups use: {', '.join(used) or 'none'}")


def check_steps(steps: Any, where: str) -> int:
    """``steps`` as a run length in 1..MAX_STEPS; ScenarioError naming ``where`` otherwise."""
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise ScenarioError(f"{where}: expected an integer number of steps, got {steps!r}")
    if steps < 1:
        raise ScenarioError(f"{where} must be at least 1, got {steps}")
    if steps > MAX_STEPS:
        raise ScenarioError(f"{where} must be at most {MAX_STEPS:,}, got {steps:,}")
    return steps


def _library(raw: dict, spec_texts: dict[str, str] | None, base_dir: Path, source: str) -> SpecLibrary:
    if spec_texts is not None:
        return library_from_texts(spec_texts)
    extra = []
    head = raw.get("scenario", {})
    dirs = head.get("spec_dirs", []) if isinstance(head, dict) else []  # shapes: checked by _build
    for d in dirs if isinstance(dirs, list) else []:
        p = (base_dir / str(d)).resolve()
        if not p.exists():
            raise ScenarioError(f"{source}: scenario.spec_dirs: {d!r} does not exist")
        extra.append(p)
    return SpecLibrary(extra) if extra else SpecLibrary()


def library_from_texts(texts: dict[str, str]) -> SpecLibrary:
    """A library holding exactly these spec layers (id -> TOML), as stored with a run."""
    layers = {sid: parse_layer(t, f"<stored spec {sid}>") for sid, t in texts.items()}
    lib = SpecLibrary(shipped=False)
    done: set[str] = set()

    def add(sid: str) -> None:
        if sid in done:
            return
        done.add(sid)
        for base in layers[sid].extends:
            if base in layers:
                add(base)
        lib.load_text(texts[sid], f"<stored spec {sid}>")

    for sid in sorted(layers):
        add(sid)
    return lib


# --- overrides ------------------------------------------------------------------------------


def _apply(raw: dict, library: SpecLibrary, path: str, value: Any) -> SpecLibrary:
    """Apply one override: a scenario key is set in ``raw`` (in place), a spec key patches the library."""
    parts = path.split(".")
    if parts[0] == "specs":
        if len(parts) < 3:
            raise ScenarioError("a spec path needs specs.<spec id>.<key>, e.g. specs.platform.principles.do_not_lie.level")
        spec_id, rest = parts[1], ".".join(parts[2:])
        return library.patched({spec_id: {rest: value}})
    if len(parts) == 1 and parts[0] in SCENARIO_KEYS:
        parts = ["scenario", *parts]
    node: Any = raw
    for k in parts[:-1]:
        if not isinstance(node, dict):
            raise ScenarioError(f"no such key: {k!r} is not a table")
        if k not in node:
            if _may_create(node, k, raw):
                node[k] = {}
            else:
                have = ", ".join(sorted(node)) or "nothing"
                raise ScenarioError(f"no such key {k!r}; here there is: {have}")
        node = node[k]
    if not isinstance(node, dict):
        raise ScenarioError(f"no such key: {parts[-2]!r} is not a table")
    node[parts[-1]] = copy_tree(value)  # a list value stays the caller's own
    return library


def _may_create(node: dict, key: str, raw: dict) -> bool:
    # Optional tables a user may set into without the file declaring them.
    return (node is raw and key in ("environment", "network", "sweep", "evolution")) or key in ("params", "llm", "rewire")


# --- validation -----------------------------------------------------------------------------


def _build(raw: dict, library: SpecLibrary, text: str, source: str, overrides: dict,
           base_dir: Path | None = None) -> Scenario:
    top_allowed = {"scenario": dict, "environment": dict, "network": dict, "groups": dict,
                   "events": list, "sweep": dict, "plugins": list, "evolution": dict}
    check_keys(raw, top_allowed, source, top=True)
    sc = check_keys(raw.get("scenario", {}), SCENARIO_KEYS, f"{source}: scenario")
    for k in ("id", "environment"):
        if k not in sc:
            raise ScenarioError(f"{source}: scenario.{k} is required")
    steps = check_steps(sc.get("steps", 100), f"{source}: scenario.steps")
    env_cls = get_environment(sc["environment"], f"{source}: scenario.environment")
    env_params = parse_params(env_cls, raw.get("environment", {}), f"{source}: environment")

    groups = _groups(raw.get("groups"), library, source, env_cls)
    n = sum(g.count for g in groups)
    _check_memory(groups, raw.get("events", []), source)
    network = _network(raw.get("network", {}), n, source, base_dir or Path.cwd())
    if network["self_play"] and env_cls.pairwise:
        raise ScenarioError(f"{source}: network.self_play: environment {env_cls.name!r} plays pairs of "
                            "distinct agents; self-play is not supported (set it to false)")
    evolution = (parse_evolution(raw["evolution"], groups, library, env_cls, source)
                 if "evolution" in raw else None)
    metric_names = known_metrics(env_cls, library, groups) | share_metrics(evolution)
    events = _events(raw.get("events", []), groups, library, metric_names, source, steps, env_cls,
                     env_params)
    sweep = raw.get("sweep")
    if sweep is not None:
        check_keys(sweep, SWEEP_KEYS, f"{source}: sweep")
    return Scenario(
        id=sc["id"], environment=sc["environment"], steps=steps, env_params=env_params,
        network=network, groups=groups, events=events, library=library, raw=raw, text=text,
        overrides=overrides, source=source, description=sc.get("description", ""),
        question=sc.get("question", ""), sweep=sweep, evolution=evolution,
    )


def _check_memory(groups: tuple[Group, ...], events: Any, source: str) -> None:
    """Refuse a population (groups plus every join) this machine cannot hold, before allocating it."""
    joins = sum(ev["count"] for ev in events if isinstance(ev, dict) and ev.get("type") == "join"
                and isinstance(ev.get("count"), int)) if isinstance(events, list) else 0
    total = sum(g.count for g in groups) + max(0, joins)
    if not groups:
        return
    big = max(groups, key=lambda g: g.count)
    what = f"{source}: groups.{big.name}.count = {big.count:,}"
    if total != big.count:
        what += f" (population {total:,} with the other groups and joins)"
    check_population(total, what)


def _groups(table: Any, library: SpecLibrary, source: str, env_cls: Any) -> tuple[Group, ...]:
    if not table:
        raise ScenarioError(f"{source}: no [groups.NAME] table; a scenario needs at least one group")
    if not isinstance(table, dict):
        raise ScenarioError(f"{source}: groups must be tables [groups.NAME]")
    out = []
    for name, g in table.items():
        where = f"{source}: groups.{name}"
        check_keys(g, GROUP_KEYS, where)
        for k in ("count", "policy"):
            if k not in g:
                raise ScenarioError(f"{where}.{k} is required")
        inputs.number(g["count"], f"{where}.count", 0, MAX_AGENTS, integer=True)
        spec_id = g.get("spec", "empty")
        if spec_id not in library:  # not ids(): that sorts every spec, per group
            raise ScenarioError(f"{where}.spec: unknown spec {spec_id!r}; available: {', '.join(sorted(library.ids()))}")
        library.get(spec_id)  # resolve now: layering errors surface at load time
        policy = g["policy"]
        params = g.get("params", {})
        if policy != "llm":
            # Parameters drawn per agent are validated as distributions, then typed by a typical draw.
            made = make_policy(policy, typical_params(params, f"{where}.params"), f"{where}.policy")
            named = getattr(made, "acts_named", None)
            unknown = [a for a in (named() if named else ()) if a not in env_cls.act_names()]
            if unknown:
                raise ScenarioError(f"{where}.params: unknown act {unknown[0]!r} for environment "
                                    f"{env_cls.name!r}; acts: {', '.join(sorted(env_cls.act_names()))}")
        elif policy not in POLICIES:
            raise ScenarioError(f"{where}.policy: the llm policy is not available (agents.llm failed to import)")
        mode = g.get("mode", "audit")
        if mode not in ("audit", "enforce"):
            raise ScenarioError(f"{where}.mode: must be 'audit' or 'enforce', got {mode!r}")
        instrs = []
        for k, ins in enumerate(g.get("instructions", [])):
            instrs.append(validate_instruction(ins, f"{where}.instructions[{k}]"))
        out.append(Group(
            name=name, count=g["count"], policy=policy, spec=spec_id,
            params=tuple(sorted(params.items())), focal=g.get("focal", True),
            deliberation=unit_interval(g.get("deliberation", 1.0), f"{where}.deliberation"),
            error_rate=unit_interval(g.get("error_rate", 0.0), f"{where}.error_rate"),
            mode=mode, llm=tuple(sorted(g.get("llm", {}).items())), instructions=tuple(instrs),
        ))
    return tuple(out)


def _network(net: Any, n: int, source: str, base_dir: Path) -> dict[str, Any]:
    where = f"{source}: network"
    check_keys(net, NETWORK_KEYS, where)
    kind = net.get("kind", "complete")
    if kind not in NETWORK_KINDS:
        raise ScenarioError(f"{where}.kind: unknown kind {kind!r}; allowed: {', '.join(NETWORK_KINDS)}")
    degree = net.get("degree", 4)
    if kind in ("random_regular", "watts_strogatz", "barabasi_albert", "erdos_renyi"):
        if n < 2:
            raise ScenarioError(f"{where}.kind: a {kind} network needs at least 2 agents; the groups have {n}")
        if kind == "watts_strogatz" and degree % 2:
            raise ScenarioError(f"{where}.degree: a watts_strogatz ring links k/2 neighbours on each side, "
                                f"so the degree must be even; got {degree}")
        if degree < 1 or degree > n - 1:
            raise ScenarioError(f"{where}.degree: {degree} does not fit {n} agents; allowed: 1..{max(n - 1, 1)}")
        if kind == "random_regular" and (n * degree) % 2:
            raise ScenarioError(f"{where}.degree: random_regular needs agents x degree even; got {n} x {degree}")
    if kind == "lattice":
        _lattice_check(n, degree, where)
    p = net.get("p", 0.1)
    if not 0.0 <= p <= 1.0:
        raise ScenarioError(f"{where}.p: must be between 0 and 1, got {p}")
    path = None
    if kind == "edgelist":
        if "path" not in net:
            raise ScenarioError(f"{where}.path is required for kind 'edgelist'")
        path = (base_dir / str(net["path"])).resolve()  # relative to the scenario file
        if not path.is_file():
            raise ScenarioError(f"{where}.path: no such edge-list file {str(path)!r}")
    rewire = net.get("rewire")
    if rewire is not None:
        check_keys(rewire, REWIRE_KEYS, f"{where}.rewire")
        inputs.number(rewire.get("every", 1), f"{where}.rewire.every", 1, MAX_STEPS, integer=True)
        inputs.number(rewire.get("below", 0.0), f"{where}.rewire.below (a trust level)", 0.0, 1.0)
    return {"kind": kind, "degree": degree, "p": float(p), "path": str(path) if path else None,
            "self_play": net.get("self_play", False), "rewire": dict(rewire) if rewire else None,
            "shuffle": net.get("shuffle", False)}


def _lattice_check(n: int, degree: int, where: str) -> None:
    if lattice_side(n) is None:
        raise ScenarioError(f"{where}.kind: a lattice needs a square number of agents (e.g. 10000); "
                            f"the groups have {n}")
    if degree not in NEIGHBOURHOODS:
        raise ScenarioError(f"{where}.degree: a lattice neighbourhood has 4 (von Neumann) or "
                            f"8 (Moore) cells; got {degree}")


def _events(events: Any, groups: tuple[Group, ...], library: SpecLibrary, metrics: set[str],
            source: str, steps: int, env_cls: Any, env_params: Any) -> tuple[ScriptEvent, ...]:
    names = {g.name for g in groups}
    if not isinstance(events, list):
        raise ScenarioError(f"{source}: events must be a list of [[events]] tables")
    # Agent ids an event may name: the initial population plus every agent a join can add.
    joinable = sum(int(ev.get("count", 1)) for ev in events
                   if isinstance(ev, dict) and ev.get("type") == "join" and isinstance(ev.get("count", 1), int))
    max_agent = sum(g.count for g in groups) + max(joinable, 0)
    ctx = LoadContext(groups, library, env_cls, env_params)
    out = []
    for k, ev in enumerate(events):
        where = f"{source}: events[{k}]"
        if not isinstance(ev, dict):
            raise ScenarioError(f"{where}: expected a table [[events]]")
        typ = ev.get("type")
        kind = EVENT_TYPES.get(typ) if isinstance(typ, str) else None
        if kind is None:
            raise ScenarioError(f"{where}.type: unknown event type {typ!r}; allowed: {', '.join(EVENT_TYPES)}")
        check_keys(ev, {**EVENT_COMMON, **kind.keys}, where)
        for req in kind.required:
            if req not in ev:
                raise ScenarioError(f"{where}: a {typ} event needs {req!r}")
        at, when = ev.get("at"), None
        if (at is None) == ("when" not in ev):
            raise ScenarioError(f"{where}: give exactly one of 'at' (a step) or 'when' (a trigger)")
        if at is not None:
            inputs.number(at, f"{where}.at (steps count from 1)", 1, MAX_STEPS, integer=True)
        if "when" in ev:
            when = parse_trigger(ev["when"], metrics, f"{where}.when", steps)
        to = ev.get("to")
        if to is not None and to not in names:
            if not str(to).isdigit():
                raise ScenarioError(f"{where}.to: unknown group {to!r}; groups: {', '.join(sorted(names))} (or an agent id)")
            if int(to) >= max_agent:
                raise ScenarioError(f"{where}.to: agent {to} does not exist; agent ids are 0..{max_agent - 1}")
            if kind.group_only:
                raise ScenarioError(f"{where}.to: a {typ} event applies to a group, not to one agent; "
                                    f"groups: {', '.join(sorted(names))}")
        kind.validate(ev, where, ctx)
        data = tuple(sorted((k2, _freeze(v)) for k2, v in ev.items() if k2 not in EVENT_COMMON))
        out.append(ScriptEvent(k, typ, at, when, to, data, ev.get("once", True)))
    return tuple(out)


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


def known_metrics(env_cls: Any, library: SpecLibrary, groups: tuple[Group, ...]) -> set[str]:
    """Metrics a trigger may watch: those the model reports every step."""
    import sim.metrics  # noqa: F401  registers the engine's own metrics, which a bare load had not imported

    names = {m.name for m in METRICS.values() if m.per_step and not m.family
             and (not m.environments or env_cls.name in m.environments)}
    names |= {f"payoff.{g.name}" for g in groups}
    for g in groups:
        names |= {f"compliance.{p.id}" for p in library.get(g.spec).principles if p.check}
    return names
