"""The spec loader, layering, the library and patches, as tables of behaviour."""

from __future__ import annotations

import pytest

from agents.errors import SpecError
from agents.spec import Level, Principle, SpecLibrary, parse_layer, patch_spec

HEAD = '[spec]\nid = "bad"\n'
P = '[[principles]]\nid = "a"\nlevel = "user"\ntext = "t"\n'

# (toml text of bad.toml, fragment the one-line message must contain)
BAD = [
    ("", "bad.toml: empty file"),
    ("  \n\n", "bad.toml: empty file"),
    ("# only a comment\n", "bad.toml: no [spec] table"),
    ('[spec\nid = "x"\n', "bad.toml:1: not valid TOML"),
    ('[spec]\nid = "x"\nid = "y"\n', "bad.toml:3: not valid TOML"),
    ('[spec]\nid = "x"\nversion = \n', "bad.toml:3: not valid TOML"),
    ("[other]\nx = 1\n", "bad.toml:1: unknown key 'other'; allowed: spec, principles"),
    ('[[principle]]\nid = "a"\n', "unknown key 'principle'; allowed: spec, principles"),
    ('principles = []\n', "bad.toml: missing [spec] table"),
    ('spec = "x"\n', "bad.toml:1: spec: must be a table"),
    ('[spec]\nversion = "1"\n', "bad.toml:1: spec: missing key 'id'"),
    ('[spec]\nid = "x"\nextend = ["platform"]\n',
     "bad.toml:3: spec.extend: unknown key; allowed: id, version, description, extends, peer_authority"),
    ('[spec]\nid = "has space"\n', "bad.toml:2: spec.id: 'has space' is not an identifier"),
    ("[spec]\nid = 7\n", "bad.toml:2: spec.id: must be a string, got integer 7"),
    (HEAD + "version = 1.5\n", "bad.toml:3: spec.version: must be a string (or integer)"),
    (HEAD + "description = []\n", "spec.description: must be a string, got array"),
    (HEAD + 'extends = "platform"\n', "bad.toml:3: spec.extends: must be an array of spec ids"),
    (HEAD + 'extends = ["bad"]\n', "spec.extends: spec 'bad' extends itself"),
    (HEAD + 'extends = ["platform", "platform"]\n', "spec.extends: lists a spec twice"),
    (HEAD + 'extends = ["1x"]\n', "spec.extends: '1x' is not an identifier"),
    (HEAD + 'peer_authority = "boss"\n',
     "spec.peer_authority: unknown level 'boss'; allowed: root, system, developer, user, guideline, none"),
    ('principles = "x"\n' + HEAD, "bad.toml:1: principles: must be an array of tables"),
    ("principles = [1]\n" + HEAD, "principles[0]: must be a table, got integer"),
    (HEAD + '[[principles]]\nlevel = "user"\ntext = "t"\n', "bad.toml:3: principles[0]: missing key 'id'"),
    (HEAD + '[[principles]]\nid = "a.b"\nlevel = "user"\ntext = "t"\n',
     "bad.toml:4: principles[0].id: 'a.b' is not an identifier"),
    (HEAD + '[[principles]]\nid = 3\nlevel = "user"\ntext = "t"\n',
     "principles[0].id: must be a string, got integer 3"),
    (HEAD + P.replace('"user"', '"boss"'),
     "bad.toml:5: principles.a.level: unknown level 'boss'; allowed: root, system, developer, user, guideline"),
    (HEAD + P.replace('"user"', "3"), "bad.toml:5: principles.a.level: unknown level 3"),
    (HEAD + P.replace('"user"', '"none"'), "principles.a.level: unknown level 'none'"),
    (HEAD + '[[principles]]\nid = "a"\ntext = "t"\n', "bad.toml:3: principles.a: missing key 'level'"),
    (HEAD + '[[principles]]\nid = "a"\nlevel = "user"\n', "principles.a: missing key 'text'"),
    (HEAD + P.replace('"t"', '"  "'), "bad.toml:6: principles.a.text: must not be empty"),
    (HEAD + P.replace('"t"', "1"), "principles.a.text: must be a string, got integer 1"),
    (HEAD + P + 'lvl = "root"\n',
     "bad.toml:7: principles.a.lvl: unknown key; allowed: id, level, text, check, params, examples, tags"),
    (HEAD + P + P, "bad.toml:8: principles.a: duplicate principle id (first defined as principles[0])"),
    (HEAD + P + 'check = "truthy"\n', "bad.toml:7: principles.a.check: unknown check 'truthy'; available: "),
    (HEAD + P + "check = 1\n", "principles.a.check: must be a check name, got integer 1"),
    (HEAD + P + 'check = "withholds"\n', "principles.a.params: check 'withholds' needs param 'fact' (str)"),
    (HEAD + P + 'check = "withholds"\nparams = { fcat = "x" }\n',
     "bad.toml:8: principles.a.params: unknown param 'fcat' for check 'withholds'; allowed: fact"),
    (HEAD + P + 'check = "withholds"\nparams = { fact = 3 }\n',
     "principles.a.params: param 'fact' of check 'withholds' must be str, got 3"),
    (HEAD + P + 'check = "sustainable_take"\nparams = { share = true }\n',
     "param 'share' of check 'sustainable_take' must be int or float, got True"),
    (HEAD + P + 'params = { fact = "x" }\n', "principles.a.params: params ['fact'] given without a check"),
    (HEAD + P + 'params = "x"\n', "principles.a.params: must be a table, got string"),
    (HEAD + P + 'tags = "x"\n', "bad.toml:7: principles.a.tags: must be an array of strings, got string 'x'"),
    (HEAD + P + "tags = [1]\n", "principles.a.tags: must be an array of strings"),
    (HEAD + P + 'examples = "x"\n', "principles.a.examples: must be an array of tables"),
    (HEAD + P + 'examples = [{ good = "g" }]\n', "principles.a.examples: [0]: missing key 'situation'"),
    (HEAD + P + 'examples = [{ situation = "s", worse = "w" }]\n',
     "principles.a.examples: [0]: unknown key 'worse'; allowed: situation, messages, good, bad, reason"),
    (HEAD + P + 'examples = [{ situation = 1 }]\n', "principles.a.examples: [0].situation must be a string"),
    # a header inside a string must not shift line numbers: better none than a wrong one
    (HEAD + P.replace('"t"', '"""\n[[principles]]\n"""') + 'check = "nope"\n',
     "bad.toml: principles.a.check: unknown check 'nope'"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_bad_spec_is_one_line_naming_file_and_key(write_spec, text, fragment):
    path = write_spec("bad", text)
    with pytest.raises(SpecError) as err:
        SpecLibrary([path], shipped=False).get("bad")
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path.parent) in msg
    assert fragment in msg


def test_non_utf8_bytes_are_named():
    with pytest.raises(SpecError, match=r"^x\.toml: not UTF-8 text \(byte 1\)"):
        parse_layer(b"#\xff\xfe", "x.toml")


# --- errors that need more than one file -------------------------------------------

def _spec(sid: str, extends: tuple[str, ...] = (), body: str = "") -> str:
    ext = ", ".join(f'"{e}"' for e in extends)
    return f'[spec]\nid = "{sid}"\nextends = [{ext}]\n{body}'


@pytest.mark.parametrize(
    ("files", "get", "fragment"),
    [
        ({"a": ("b",), "b": ("a",)}, "a", "b.toml: spec.extends: cycle a -> b -> a"),
        ({"a": ("b",), "b": ("c",), "c": ("a",)}, "a", "spec.extends: cycle a -> b -> c -> a"),
        ({"a": ("b",), "b": ("b2",), "b2": ("b",)}, "a", "spec.extends: cycle b -> b2 -> b"),
        ({"a": ("nope",)}, "a", "a.toml: spec.extends: unknown spec 'nope'; known: a"),
        ({"a": ()}, "zzz", "unknown spec 'zzz'; known: a"),
    ],
)
def test_extends_errors(tmp_path, files, get, fragment):
    for sid, ext in files.items():
        (tmp_path / f"{sid}.toml").write_text(_spec(sid, ext))
    with pytest.raises(SpecError) as err:
        SpecLibrary([tmp_path], shipped=False).get(get)
    assert fragment in str(err.value)


def test_file_name_must_match_spec_id(write_spec):
    path = write_spec("other", _spec("mine"))
    with pytest.raises(SpecError, match=r"other\.toml: spec\.id: 'mine' does not match the file name"):
        SpecLibrary([path], shipped=False).get("other")


def test_two_files_with_one_id_are_an_error(tmp_path, write_spec):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "platform.toml").write_text(_spec("platform"))
    with pytest.raises(SpecError, match=r"spec id 'platform' is already defined by .*platform\.toml"):
        SpecLibrary([tmp_path / "d"])


