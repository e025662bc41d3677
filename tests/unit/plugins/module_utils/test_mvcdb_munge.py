# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The munge key of each cluster in the MVC database: made once, kept like the N2N key (sealed with
encryption_key), and given to clusters registered before schema version 2. tests/system/db/test_db_munge.py runs
the tests listed in GENERIC on real PostgreSQL and MariaDB servers (its ``db`` fixture)."""
from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m
from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb_keys
from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils.mvcdb_data import containers, dump, read, register, request

PASSPHRASE = "munge passphrase 7"
# mvc_clusters as schema version 1 made it (the collection before munge keys).
V1_CLUSTER_COLUMNS = ["id", "name", "owner", "community", "n2n_key", "request_json", "request_digest", "status",
                      "created_at", "updated_at"]


def stored(db, name):
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT n2n_key, munge_key FROM mvc_clusters WHERE name = :n"), {"n": name}).one()


def cluster_columns(db):
    return [c["name"] for c in sa.inspect(db.engine).get_columns("mvc_clusters")]


def as_schema_1(db):
    """Make ``db`` a database of schema version 1: its tables without the columns of later versions."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE mvc_clusters DROP COLUMN munge_key"))
        conn.execute(sa.text("ALTER TABLE mvc_clusters DROP COLUMN mtu"))
        conn.execute(m.T_META.update().values(schema_version=1))
    assert cluster_columns(db) == V1_CLUSTER_COLUMNS and db.current_version() == 1


def assert_munge_key(key):
    assert isinstance(key, str) and len(base64.b64decode(key, validate=True)) == m.MUNGE_KEY_BYTES == 128


# --- tests that run on every backend ------------------------------------------------------------------


def test_a_munge_key_is_made_once_and_never_changed_by_a_rerun(db):
    first = register(db, request(), containers(), return_key=True)
    key = first["plan"]["munge_key"]
    assert_munge_key(key)
    assert stored(db, "lab1").munge_key == key  # no encryption_key: in clear, as the N2N key
    again = register(db, request(), return_key=True)
    assert not again["changed"] and again["plan"]["munge_key"] == key
    bigger = register(db, request(count=3), return_key=True)
    assert bigger["changed"] and bigger["plan"]["munge_key"] == key
    other = register(db, request("lab2", 1), return_key=True)["plan"]["munge_key"]
    assert_munge_key(other)
    assert other != key and other != first["plan"]["n2n_key"]
    # Never in what register returns besides the plan's keys; never in the plan without return_key.
    plain = register(db, request(count=3))
    assert "munge_key" not in plain["plan"] and key not in repr(plain) and key not in repr(again["after"])
    assert read(db, lambda conn: m.read_munge_key(conn, "lab1", None)) == key


def test_with_encryption_key_the_munge_key_is_stored_sealed_and_read_back(db):
    key = register(db, request(), containers(), passphrase=PASSPHRASE, return_key=True)["plan"]["munge_key"]
    register(db, request("lab2", 1), passphrase=PASSPHRASE)
    sealed = stored(db, "lab1").munge_key
    assert sealed.startswith("enc:v1:") and len(sealed) == 297
    assert key not in repr(dump(db)) and PASSPHRASE not in repr(dump(db))
    assert register(db, request(), passphrase=PASSPHRASE, return_key=True)["plan"]["munge_key"] == key
    assert read(db, lambda conn: m.read_munge_key(conn, "lab1", m.key_cipher(PASSPHRASE))) == key
    for passphrase, text in ((None, "munge key of cluster lab1 is encrypted in the database; give encryption_key"),
                             ("wrong", "does not decrypt the munge key of cluster lab1")):
        with pytest.raises(m.InputError) as err:
            read(db, lambda conn, p=passphrase: m.read_munge_key(conn, "lab1", m.key_cipher(p)))
        assert err.value.field == "encryption_key" and text in str(err.value)
    with pytest.raises(m.InputError, match="^names: cluster lab9 is not registered"):
        read(db, lambda conn: m.read_munge_key(conn, "lab9", None))
    # The box is bound to its cluster and its column: moved elsewhere, it does not decrypt.
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE mvc_clusters SET munge_key = :k WHERE name = 'lab2'"), {"k": sealed})
    with pytest.raises(m.InputError, match="does not decrypt the munge key of cluster lab2"):
        read(db, lambda conn: m.read_munge_key(conn, "lab2", m.key_cipher(PASSPHRASE)))
    with pytest.raises(m.InputError, match="does not decrypt the N2N key of cluster lab1"):
        _mvcdb_keys.open_key(m.key_cipher(PASSPHRASE), "lab1", sealed)  # in the N2N key's column


def test_a_clear_munge_key_is_sealed_once_an_encryption_key_is_given(db):
    key = register(db, request(), containers(), return_key=True)["plan"]["munge_key"]
    out = register(db, request(), passphrase=PASSPHRASE, return_key=True)
    assert out["changed"] and out["plan"]["munge_key"] == key
    assert all(v.startswith("enc:v1:") for v in stored(db, "lab1"))
    assert key not in repr(dump(db))
    assert not register(db, request(), passphrase=PASSPHRASE)["changed"]


