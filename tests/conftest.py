"""Shared fixtures: every test writes its data sets into its own temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """Point ``maskgit_lib.paths.data_dir()`` at a fresh folder for this test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(folder))
    return folder