def test_outside_file_may_extend_library_but_not_reuse_an_id(write_spec):
    lib = SpecLibrary()
    spec = lib.load_file(write_spec("mine", _spec("mine", ("honest-first",), P)))
    assert spec.layers == ("platform", "honest-first", "mine")
    assert spec.principles[0].id == "a"
    assert lib.get("mine") is spec
    with pytest.raises(SpecError, match=r"'platform' is already defined by .*platform\.toml"):
        lib.load_file(write_spec("platform2", _spec("platform")))


def test_missing_search_path_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"nowhere: no such spec file or directory"):
        SpecLibrary([tmp_path / "nowhere"])


# --- layering -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("sid", "layers", "order"),
    [
        ("empty", ("empty",), ()),
        ("platform", ("platform",),
         ("do_not_lie", "no_covert_goals", "ignore_untrusted", "keep_promises", "no_misleading")),
        ("honest-first", ("platform", "honest-first"),
         ("protect_reserve", "no_stonewalling", "do_not_lie", "no_covert_goals", "ignore_untrusted",
          "keep_promises", "no_misleading")),
        # redefined principles take the redefining layer's place, in its file order
        ("confidential-first", ("platform", "confidential-first"),
         ("protect_reserve", "no_stonewalling", "do_not_lie", "no_misleading", "no_covert_goals",
          "ignore_untrusted", "keep_promises")),
        ("commercial-fisher", ("platform", "sustainable", "commercial-fisher"),
         ("maximise_catch", "sustainable_take", "do_not_lie", "no_covert_goals", "ignore_untrusted",
          "keep_promises", "no_misleading")),
    ],
)
def test_weight_order_most_derived_layer_first(library, sid, layers, order):
    spec = library.get(sid)
    assert spec.layers == layers
    assert spec.ids() == order
    assert [lid for lid, _ in spec.texts] == list(layers)