@pytest.mark.parametrize("passphrase, return_key, text", [
    ("Tr0ub4dor&3", True, "does not decrypt the N2N key of cluster lab1"),
    ("Tr0ub4dor&3", False, "does not decrypt the N2N key of cluster lab1"),
    (None, True, "N2N key of cluster lab1 is encrypted in the database; give encryption_key"),
])
def test_a_wrong_or_missing_key_fails_naming_encryption_key_and_writes_nothing(db, passphrase, return_key, text):
    register(db, request(), containers(), passphrase=PASSPHRASE)
    before = dump(db)
    with pytest.raises(m.InputError) as err:
        register(db, request(count=3), passphrase=passphrase, return_key=return_key)
    assert err.value.field == "encryption_key" and text in str(err.value)
    assert dump(db) == before


def test_a_database_of_schema_1_is_migrated_and_its_clusters_get_a_munge_key_when_registered_again(db):
    plans = dict((n, register(db, request(n, 1), containers(), return_key=True)["plan"]) for n in ("lab1", "lab2"))
    as_schema_1(db)
    before = dump(db)
    # The read path reads a database it does not migrate: no munge key, nothing written.
    assert read(db, lambda conn: m.read_munge_key(conn, "lab1", None)) is None
    assert read(db, lambda conn: m.read_key(conn, "lab1", None)) == plans["lab1"]["n2n_key"]
    listed = read(db, m.read_clusters)
    assert [p["nodes"] for p in listed] == [plans["lab1"]["nodes"], plans["lab2"]["nodes"]]
    assert dump(db) == before
    assert db.migrate() == (1, m.SCHEMA_VERSION) and db.migrate() == (m.SCHEMA_VERSION, m.SCHEMA_VERSION)
    assert cluster_columns(db) == V1_CLUSTER_COLUMNS + ["munge_key", "mtu"]
    assert stored(db, "lab1").munge_key is None and stored(db, "lab2").munge_key is None
    assert read(db, lambda conn: m.read_munge_key(conn, "lab1", None)) is None  # says: none yet
    # The next registration makes it (a change, once), and keeps everything else.
    out = register(db, request("lab1", 1), return_key=True)
    assert out["changed"] and out["before"] == out["after"]
    key = out["plan"]["munge_key"]
    assert_munge_key(key)
    assert out["plan"]["n2n_key"] == plans["lab1"]["n2n_key"] and out["plan"]["nodes"] == plans["lab1"]["nodes"]
    again = register(db, request("lab1", 1), return_key=True)
    assert not again["changed"] and again["plan"]["munge_key"] == key
    assert read(db, lambda conn: m.read_munge_key(conn, "lab1", None)) == key
    assert stored(db, "lab2").munge_key is None  # not registered again: none yet


def test_in_an_encrypted_database_of_schema_1_a_munge_key_is_made_only_with_the_key(db):
    register(db, request(), containers(), passphrase=PASSPHRASE)
    as_schema_1(db)
    db.migrate()
    before = dump(db)
    with pytest.raises(m.InputError) as err:
        register(db, request(count=3), return_key=True)
    assert err.value.field == "encryption_key" and "give encryption_key" in str(err.value)
    assert dump(db) == before
    # Without return_key the plan is updated without the key, and no munge key is stored in clear.
    assert register(db, request(count=3))["changed"]
    assert stored(db, "lab1").munge_key is None
    out = register(db, request(count=3), passphrase=PASSPHRASE, return_key=True)
    assert out["changed"] and stored(db, "lab1").munge_key.startswith("enc:v1:")
    assert_munge_key(out["plan"]["munge_key"])
    assert out["plan"]["munge_key"] not in repr(dump(db))


GENERIC = [name for name in list(globals()) if name.startswith("test_")]


# --- SQLite only ---------------------------------------------------------------------------------------


def file_bytes(db):
    out = b""
    for suffix in ("", "-journal", "-wal"):
        try:
            with open(db.path + suffix, "rb") as f:
                out += f.read()
        except FileNotFoundError:
            pass
    return out


def test_the_sqlite_file_never_holds_a_sealed_munge_key_in_clear(db):
    key = register(db, request(), containers(), passphrase=PASSPHRASE, return_key=True)["plan"]["munge_key"]
    data = file_bytes(db)
    assert key.encode() not in data and base64.b64decode(key) not in data
    # A clear key re-written sealed leaves no copy in the file's free space (secure_delete).
    db2 = m.Database(db.path.replace("mvc.sqlite", "mvc2.sqlite"))
    db2.migrate()
    try:
        key2 = register(db2, request(), containers(), return_key=True)["plan"]["munge_key"]
        assert key2.encode() in file_bytes(db2)
        register(db2, request(), passphrase=PASSPHRASE)
        assert key2.encode() not in file_bytes(db2) and base64.b64decode(key2) not in file_bytes(db2)
    finally:
        db2.dispose()
