# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The munge key through cmc.mvc.vcluster and cmc.mvc.vcluster_info (return_key), run in-process on an SQLite
file: the same key on every run, only with return_key, never in a diff or other output, sealed with
encryption_key, and made for a cluster registered before schema version 2 by its next registration."""
from __future__ import annotations

import base64
import json
import sqlite3

from ansible_collections.cmc.mvc.plugins.modules import vcluster, vcluster_info
from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils.mvcdb_data import CONTAINERS, REQUEST

PASSPHRASE = "vault-given munge passphrase"


def db_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def is_munge_key(key):
    return isinstance(key, str) and len(base64.b64decode(key, validate=True)) == 128


def test_the_same_munge_key_on_every_run_and_only_with_return_key(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    first = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, return_key=True)
    assert first["rc"] == 0 and first["changed"] and is_munge_key(first["munge_key"])
    key = first["munge_key"]
    again = run_module(vcluster, diff=True, request=REQUEST, database=db, return_key=True)
    assert not again["changed"] and again["munge_key"] == key
    assert key not in json.dumps(again["diff"]) and key not in json.dumps(again["vcluster"])
    bigger = run_module(vcluster, diff=True, request=dict(REQUEST, compute={"count": 3}), database=db)
    assert bigger["changed"] and "munge_key" not in bigger and key not in bigger["text"]
    info = run_module(vcluster_info, names=["lab1"], return_key=True, database=db)
    assert info["rc"] == 0 and info["munge_key"] == key
    plain = run_module(vcluster_info, database=db)
    assert "munge_key" not in plain and key not in plain["text"]
    other = run_module(vcluster, request=dict(REQUEST, name="lab2"), database=db, return_key=True)["munge_key"]
    assert is_munge_key(other) and other != key


def test_with_encryption_key_the_munge_key_is_not_in_the_file(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    out = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, encryption_key=PASSPHRASE,
                     return_key=True)
    key = out["munge_key"]
    assert out["rc"] == 0 and is_munge_key(key)
    assert key.encode() not in db_bytes(db) and base64.b64decode(key) not in db_bytes(db)
    info = run_module(vcluster_info, names=["lab1"], return_key=True, database=db, encryption_key=PASSPHRASE)
    assert info["munge_key"] == key and PASSPHRASE not in info["text"]
    before = db_bytes(db)
    for args in ({}, {"encryption_key": "not it"}):
        failed = run_module(vcluster_info, names=["lab1"], return_key=True, database=db, **args)
        assert failed["rc"] == 1 and failed["field"] == "encryption_key" and key not in failed["text"]
        failed = run_module(vcluster, request=REQUEST, database=db, return_key=True, **args)
        assert failed["rc"] == 1 and failed["field"] == "encryption_key" and key not in failed["text"]
    assert db_bytes(db) == before


def test_a_cluster_registered_before_munge_keys_gets_one_on_its_next_registration(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    n2n = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, return_key=True)["n2n_key"]
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE mvc_clusters DROP COLUMN munge_key")  # as schema version 1 made it
    conn.execute("ALTER TABLE mvc_clusters DROP COLUMN mtu")
    conn.execute("UPDATE mvc_meta SET schema_version = 1")
    conn.commit()
    conn.close()
    before = db_bytes(db)
    # Read-only: says there is none yet, and neither migrates nor writes.
    info = run_module(vcluster_info, names=["lab1"], return_key=True, database=db)
    assert info["rc"] == 0 and info["n2n_key"] == n2n and info["munge_key"] is None
    assert "has no munge key yet" in json.dumps(info["warnings"]) and db_bytes(db) == before
    out = run_module(vcluster, request=REQUEST, database=db, return_key=True)
    assert out["rc"] == 0 and out["changed"] and is_munge_key(out["munge_key"]) and out["n2n_key"] == n2n
    again = run_module(vcluster, request=REQUEST, database=db, return_key=True)
    assert not again["changed"] and again["munge_key"] == out["munge_key"]
    info = run_module(vcluster_info, names=["lab1"], return_key=True, database=db)
    assert info["munge_key"] == out["munge_key"]


def test_a_check_run_of_a_first_deployment_gets_a_throwaway_munge_key(tmp_path, run_module):
    db = tmp_path / "mvc.sqlite"
    reg = run_module(vcluster, check_mode=True, request=REQUEST, vm_containers=CONTAINERS, database=str(db),
                     return_key=True)
    assert reg["rc"] == 0 and is_munge_key(reg["munge_key"])
    info = run_module(vcluster_info, check_mode=True, names=["lab1"], return_key=True, database=str(db))
    assert info["rc"] == 0 and is_munge_key(info["munge_key"]) and info["munge_key"] != reg["munge_key"]
    assert not db.exists()