def test_redefinition_replaces_inherited_principle(library):
    spec = library.get("confidential-first")
    lie = spec.principle("do_not_lie")
    assert (lie.level, lie.layer) == (Level.USER, "confidential-first")
    assert [p.id for p in spec.principles].count("do_not_lie") == 1


def test_multiple_extends_are_linearised_base_first(tmp_path):
    files = {"base": (), "left": ("base",), "right": ("base",), "top": ("left", "right")}
    for sid, ext in files.items():
        body = P.replace('"a"', f'"{sid}_rule"') + P.replace('"a"', '"shared"').replace('"t"', f'"{sid}"')
        (tmp_path / f"{sid}.toml").write_text(_spec(sid, ext, body))
    spec = SpecLibrary([tmp_path], shipped=False).get("top")
    assert spec.layers == ("base", "left", "right", "top")
    assert spec.ids() == ("top_rule", "shared", "right_rule", "left_rule", "base_rule")
    assert spec.principle("shared").layer == "top"


@pytest.mark.parametrize(
    ("base_peer", "top_peer", "expected"),
    [(None, None, Level.NONE), ('"developer"', None, Level.DEVELOPER),
     ('"developer"', '"none"', Level.NONE), (None, '"user"', Level.USER)],
)
def test_peer_authority_inherits_unless_redefined(tmp_path, base_peer, top_peer, expected):
    for sid, ext, peer in (("base", (), base_peer), ("top", ("base",), top_peer)):
        line = f"peer_authority = {peer}\n" if peer else ""
        (tmp_path / f"{sid}.toml").write_text(_spec(sid, ext).replace("extends", line + "extends"))
    assert SpecLibrary([tmp_path], shipped=False).get("top").peer_authority == expected


def test_shipped_gullible_grants_peers_authority_and_has_no_ignore_rule(library):
    spec = library.get("gullible")
    assert spec.peer_authority == Level.DEVELOPER
    assert "ignore_untrusted" not in spec.ids()
    assert library.get("platform").peer_authority == Level.NONE


