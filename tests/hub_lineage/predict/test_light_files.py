"""Reading what numpy saved without numpy: .npy arrays, np.savez archives, sorted node names."""

from __future__ import annotations

import io

import numpy as np
import pytest

from hub_lineage.predict.light_files import SortedNames, Unreadable, parse_npy, read_npy, read_npz
from hub_lineage.predict.tables import NodeNames


@pytest.mark.parametrize("dtype", ["<f8", "<f4", "<i8", "<i4", "<i2", "|i1", "|u1", "?"])
def test_npy_arrays_read_as_numpy_wrote_them(tmp_path, dtype):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(7, 3)) * 50).astype(dtype)
    np.save(tmp_path / "a.npy", array)
    got = read_npy(tmp_path / "a.npy")
    assert got.shape == (7, 3)
    assert [got.row(i) for i in range(7)] == array.tolist()
    flat = np.array([1.5, np.nan, -np.inf], dtype=np.float64)
    np.save(tmp_path / "b.npy", flat)
    values = read_npy(tmp_path / "b.npy").data.tolist()
    assert values[0] == 1.5 and values[1] != values[1] and values[2] == -np.inf


def test_npz_members_by_name(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, child=np.arange(5, dtype=np.int32), weight=np.array([0.5, np.nan], dtype=np.float32),
             root=np.array([True, False]), empty=np.zeros(0))
    (tmp_path / "g.npz").write_bytes(buffer.getvalue())
    got = read_npz(tmp_path / "g.npz")
    assert set(got) == {"child", "weight", "root", "empty"}
    assert got["child"].data.tolist() == [0, 1, 2, 3, 4]
    assert got["root"].data.tolist() == [True, False] and got["empty"].shape == (0,)
    assert got["weight"].data[0] == 0.5


def test_what_it_does_not_read_is_said_not_guessed(tmp_path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a=np.arange(3))
    (tmp_path / "c.npz").write_bytes(buffer.getvalue())
    with pytest.raises(Unreadable):
        read_npz(tmp_path / "c.npz")
    for array in (np.asfortranarray(np.ones((2, 3))), np.ones(3, dtype=">f8"), np.array(["x"], dtype="U3"),
                  np.array([1 + 2j])):
        np.save(tmp_path / "x.npy", array)
        with pytest.raises(Unreadable):
            read_npy(tmp_path / "x.npy")
    with pytest.raises(Unreadable):
        parse_npy(memoryview(b"not an array at all"))
    for array in (np.ones(40), np.array([b"abc"] * 40)):
        np.save(tmp_path / "t.npy", array)
        (tmp_path / "t.npy").write_bytes((tmp_path / "t.npy").read_bytes()[:-8])  # a file cut short
        with pytest.raises(Unreadable):
            read_npy(tmp_path / "t.npy")


def test_sorted_names_find_what_node_names_find(tmp_path):
    names = ["b/x", "a/é-model", "a/e", "a/e-2", "zz/" + "y" * 60, "a/日本語", "Q/Upper", "a/e\u0301"]
    table, _ = NodeNames.from_names(names)
    table.save(tmp_path / "n.npy")
    light = SortedNames(read_npy(tmp_path / "n.npy"))
    assert list(light) == list(table) and len(light) == len(table)
    for probe in [*names, "", "a", "a/", "a/e-3", "zz/" + "y" * 61, "a/e\0", "0", "~"]:
        assert light.index_of(probe) == table.index_of(probe), probe
        assert (probe in light) == (probe in table)
