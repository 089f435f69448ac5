"""files.py: atomic writes keep old bytes on failure and write through a symlink (issue 13)."""

from __future__ import annotations

import os

import pytest

from hub_lineage.files import write_atomic


def test_a_symlinked_card_is_updated_through_its_link(tmp_path):
    target = tmp_path / "cards" / "README.md"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "README.md"
    link.symlink_to(target)
    write_atomic(link, "new\r\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new\r\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("a" * 10_000)

    def half(handle):
        handle.write("header\n")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, half)
    assert path.read_text() == "a" * 10_000 and os.listdir(tmp_path) == ["out.csv"]
