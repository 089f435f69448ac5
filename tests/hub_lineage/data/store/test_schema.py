"""Schema versions: new stores, stores written by earlier hub-lineage releases, stores from later ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub_lineage.errors import StoreError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.data.store import schema
from hub_lineage.data.store.database import Store


def user_version(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def legacy_store(db: Path, version: int) -> None:
    """A store as releases before ``PRAGMA user_version`` wrote it: the tables of ``version``, its
    number only in ``meta.schema_version``, and one edge."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    for script in schema.MIGRATIONS[:version]:
        for statement in filter(str.strip, script.split(";")):
            con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
    con.execute("INSERT INTO models(id, name) VALUES (1, 'me/child'), (2, 'org/base')")
    con.execute("INSERT INTO edges VALUES (1, 2, 0, 'finetune', NULL, NULL)")
    con.close()


def test_a_new_store_is_at_the_current_version_in_both_places(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        meta = dict(store.db.execute("SELECT key, value FROM meta"))
    assert meta == {"app": schema.APP_ID, "schema_version": str(schema.VERSION)}
    assert user_version(db) == schema.VERSION == len(schema.MIGRATIONS)


def test_a_version_1_store_is_upgraded_in_place_keeping_everything(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        store.add_edges([Edge("me/child", "org/base", Relation.FINETUNE)])
    con = sqlite3.connect(db)  # make it a schema-1 store: no chat_template column
    con.execute("ALTER TABLE models DROP COLUMN chat_template")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.execute("PRAGMA user_version = 0")  # as releases before user_version wrote it
    con.commit()
    con.close()
    with Store(db) as store:
        assert dict(store.db.execute("SELECT key, value FROM meta"))["schema_version"] == "2"
        columns = [r[1] for r in store.db.execute("PRAGMA table_info(models)")]
        assert "chat_template" in columns
        assert [(e.child, e.parent) for e in store.lineage_graph().edges] == [("me/child", "org/base")]
    assert user_version(db) == schema.VERSION


@pytest.mark.parametrize("version", [1, 2])
def test_stores_of_earlier_releases_open_and_are_stamped(tmp_path: Path, version: int) -> None:
    db = tmp_path / "s.sqlite"
    legacy_store(db, version)
    with Store(db) as store:
        assert [(e.child, e.parent) for e in store.lineage_graph().edges] == [("me/child", "org/base")]
        assert "chat_template" in [r[1] for r in store.db.execute("PRAGMA table_info(models)")]
    assert user_version(db) == schema.VERSION
    with Store(db) as store:  # opening again changes nothing
        assert len(store.lineage_graph().edges) == 1


def test_a_store_of_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match=f"schema version {schema.VERSION + 1}, newer than this "
                                         f"hub-lineage's {schema.VERSION}: upgrade hub-lineage"):
        Store(db)
    assert db.read_bytes() == before
    legacy = tmp_path / "legacy.sqlite"  # the same rule for the version kept in meta
    legacy_store(legacy, 2)
    con = sqlite3.connect(legacy)
    con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 9"):
        Store(legacy)


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "s.sqlite"
    legacy_store(db, 1)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, "CREATE TABLE extra(x); SELECT nonsense("])
    monkeypatch.setattr(schema, "VERSION", len(schema.MIGRATIONS))
    with pytest.raises(StoreError, match="from schema version 1 to 3 .*left as it was"):
        Store(db)
    con = sqlite3.connect(db)
    try:
        assert "chat_template" not in [r[1] for r in con.execute("PRAGMA table_info(models)")]
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        assert con.execute("PRAGMA user_version").fetchone() == (0,)
    finally:
        con.close()
