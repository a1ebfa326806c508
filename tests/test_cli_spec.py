"""``specbound spec check|show|import``: exit codes, one-line errors, output shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.spec import main

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios" / "specs"
GOOD = '[spec]\nid = "good"\nextends = ["platform"]\n'
BAD_LEVEL = '[spec]\nid = "bad"\n[[principles]]\nid = "a"\nlevel = "boss"\ntext = "t"\n'
TEXT_ONLY = '[spec]\nid = "loose"\n[[principles]]\nid = "a"\nlevel = "user"\ntext = "t"\n'


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["spec", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("files", "flags", "code", "out_has", "err_has"),
    [
        (["good"], [], 0, "good.toml: ok: good v1, 5 principles (platform > good)", ""),
        (["good", "bad"], [], 2, "good.toml: ok", "bad.toml:5: principles.a.level: unknown level 'boss'"),
        (["bad", "good"], [], 2, "", "bad.toml:5:"),  # stops at the first error
        (["loose"], ["--lint"], 0, "loose.toml: warning: principle 'a' (user) is text-only", ""),
        (["loose"], [], 0, "loose.toml: ok", ""),
        (["loose"], ["--strict"], 1, "loose.toml: warning:", ""),
        (["good"], ["--strict"], 0, "good.toml: ok", ""),
        (["missing"], [], 2, "", "missing.toml: no such file or spec id; known ids: asimov"),
    ],
)
def test_check(capsys, write_spec, files, flags, code, out_has, err_has):
    paths = [str(write_spec(n, {"good": GOOD, "bad": BAD_LEVEL, "loose": TEXT_ONLY}[n]))
             if n != "missing" else "missing.toml" for n in files]
    got, out, err = _run(capsys, "check", *paths, *flags)
    assert got == code
    assert out_has in out
    assert err_has in err
    if code == 2:
        assert err.startswith("specbound: ") and err.count("\n") == 1
        assert "Traceback" not in err
    if "bad" in files[:1]:
        assert out == ""


def test_check_every_shipped_spec(capsys):
    files = sorted(str(p) for p in SHIPPED.glob("*.toml"))
    code, out, _ = _run(capsys, "check", *files)
    assert code == 0
    assert out.count(": ok: ") == len(files) >= 7


def test_check_accepts_shipped_ids_and_extra_paths(capsys, write_spec, tmp_path):
    write_spec("base", '[spec]\nid = "base"\n')
    top = write_spec("top", '[spec]\nid = "top"\nextends = ["base"]\n')
    code, out, _ = _run(capsys, "check", "honest-first", str(top), "--path", str(tmp_path))
    assert code == 0
    assert "honest-first: ok: honest-first v2" in out
    assert "(base > top)" in out


def test_show_json_resolves_all_layers(capsys):
    code, out, _ = _run(capsys, "show", "honest-first", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["id"], data["version"], data["extends"]) == ("honest-first", "2", ["platform"])
    first = data["principles"][0]
    assert {k: first[k] for k in ("id", "level", "check", "params", "tags")} == {
        "id": "protect_reserve", "level": "developer", "check": "withholds",
        "params": {"fact": "reserve"}, "tags": ["confidentiality"]}
    assert first["text"]
    assert [p["id"] for p in data["principles"]][2] == "do_not_lie"


def test_show_table_groups_by_level(capsys, write_spec):
    code, out, _ = _run(capsys, "show", str(SHIPPED / "confidential-first.toml"))
    lines = out.splitlines()
    assert code == 0
    assert lines[1] == "layers: platform > confidential-first"
    headers = [ln for ln in lines if ln.endswith(":") and not ln.startswith(" ")]
    assert headers == ["root:", "system:", "developer:", "user:", "guideline:"]
    assert lines[lines.index("user:") + 1].split()[:3] == ["do_not_lie", "truthful", "confidential-first"]


def test_show_unknown_is_exit_2(capsys):
    code, _, err = _run(capsys, "show", "no-such-spec")
    assert code == 2
    assert err.startswith("specbound: no-such-spec: no such file or spec id")


def test_import_writes_a_spec_that_checks(capsys, tmp_path):
    md = tmp_path / "mini_spec.md"
    md.write_text("# Group {#g}\n## Rule {#rule authority=developer}\nBody.\n", encoding="utf-8")
    out_file = tmp_path / "mini.toml"
    code, out, _ = _run(capsys, "import", str(md), "-o", str(out_file))
    assert code == 0
    assert out.strip() == f"{out_file}: mini_spec with 1 principles (developer 1)"
    code, out, _ = _run(capsys, "check", str(out_file), "--lint")
    assert code == 0
    assert "warning: principle 'rule' (developer) is text-only" in out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "cannot read"), (b"# nothing here\n", "no principle headings"), (b"\xff\xfe", "not UTF-8")],
)
def test_import_errors(capsys, tmp_path, content, fragment):
    md = tmp_path / "in.md"
    if content is not None:
        md.write_bytes(content)
    code, _, err = _run(capsys, "import", str(md), "-o", str(tmp_path / "o.toml"))
    assert code == 2
    assert fragment in err and err.count("\n") == 1


def test_module_entry_point_has_no_traceback(write_spec):
    bad = write_spec("bad", BAD_LEVEL)
    proc = subprocess.run([sys.executable, "-m", "cli.spec", "spec", "check", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("specbound: ") and proc.stderr.count("\n") == 1


def test_files_checked_together_may_extend_each_other(tmp_path, capsys) -> None:
    (tmp_path / "c.toml").write_text('[spec]\nid = "c"\nversion = "1"\ndescription = "base"\n\n'
                                     '[[principles]]\nid = "x"\nlevel = "root"\ntext = "Be truthful."\n'
                                     'check = "truthful"\n')
    (tmp_path / "b.toml").write_text('[spec]\nid = "b"\nversion = "1"\ndescription = "derived"\n'
                                     'extends = ["c"]\n\n[[principles]]\nid = "y"\nlevel = "user"\n'
                                     'text = "Cooperate."\ncheck = "cooperates"\n')
    from cli.spec import main as spec_main

    assert spec_main(["spec", "check", str(tmp_path / "b.toml"), str(tmp_path / "c.toml")]) == 0
    assert "b v1, 2 principles (c > b)" in capsys.readouterr().out