def test_honest_and_confidential_first_differ_only_in_levels(library):
    honest, confidential = library.get("honest-first"), library.get("confidential-first")
    assert set(honest.ids()) == set(confidential.ids())

    def content(p: Principle):
        return (p.text, p.check, p.params, p.examples, p.tags)

    differ = {pid for pid in honest.ids()
              if honest.principle(pid).level != confidential.principle(pid).level}
    assert differ == {"do_not_lie", "no_misleading"}
    assert all(content(honest.principle(i)) == content(confidential.principle(i)) for i in honest.ids())
    # the honest ordering ranks both honesty rules above confidentiality, the other below
    reserve = honest.principle("protect_reserve").level
    assert all(honest.principle(i).level > reserve for i in differ)
    assert all(confidential.principle(i).level < reserve for i in differ)


@pytest.mark.parametrize(
    ("sid", "ids"),
    [("platform", {"do_not_lie", "no_covert_goals", "ignore_untrusted", "keep_promises"}),
     ("honest-first", {"protect_reserve", "no_stonewalling"}),
     ("sustainable", {"sustainable_take"}),
     ("asimov", {"do_no_harm", "obey_principals", "preserve_yourself"})],
)
def test_shipped_ids_other_modules_rely_on(library, sid, ids):
    assert ids <= set(library.get(sid).ids())


def test_every_shipped_principle_is_checkable(library):
    assert {"empty", "platform", "honest-first", "confidential-first", "asimov", "gullible",
            "sustainable"} <= set(library.ids())
    for sid in library.ids():
        assert all(p.check for p in library.get(sid).principles), sid


def test_asimov_is_three_root_laws_in_order(library):
    spec = library.get("asimov")
    assert spec.ids() == ("do_no_harm", "obey_principals", "preserve_yourself")
    assert {p.level for p in spec.principles} == {Level.ROOT}


# --- patches ------------------------------------------------------------------------

LIB_PATCHES = [
    # a patch to the base layer is seen by the specs extending it
    ({"platform": {"principles.do_not_lie.level": "user"}}, "honest-first", "do_not_lie", "level",
     Level.USER, 2),
    # an inherited principle patched through a derived spec keeps its place
    ({"honest-first": {"principles.do_not_lie.level": "guideline"}}, "honest-first", "do_not_lie",
     "level", Level.GUIDELINE, 2),
    ({"honest-first": {"principles.protect_reserve.params.fact": "budget"}}, "honest-first",
     "protect_reserve", "params", (("fact", "budget"),), 0),
    ({"sustainable": {"principles.sustainable_take.params.share": 0.5}}, "commercial-fisher",
     "sustainable_take", "params", (("share", 0.5),), 1),
    ({"platform": {"principles.keep_promises.tags": ["x"]}}, "sustainable", "keep_promises", "tags",
     ("x",), 4),
    ({"platform": {"principles.do_not_lie.check": "not_misleading"}}, "platform", "do_not_lie",
     "check", "not_misleading", 0),
    ({"honest-first": {"principles.protect_reserve.check": "answers",
                       "principles.protect_reserve.params": {}}},
     "honest-first", "protect_reserve", "check", "answers", 0),
    ({"platform": {"principles.do_not_lie.text": "Be true."}}, "confidential-first", "do_not_lie",
     "text", "Say only what you believe to be true. A refusal is acceptable; a false statement is not.",
     2),
]


@pytest.mark.parametrize(("patch", "sid", "pid", "field", "value", "index"), LIB_PATCHES)
def test_library_patch(library, patch, sid, pid, field, value, index):
    before = library.get(sid)
    patched = library.patched(patch)
    spec = patched.get(sid)
    assert getattr(spec.principle(pid), field) == value
    assert spec.ids().index(pid) == index
    assert library.get(sid) == before  # the original library is untouched


