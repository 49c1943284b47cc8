"""The guard in tests/support/repository_only.py is live: opening a file outside the checkout fails the test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.repository_only import ROOT, OutsideRepositoryRead

# an absolute path into a machine's own folders, a path up out of the checkout into a sibling folder, or the old
# design notes that lived outside it
OUTSIDE = re.compile(r"(?<![\w.])/(?:work|home|Users|mnt|srv)/|(?<!\.)\.\./[a-z]|\bDESIGN\.md")


def test_reading_a_file_outside_the_repository_fails():
    outside = Path("/adamesh-outside-the-checkout.txt")  # the root folder: outside every allowed place
    with pytest.raises(OutsideRepositoryRead, match="outside the repository"):
        outside.read_text()


def test_reading_inside_the_repository_and_temp_folders_works(tmp_path):
    assert "adamesh" in (ROOT / "blender_manifest.toml").read_text()
    (tmp_path / "x.txt").write_text("ok")
    assert (tmp_path / "x.txt").read_text() == "ok"


def test_no_source_names_a_machine_path():
    sources = [
        p
        for p in ROOT.rglob("*")
        if p.suffix in {".py", ".md", ".toml", ".txt", ".sh"}
        and not any(part.startswith(".venv") or part in {".git", "dist", "out"} for part in p.relative_to(ROOT).parts)
    ]
    offenders = [str(p.relative_to(ROOT)) for p in sources if p != Path(__file__) and OUTSIDE.search(p.read_text())]
    assert not offenders, f"files naming a path outside the checkout: {offenders}"
