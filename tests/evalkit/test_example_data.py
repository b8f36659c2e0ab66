"""The shipped example data keeps its source's README and license; nothing reads outside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
# The full text of each license the example data comes under (MIT, BSD 3-Clause).
LICENSE_TEXTS = ("Permission is hereby granted, free of charge", "Redistribution and use in source and binary forms")
# Code and configuration that run: none may reach into the development machine's shared folders.
RUN_FILES = ("*.py", "*.json", "*.toml", "Makefile", ".ci/*")


@pytest.mark.parametrize("folder", sorted(p.name for p in DATA.iterdir() if p.is_dir()))
def test_each_data_folder_keeps_its_source_readme_and_license_text(folder: str) -> None:
    readme = (DATA / folder / "README.md").read_text(encoding="utf-8")
    assert "**Source:**" in readme or "https://github.com/" in readme
    license_file = DATA / folder / "LICENSE"
    text = readme + (license_file.read_text(encoding="utf-8") if license_file.exists() else "")
    assert any(marker in text for marker in LICENSE_TEXTS), f"{folder}: no license text"


# Built from parts so that this file does not contain the paths it looks for.
OUTSIDE_PATHS = ("/".join(("", "work", "")), "/".join(("..", "shared")))


def test_nothing_reads_shared_folders_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files", "--", *RUN_FILES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert files
    offenders = [
        name
        for name in files
        if any(s in (ROOT / name).read_text(encoding="utf-8", errors="replace") for s in OUTSIDE_PATHS)
    ]
    assert offenders == []
