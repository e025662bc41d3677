# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""N2N keys at rest in the MVC database (SQLite file): encrypted with encryption_key, or in clear without it."""
from __future__ import annotations

import functools
import os

import pytest
import sqlalchemy as sa

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m
from ansible_collections.cmc.mvc.plugins.module_utils import _secrets
from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils.mvcdb_data import containers, register, request

PASSPHRASE = "correct horse battery staple"


def files_bytes(db):
    """The bytes of the SQLite file and of any journal or WAL beside it."""
    out = b""
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(db.path + suffix):
            with open(db.path + suffix, "rb") as f:
                out += f.read()
    return out


def stored_keys(db):
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.select(m.T_CLUSTERS.c.name, m.T_CLUSTERS.c.n2n_key)).all())


def all_rows(db):
    with db.engine.connect() as conn:
        return dict((t.name, sorted(tuple(map(str, r)) for r in conn.execute(sa.select(t)))) for t in m.V1_TABLES)


def test_an_encrypted_database_holds_no_key_in_clear(db):
    first = register(db, request(), containers(), passphrase=PASSPHRASE, return_key=True)
    second = register(db, request("lab2", 1), passphrase=PASSPHRASE, return_key=True)
    keys = [first["plan"]["n2n_key"], second["plan"]["n2n_key"]]
    assert all(len(k) >= 32 for k in keys) and keys[0] != keys[1]
    data = files_bytes(db)
    for key in keys:
        assert key.encode() not in data
    assert PASSPHRASE.encode() not in data
    stored = stored_keys(db)
    assert all(v.startswith("enc:v1:") and len(v) <= m.T_CLUSTERS.c.n2n_key.type.length for v in stored.values())
    # The right key gives the keys back, changes nothing and re-writes nothing.
    before = files_bytes(db)
    again = register(db, request(), passphrase=PASSPHRASE, return_key=True)
    assert not again["changed"] and again["plan"]["n2n_key"] == keys[0]
    assert files_bytes(db) == before
    # The key never shows in what register returns besides the plan's n2n_key.
    assert keys[0] not in repr(again["before"]) + repr(again["after"])


def test_a_database_written_without_a_key_stays_readable_with_and_without_one(db):
    key = register(db, request(), containers(), return_key=True)["plan"]["n2n_key"]
    assert stored_keys(db) == {"lab1": key}
    assert register(db, request(), return_key=True)["plan"]["n2n_key"] == key
    # With a key, the clear key of the cluster touched is re-written encrypted, and stays the same key.
    out = register(db, request(), passphrase=PASSPHRASE, return_key=True)
    assert out["changed"] and out["plan"]["n2n_key"] == key
    assert stored_keys(db)["lab1"].startswith("enc:v1:") and key.encode() not in files_bytes(db)
    assert not register(db, request(), passphrase=PASSPHRASE)["changed"]
    assert register(db, request(), passphrase=PASSPHRASE, return_key=True)["plan"]["n2n_key"] == key


def test_clear_keys_of_clusters_not_touched_stay_readable_beside_encrypted_ones(db):
    clear = register(db, request("old1", 1), containers(), return_key=True)["plan"]["n2n_key"]
    register(db, request(), passphrase=PASSPHRASE)
    assert stored_keys(db)["old1"] == clear
    assert register(db, request("old1", 1), return_key=True)["plan"]["n2n_key"] == clear
    # Touching it with the key encrypts it too.
    assert register(db, request("old1", 1), passphrase=PASSPHRASE, return_key=True)["plan"]["n2n_key"] == clear
    assert clear.encode() not in files_bytes(db)


@pytest.mark.parametrize("passphrase, name, text", [
    ("Tr0ub4dor&3", "lab1", "does not decrypt the N2N key of cluster lab1"),
    ("Tr0ub4dor&3", "lab2", "does not decrypt the N2N key of cluster lab1"),  # new cluster, other key checked
    (None, "lab1", "N2N key of cluster lab1 is encrypted in the database; give encryption_key"),
    (None, "lab2", "holds encrypted N2N keys; give encryption_key to register cluster lab2"),
])
def test_a_wrong_or_missing_key_fails_naming_encryption_key_and_changes_nothing(db, passphrase, name, text):
    register(db, request(), containers(), passphrase=PASSPHRASE)
    before_rows, before_bytes = all_rows(db), files_bytes(db)
    new_hosts = m.normalize_containers([{"inventory_hostname": "vm-container-0-9.osaka", "mvc_site": "osaka",
                                         "mvc_free": {"cpus": 2, "memory_mb": 2048, "disk_gb": 10}}])
    with pytest.raises(m.InputError) as err:
        register(db, request(name, 3), new_hosts, passphrase=passphrase, return_key=True)
    assert err.value.field == "encryption_key" and str(err.value).startswith("encryption_key: ")
    assert text in str(err.value)
    assert "Tr0ub4dor" not in str(err.value) and PASSPHRASE not in str(err.value)
    assert all_rows(db) == before_rows and files_bytes(db) == before_bytes


def test_without_return_key_an_encrypted_cluster_is_updated_without_the_key(db):
    register(db, request(), containers(), passphrase=PASSPHRASE)
    stored = stored_keys(db)["lab1"]
    out = register(db, request(count=3))
    assert out["changed"] and len(out["plan"]["nodes"]) == 4 and "n2n_key" not in out["plan"]
    assert stored_keys(db)["lab1"] == stored
    assert db.run(lambda conn: m.unregister(conn, "lab1"))["cluster"]["name"] == "lab1"


def test_the_cipher_is_authenticated_and_bound_to_the_cluster():
    c = _secrets.Cipher(PASSPHRASE)
    box = c.encrypt("k" * 32, "mvc_clusters.n2n_key:lab1")
    assert len(box) == 110 and "k" * 8 not in box and PASSPHRASE not in repr(c)
    assert _secrets.Cipher(PASSPHRASE).decrypt(box, "mvc_clusters.n2n_key:lab1") == "k" * 32
    assert c.decrypt("plain-key", "x") == "plain-key"
    flipped = box[:-10] + ("B" if box[-10] == "A" else "A") + box[-9:]
    for bad, context in ((box, "mvc_clusters.n2n_key:lab2"), (flipped, "mvc_clusters.n2n_key:lab1")):
        with pytest.raises(_secrets.SecretError):
            c.decrypt(bad, context)
    with pytest.raises(_secrets.SecretError, match="damaged"):
        c.decrypt("enc:v1:nonsense", "")
    with pytest.raises(_secrets.SecretError, match="unknown encryption format"):
        c.decrypt("enc:v9:a:b", "")
    with pytest.raises(m.InputError, match="^encryption_key: is empty"):
        m.key_cipher("")
    assert m.key_cipher(None) is None


def test_read_key_decrypts_with_the_key_and_fails_naming_it_without(db):
    key = register(db, request(), containers(), passphrase=PASSPHRASE, return_key=True)["plan"]["n2n_key"]
    before = files_bytes(db)
    reader = m.Database(db.path, readonly=True, create=False)
    try:
        assert reader.run(lambda conn: m.read_key(conn, "lab1", m.key_cipher(PASSPHRASE))) == key
        for cipher, text in ((None, "is encrypted in the database; give encryption_key"),
                             (m.key_cipher("not the passphrase"), "does not decrypt the N2N key of cluster lab1")):
            with pytest.raises(m.InputError, match=text) as err:
                reader.run(functools.partial(m.read_key, name="lab1", cipher=cipher))
            assert err.value.field == "encryption_key"
    finally:
        reader.dispose()
    assert files_bytes(db) == before
