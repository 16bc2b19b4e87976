"""Crash-safe writes (moderncnn.io): a failed write leaves the old file and no temporary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moderncnn.io import atomic_write, fsync_dir


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "results.json"
    atomic_write(path, lambda p: p.write_text("old"))
    assert path.read_text() == "old"

    def half_then_crash(p: Path) -> None:
        p.write_text("ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_crash)
    assert path.read_text() == "old"
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temporary left
    atomic_write(path, lambda p: p.write_text("new"))
    assert path.read_text() == "new"
    fsync_dir(path.parent)  # a directory opens and syncs


def test_atomic_write_temporary_can_keep_the_extension(tmp_path: Path) -> None:
    names: list[str] = []

    def write(p: Path) -> None:  # torch.export.save, for one, wants a .pt2 name
        names.append(p.name)
        p.write_text("x")

    atomic_write(tmp_path / "m.pt2", write, suffix=".pt2")
    [name] = names
    assert name.startswith(".m.pt2.") and name.endswith(".pt2") and name != "m.pt2"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt2"]


def test_atomic_write_follows_the_umask(tmp_path: Path) -> None:
    """Checkpoints and exports get the permissions of any new file, like metrics.csv does
    (mkstemp alone would make them 0600)."""
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "w.safetensors", lambda p: p.write_bytes(b"x"))
        (tmp_path / "plain.csv").write_text("x")
    finally:
        os.umask(old)
    mode = (tmp_path / "w.safetensors").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.csv").stat().st_mode & 0o777 == 0o644
