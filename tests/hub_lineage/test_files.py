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


def test_a_device_or_pipe_is_written_in_place_never_replaced(tmp_path, capsys):
    import stat
    import threading

    from cli_runner import run_main

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(10)
    assert got == [b"through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    # a full device: one error line, exit 2, and /dev/full is still the device (it became a CSV before)
    if os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode):
        edges = tmp_path / "e.csv"
        edges.write_text("source,target,edge\nQwen/Qwen2.5-7B,org/ft,finetuned\n")
        store = str(tmp_path / "s.sqlite")
        assert run_main(["ingest", str(edges), "--store", store], capsys)[0] == 0
        code, out, err = run_main(["export", "/dev/full", "--format", "csv", "--store", store], capsys)
        assert code == 2 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
        assert "'/dev/full'" in err  # the file is named
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, "x")
    link = tmp_path / "to-pipe"  # /dev/stdout is a link to a pipe: written through, not beside it
    link.symlink_to(fifo)
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(link, "via the link\n")
    reader.join(10)
    assert got[-1] == b"via the link\n" and link.is_symlink()
