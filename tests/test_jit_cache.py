"""The numba cache is keyed on every file kernels compile from (agents/jit.py).

numba's own check looks only at a kernel's file; these tests pin that the declared list of
sources is complete, that every kernel takes its decorator from agents.jit (so the keyed
directory is set before any kernel is decorated), and that the cache lands there.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents import jit

ROOT = jit.ROOT
PACKAGES = ("agents", "scenarios", "sim")


def _file(module: str) -> Path | None:
    base = ROOT / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _project_imports(tree: ast.Module) -> list[tuple[str, str]]:
    """(module, name) of every top-level ``from <project module> import name``."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in PACKAGES:
            out += [(node.module, alias.name) for alias in node.names]
    return out


def _origin(module: str, name: str) -> str:
    """The file that defines ``name`` as imported from ``module`` (following re-exports)."""
    sub = _file(f"{module}.{name}")
    if sub is not None:
        return str(sub.relative_to(ROOT))
    path = _file(module)
    assert path is not None, module
    for mod, imported in _project_imports(_tree(path)):
        if imported == name:
            return _origin(mod, name)
    return str(path.relative_to(ROOT))


def _kernel_modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
                  if "agents.jit" in path.read_text()  # a cheap filter before parsing
                  and any(mod == "agents.jit" for mod, _ in _project_imports(_tree(path))))


def test_every_kernel_decorates_through_agents_jit() -> None:
    direct = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "agents" / "jit.py":
                continue
            for node in ast.walk(_tree(path)):
                if isinstance(node, ast.ImportFrom) and node.module == "numba" \
                        and {a.name for a in node.names} & {"njit", "jit"}:
                    direct.append(str(path.relative_to(ROOT)))
    assert direct == []
    assert len(_kernel_modules()) >= 20


def test_declared_sources_are_what_kernels_compile_from() -> None:
    needed = {"agents/jit.py"}  # the njit options (INNER, OUTER) every kernel may compile with
    for path in _kernel_modules():
        needed.add(str(path.relative_to(ROOT)))
        for module, name in _project_imports(_tree(path)):
            if module != "agents.jit":
                needed.add(_origin(module, name))
    assert sorted(needed) == sorted(jit.KERNEL_SOURCES)


def test_the_key_changes_with_any_source(tmp_path: Path) -> None:
    for name in jit.KERNEL_SOURCES[:2]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    before = jit.sources_key(tmp_path, jit.KERNEL_SOURCES[:2])
    assert jit.sources_key(tmp_path, jit.KERNEL_SOURCES[:2]) == before
    (tmp_path / jit.KERNEL_SOURCES[1]).write_text("x = 2\n")
    assert jit.sources_key(tmp_path, jit.KERNEL_SOURCES[:2]) != before


def test_cache_dir_keeps_the_users_base(tmp_path: Path) -> None:
    key = jit.PREFIX + jit.sources_key()
    assert jit.cache_dir({"NUMBA_CACHE_DIR": str(tmp_path)}) == tmp_path / key
    # A worker inherits its parent's keyed directory: the same one, not a directory inside it.
    assert jit.cache_dir({"NUMBA_CACHE_DIR": str(tmp_path / key)}) == tmp_path / key
    assert jit.cache_dir({"NUMBA_CACHE_DIR": str(tmp_path / (jit.PREFIX + "0" * 16))}) \
        == tmp_path / key
    assert jit.cache_dir({}).name == key


@pytest.mark.slow
def test_a_kernel_caches_in_the_keyed_directory(tmp_path: Path) -> None:
    code = ("import numpy as np, numba\n"
            "from scenarios.kernel_sums import total\n"
            "total(np.ones(3), 3)\n"
            "print(numba.config.CACHE_DIR)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env, timeout=300)
    keyed = tmp_path / (jit.PREFIX + jit.sources_key())
    assert done.stdout.strip().splitlines()[-1] == str(keyed)
    assert any(keyed.rglob("kernel_sums*.nbi"))
