"""Fuzzing the spec loader: any input loads or raises SpecError with one clear line."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.errors import SpecError
from agents.lint import lint
from agents.spec import SpecLibrary, parse_layer, patch_spec, shipped_specs_dir

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHIPPED = {p.stem: p.read_text(encoding="utf-8") for p in sorted(shipped_specs_dir().glob("*.toml"))}


def _one_line(err: SpecError) -> None:
    msg = str(err)
    assert msg.strip(), "empty error message"
    assert "\n" not in msg and "\r" not in msg, msg


def _load_all(files: dict[str, str]) -> None:
    """Resolve every spec of a library made of ``files``; lint what loads."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (Path(tmp) / f"{name}.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            lib = SpecLibrary([tmp], shipped=False)
        except SpecError as err:
            _one_line(err)
            return
        for sid in lib.ids():
            try:
                lint(lib.get(sid), lib)
            except SpecError as err:
                _one_line(err)


TOML_BITS = st.sampled_from([
    "[spec]", "[[principles]]", 'id = "x"', 'id = "do_not_lie"', 'level = "root"', "level = 3",
    'text = "t"', 'check = "withholds"', 'check = "truthful"', 'params = { fact = "f" }',
    "params = { fact = 1 }", 'extends = ["platform"]', 'extends = ["x"]', 'tags = ["a"]',
    'peer_authority = "user"', 'examples = [{ situation = "s" }]', "version = 2", "=", "[", "]",
    '"', "'''", "\\", "{", "}", ",", "\n", " ", "#", "\x00", "principles = [1]", "spec = 1",
])


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data):
    try:
        parse_layer(data, "fuzz.toml")
    except SpecError as err:
        _one_line(err)


@SETTINGS
@given(st.lists(TOML_BITS, max_size=30).map("\n".join))
def test_toml_like_text(text):
    try:
        SpecLibrary().load_text(text, "fuzz.toml")
    except SpecError as err:
        _one_line(err)


VALUES = st.sampled_from([
    '"root"', '"boss"', "3", "1.5", "true", "[]", '["platform"]', '["a", 1]', "{}",
    '{ fact = "reserve" }', '{ share = "x" }', '"withholds"', '"max_take"', '""', '"platform"',
    '"honest-first"', '"has space"', '[{ situation = "s", bad = 1 }]',
])


@st.composite
def mutated_library(draw):
    files = dict(SHIPPED)
    name = draw(st.sampled_from(sorted(files)))
    lines = files[name].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "value", "swap", "truncate"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(VALUES)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    files[name] = "\n".join(lines) + "\n"
    return files


@SETTINGS
@given(mutated_library())
def test_mutated_shipped_specs(files):
    _load_all(files)


PATHS = st.sampled_from([
    "version", "description", "peer_authority", "principles.do_not_lie.level",
    "principles.do_not_lie.check", "principles.do_not_lie.params", "principles.do_not_lie.params.fact",
    "principles.protect_reserve.params.fact", "principles.protect_reserve.check",
    "principles.keep_promises.tags", "principles.nope.level", "principles..level", "principles",
    "principles.do_not_lie.text", "principles.do_not_lie.colour", "",
])
PATCH_VALUES = st.one_of(
    st.sampled_from(["root", "user", "none", "withholds", "answers", "truthful", "", "x"]),
    st.integers(-2, 5), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.sampled_from(["fact", "share"]),
                                                             st.one_of(st.text(max_size=3), st.integers())),
)


@settings(SETTINGS, max_examples=100)
@given(st.sampled_from(["platform", "honest-first", "confidential-first", "sustainable", "nope"]),
       st.dictionaries(PATHS, PATCH_VALUES, max_size=3))
def test_random_patches(sid, patch):
    lib = SpecLibrary()
    try:
        patched = lib.patched({sid: patch})
        for other in ("honest-first", "commercial-fisher"):
            lint(patched.get(other), patched)
    except SpecError as err:
        _one_line(err)
    if sid in lib:
        try:
            patch_spec(lib.get(sid), patch)
        except SpecError as err:
            _one_line(err)
