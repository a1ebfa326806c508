"""Spec folder: the plugin's ``specs/`` holds ``hunter.toml``, usable by id in any scenario."""

from pathlib import Path

from agents.spec import spec_folder

spec_folder(Path(__file__).parent / "specs")
