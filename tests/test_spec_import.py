"""Importing Model Spec markdown: headings with authority become text-only principles."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from agents.errors import SpecError
from agents.spec import Level, SpecLibrary
from agents.spec_import import import_model_spec, toml_string

MODEL_SPEC = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model_spec.md"

DOC = """\
# Part one {#part_one}
Intro text.

## Be kind {#be_kind authority=user}
Kindness text.

### An example without id
Example text stays with be_kind.

### Nested rule {#nested authority=root tags=a,b}
Nested body.

## Next {#next authority=guideline}
```
# not a heading {#fake authority=root}
```
~~~
```
## still code {#fake2 authority=root}
~~~
After the fence.

# Part two {#part_two}
#### Deep {#deep authority=system}
"""


@pytest.fixture(scope="module")
def doc_spec():
    return import_model_spec(DOC, "doc.md")[1]


@pytest.mark.parametrize(
    ("pid", "level", "tags", "text"),
    [
        ("be_kind", Level.USER, ("section:part_one",),
         "Be kind\n\nKindness text.\n\n### An example without id\nExample text stays with be_kind."),
        ("nested", Level.ROOT, ("a", "b", "section:part_one"), "Nested rule\n\nNested body."),
        ("next", Level.GUIDELINE, ("section:part_one",),
         "Next\n\n```\n# not a heading {#fake authority=root}\n```\n~~~\n```\n"
         "## still code {#fake2 authority=root}\n~~~\nAfter the fence."),
        ("deep", Level.SYSTEM, ("section:part_two",), "Deep"),
    ],
)
def test_headings_become_principles(doc_spec, pid, level, tags, text):
    p = doc_spec.principle(pid)
    assert (p.level, p.tags, p.text, p.check) == (level, tags, text, None)


def test_document_order_and_id(doc_spec):
    assert doc_spec.id == "doc"
    assert doc_spec.ids() == ("be_kind", "nested", "next", "deep")


@pytest.mark.parametrize(
    ("markdown", "fragment"),
    [
        ("# Title\n\nno attributes at all\n", "doc.md: no principle headings"),
        ("# Group {#g}\n## Sub {#s}\n", "doc.md: no principle headings"),
        ("## A {#a authority=boss}\n", "doc.md:1: a: unknown authority 'boss'; allowed: root, system"),
        ("## A {#a authority=none}\n", "unknown authority 'none'"),
        ("## A {#a authority=user}\n## B {#a authority=user}\n",
         "doc.md:2: duplicate heading id 'a' (first at line 1)"),
        ("## A {#a.b authority=user}\n", "doc.md:1: heading id 'a.b' is not an identifier"),
        ("## A {#a authority}\n", "doc.md:1: heading attribute 'authority' is not key=value"),
        ("## A {#authority=user}\n", "doc.md:1: heading attributes {#authority=user} must start with an id"),
    ],
)
def test_bad_documents(markdown, fragment):
    with pytest.raises(SpecError) as err:
        import_model_spec(markdown, "doc.md")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text",
    ['plain', 'quote " and \\ backslash', 'three """ quotes\nand a line', "tab\tand\x7fdel",
     "multi\nline with \\ and \x01 control\r\nand crlf", "unicode ‘quotes’ — dash", ""],
)
def test_toml_string_round_trips(text):
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_imported_spec_can_be_extended_with_checks(tmp_path):
    toml_text, _ = import_model_spec(DOC, "doc.md")
    (tmp_path / "doc.toml").write_text(toml_text, encoding="utf-8")
    (tmp_path / "scored.toml").write_text(
        '[spec]\nid = "scored"\nextends = ["doc"]\n'
        '[[principles]]\nid = "be_kind"\nlevel = "user"\ntext = "Cooperate."\ncheck = "cooperates"\n'
    )
    spec = SpecLibrary([tmp_path], shipped=False).get("scored")
    assert spec.principle("be_kind").check == "cooperates"
    assert spec.ids()[0] == "be_kind"
    assert len(spec.principles) == 4


@pytest.fixture(scope="module")
def model_spec():
    if not MODEL_SPEC.is_file():
        pytest.skip(f"{MODEL_SPEC} is not here")
    text = MODEL_SPEC.read_text(encoding="utf-8")
    return text, import_model_spec(text, MODEL_SPEC.name)


def test_every_authority_heading_of_the_model_spec_comes_through(model_spec):
    # Counted with: grep -cE '^#+ .*\{#[^}]*authority=' model_spec.md  -> 59
    _, (toml_text, spec) = model_spec
    assert len(spec.principles) == 59
    assert Counter(str(p.level) for p in spec.principles) == {
        "root": 22, "guideline": 18, "user": 15, "system": 3, "developer": 1}
    assert all(p.check is None for p in spec.principles)
    assert tomllib.loads(toml_text)["spec"]["id"] == "model_spec"


@pytest.mark.parametrize(
    ("pid", "level", "tag", "starts"),
    [
        ("follow_all_applicable_instructions", Level.ROOT, "section:chain_of_command",
         "Follow all applicable instructions\n\n"),
        ("do_not_lie", Level.USER, "section:be_honest_and_transparent", "Do not lie\n\n"),
        ("avoid_regulated_advice", Level.DEVELOPER, "section:risky_situations", "Provide information"),
        ("comply_with_laws", Level.SYSTEM, "section:stay_in_bounds", "Comply with applicable laws"),
        ("prioritize_teen_safety", Level.ROOT, "under_18", "Prioritize safety for teens"),
        ("be_warm", Level.GUIDELINE, "section:style", "Be warm"),
    ],
)
def test_model_spec_principles(model_spec, pid, level, tag, starts):
    _, (_, spec) = model_spec
    p = spec.principle(pid)
    assert p.level == level
    assert tag in p.tags
    assert p.text.startswith(starts)
    assert "{#" not in p.text.splitlines()[0]


def test_model_spec_sections_stop_at_the_next_heading(model_spec):
    _, (_, spec) = model_spec
    lie = spec.principle("do_not_lie").text
    # the next principle's heading and body are not part of do_not_lie
    assert "Don't be sycophantic" not in lie
    assert "# functions" in spec.principle("support_programmatic_use").text  # code stays text