def test_patch_to_inherited_principle_stays_in_the_patched_spec(library):
    patched = library.patched({"honest-first": {"principles.do_not_lie.level": "user"}})
    assert patched.get("platform").principle("do_not_lie").level == Level.ROOT
    assert patched.get("confidential-first") == library.get("confidential-first")


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"platform": {"principles.do_not_lie.level": "boss"}},
         "specs.platform.principles.do_not_lie.level = 'boss': unknown level 'boss'; allowed: root"),
        ({"platform": {"principles.nope.level": "user"}},
         "specs.platform.principles.nope.level = 'user': no principle 'nope'; known: do_not_lie"),
        ({"platform": {"principles.do_not_lie.colour": "red"}}, "unknown field 'colour'; allowed: level"),
        ({"platform": {"principles.do_not_lie": "x"}}, "specs.platform.principles.do_not_lie = 'x': unknown path"),
        ({"platform": {"versions": "2"}}, "unknown path; allowed: version, description, peer_authority"),
        ({"platform": {"principles.do_not_lie.check": "withholds"}}, "check 'withholds' needs param 'fact'"),
        ({"platform": {"principles.do_not_lie.check": "nope"}}, "unknown check 'nope'; available:"),
        ({"platform": {"principles.do_not_lie.params.x": 1}}, "unknown param 'x' for check 'truthful'"),
        ({"honest-first": {"principles.protect_reserve.params.fact": 1}}, "param 'fact' of check 'withholds' must be str"),
        ({"platform": {"principles.do_not_lie.tags": "x"}}, "must be an array of strings"),
        ({"platform": {"peer_authority": "boss"}}, "specs.platform.peer_authority = 'boss': unknown level"),
        ({"nope": {"version": "2"}}, "unknown spec 'nope'; known: "),
        ({"platform": "x"}, "specs.platform: a patch must map dotted paths to values"),
    ],
)
def test_library_patch_errors(library, patch, fragment):
    with pytest.raises(SpecError) as err:
        library.patched(patch)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_patch_of_spec_fields_and_text_note(library):
    patched = library.patched({"platform": {"version": 3, "description": "d", "peer_authority": "user"}})
    spec = patched.get("sustainable")
    assert (spec.version, spec.peer_authority) == ("1", Level.USER)
    assert patched.get("platform").version == "3"
    assert "# patched: peer_authority = 'user'" in patched.text("platform")


@pytest.mark.parametrize(
    ("patches", "pid", "expected"),
    [
        ({"principles.do_not_lie.level": "user"}, "do_not_lie", Level.USER),
        ({"principles.protect_reserve.params.fact": "budget"}, "protect_reserve", (("fact", "budget"),)),
        ({"principles.no_stonewalling.tags": []}, "no_stonewalling", ()),
    ],
)
def test_patch_spec_keeps_order(library, patches, pid, expected):
    spec = library.get("honest-first")
    out = patch_spec(spec, patches)
    field = next(iter(patches)).split(".")[2].split(".")[0]
    assert getattr(out.principle(pid), field) == expected
    assert out.ids() == spec.ids()
    assert spec.principle(pid) != out.principle(pid)


@pytest.mark.parametrize(
    ("patches", "fragment"),
    [
        ({"principles.zzz.level": "user"}, "spec honest-first: principles.zzz.level = 'user': no principle 'zzz'"),
        ({"principles.do_not_lie.level": 5}, "unknown level 5"),
        ({"peer_authority": "x"}, "peer_authority = 'x': unknown level"),
        ({3: "x"}, "a patch path must be a string"),
    ],
)
def test_patch_spec_errors(library, patches, fragment):
    with pytest.raises(SpecError) as err:
        patch_spec(library.get("honest-first"), patches)
    assert fragment in str(err.value)


def test_patch_spec_of_spec_fields(library):
    out = patch_spec(library.get("platform"), {"peer_authority": "developer", "version": "9"})
    assert (out.peer_authority, out.version) == (Level.DEVELOPER, "9")


def test_inherited_check_and_params_patched_together(library):
    patched = library.patched({"honest-first": {"principles.do_not_lie.check": "withholds",
                                                "principles.do_not_lie.params.fact": "reserve"}})
    lie = patched.get("honest-first").principle("do_not_lie")
    assert (lie.check, lie.params, lie.layer) == ("withholds", (("fact", "reserve"),), "platform")


def test_base_patch_may_not_break_an_amendment_built_on_it(library):
    step = library.patched({"platform": {"principles.do_not_lie.check": "withholds",
                                         "principles.do_not_lie.params.fact": "x"}})
    step = step.patched({"honest-first": {"principles.do_not_lie.params.fact": "reserve"}})
    assert step.get("honest-first").principle("do_not_lie").params == (("fact", "reserve"),)
    with pytest.raises(SpecError, match=r"specs\.honest-first\.principles\.do_not_lie = "
                                        r"'\(earlier patch\)': unknown param 'fact'"):
        step.patched({"platform": {"principles.do_not_lie.check": "truthful",
                                   "principles.do_not_lie.params": {}}})
