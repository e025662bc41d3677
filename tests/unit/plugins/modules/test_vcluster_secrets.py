# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""encryption_key of cmc.mvc.vcluster and cmc.mvc.vcluster_info, and what deploy_mvc asks after registering:
cmc.mvc.vcluster_info return_key=true (a read, no write lock) and cmc.mvc.vcluster state=deployed (no
registration). Run in-process on an SQLite file."""
from __future__ import annotations

import json
import sqlite3
import time

import pytest

from ansible_collections.cmc.mvc.plugins.modules import vcluster, vcluster_info
from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils.mvcdb_data import CONTAINERS, REQUEST

PASSPHRASE = "vault-given passphrase 42"


def db_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_encryption_key_keeps_the_key_out_of_the_file_and_the_output(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    out = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, encryption_key=PASSPHRASE,
                     return_key=True)
    assert out["rc"] == 0 and out["changed"]
    key = out["n2n_key"]
    assert len(key) >= 32 and key.encode() not in db_bytes(db) and PASSPHRASE.encode() not in db_bytes(db)
    assert PASSPHRASE not in out["text"]
    info = run_module(vcluster_info, database=db, encryption_key=PASSPHRASE)
    assert info["rc"] == 0 and info["clusters"][0]["cluster"]["name"] == "lab1"
    assert key not in info["text"] and "enc:v1:" not in info["text"] and PASSPHRASE not in info["text"]
    # Without the key: the plan can still be updated, the key cannot be read.
    assert run_module(vcluster, request=REQUEST, database=db)["rc"] == 0
    before = db_bytes(db)
    failed = run_module(vcluster, request=REQUEST, database=db, return_key=True)
    assert failed["rc"] == 1 and failed["field"] == "encryption_key" and "encryption_key" in failed["msg"]
    assert db_bytes(db) == before


def test_a_wrong_key_fails_naming_encryption_key_and_changes_nothing(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    assert run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db,
                      encryption_key=PASSPHRASE)["rc"] == 0
    before = db_bytes(db)
    bigger = dict(REQUEST, compute={"count": 3})
    out = run_module(vcluster, request=bigger, database=db, encryption_key="not the passphrase", return_key=True)
    assert out["rc"] == 1 and out["field"] == "encryption_key"
    assert out["msg"].startswith("encryption_key: does not decrypt the N2N key of cluster lab1")
    assert "not the passphrase" not in out["text"] and "n2n_key" not in out
    assert db_bytes(db) == before


def test_the_key_comes_from_the_environment(tmp_path, run_module, monkeypatch):
    db = str(tmp_path / "mvc.sqlite")
    monkeypatch.setenv("CMC_MVC_DATABASE_ENCRYPTION_KEY", PASSPHRASE)
    key = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, return_key=True)["n2n_key"]
    assert key.encode() not in db_bytes(db)
    monkeypatch.delenv("CMC_MVC_DATABASE_ENCRYPTION_KEY")
    assert run_module(vcluster, request=REQUEST, database=db, return_key=True)["rc"] == 1
    monkeypatch.setenv("MVC_DB_ENCRYPTION_KEY", PASSPHRASE)
    assert run_module(vcluster, request=REQUEST, database=db, return_key=True)["n2n_key"] == key


def test_a_clear_database_is_encrypted_cluster_by_cluster(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    key = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, return_key=True)["n2n_key"]
    assert key.encode() in db_bytes(db)
    before = db_bytes(db)
    check = run_module(vcluster, request=REQUEST, database=db, encryption_key=PASSPHRASE, _ansible_check_mode=True)
    assert check["rc"] == 0 and check["changed"] and db_bytes(db) == before
    out = run_module(vcluster, request=REQUEST, database=db, encryption_key=PASSPHRASE, return_key=True)
    assert out["changed"] and out["n2n_key"] == key and key.encode() not in db_bytes(db)
    key2 = run_module(vcluster, request=dict(REQUEST, name="lab2"), database=db, return_key=True,
                      encryption_key=PASSPHRASE)["n2n_key"]
    assert key2.encode() not in db_bytes(db)
    # state=absent needs no key.
    assert run_module(vcluster, request={"name": "lab1"}, state="absent", database=db)["changed"]


@pytest.fixture
def registered(tmp_path, run_module):
    """An SQLite file with lab1 registered (key encrypted) and its registration's output."""
    db = str(tmp_path / "mvc.sqlite")
    out = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db, encryption_key=PASSPHRASE,
                     return_key=True)
    assert out["rc"] == 0 and out["changed"]
    return db, out


def test_the_key_is_read_while_another_run_holds_the_write_lock(registered, run_module):
    db, first = registered
    before = db_bytes(db)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # what a registering vcluster holds: a writer would wait 60 s here
        t0 = time.monotonic()
        out = run_module(vcluster_info, names=["lab1"], return_key=True, database=db, encryption_key=PASSPHRASE)
        assert time.monotonic() - t0 < 30
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert out["rc"] == 0 and not out["changed"] and out["n2n_key"] == first["n2n_key"]
    assert out["clusters"][0]["nodes"] == first["vcluster"]["nodes"]
    assert PASSPHRASE not in out["text"] and "enc:v1:" not in out["text"]
    assert db_bytes(db) == before
    # Without return_key, the key is never read (nor returned).
    plain = run_module(vcluster_info, names=["lab1"], database=db)
    assert "n2n_key" not in plain and first["n2n_key"] not in plain["text"]


@pytest.mark.parametrize("args, field, text", [
    ({"names": ["lab1"]}, "encryption_key", "is encrypted in the database; give encryption_key"),
    ({"names": ["lab1"], "encryption_key": "wrong"}, "encryption_key", "does not decrypt"),
    ({"names": ["lab1", "lab2"], "encryption_key": PASSPHRASE}, "names", "give exactly one cluster"),
    ({"names": ["lab2"], "encryption_key": PASSPHRASE}, "names", "cluster lab2 is not registered"),
])
def test_reading_the_key_fails_naming_the_field(registered, run_module, args, field, text):
    db, first = registered
    before = db_bytes(db)
    out = run_module(vcluster_info, return_key=True, database=db, **args)
    assert out["rc"] == 1 and out["field"] == field and text in out["msg"], out["msg"]
    assert first["n2n_key"] not in out["text"] and "n2n_key" not in out
    assert db_bytes(db) == before


def test_reading_the_key_needs_names_and_a_database(tmp_path, run_module):
    out = run_module(vcluster_info, return_key=True, database=str(tmp_path / "mvc.sqlite"))
    assert out["rc"] == 1 and "names" in out["msg"]
    out = run_module(vcluster_info, return_key=True, names=["lab1"], database=str(tmp_path / "none.sqlite"))
    assert out["rc"] == 1 and out["field"] == "names" and "not registered" in out["msg"]
    assert not (tmp_path / "none.sqlite").exists()


def test_state_deployed_marks_nodes_without_registering(registered, run_module):
    db, first = registered
    names = [n["name"] for n in first["vcluster"]["nodes"]]
    before = db_bytes(db)
    # Only the name is read: no owner, no VM containers, no encryption_key needed.
    check = run_module(vcluster, check_mode=True, diff=True, request={"name": "lab1"}, state="deployed", nodes=names,
                       database=db)
    assert check["rc"] == 0 and check["changed"] and db_bytes(db) == before
    assert [n["status"] for n in check["diff"]["before"]["nodes"]] == ["planned"] * 3
    assert [n["status"] for n in check["diff"]["after"]["nodes"]] == ["deployed"] * 3
    out = run_module(vcluster, diff=True, request={"name": "lab1"}, state="deployed", nodes=names, database=db)
    assert out["rc"] == 0 and out["changed"] and out["vcluster"]["cluster"]["status"] == "deployed"
    assert out["removed"] == {"nodes": [], "edges": []} and "n2n_key" not in out
    assert [dict(n, status="planned") for n in out["vcluster"]["nodes"]] == first["vcluster"]["nodes"]
    done = db_bytes(db)
    again = run_module(vcluster, request={"name": "lab1"}, state="deployed", nodes=names, database=db)
    assert again["rc"] == 0 and not again["changed"] and db_bytes(db) == done
    # The registration that follows sees them deployed and changes nothing.
    reg = run_module(vcluster, request=REQUEST, database=db, encryption_key=PASSPHRASE)
    assert reg["rc"] == 0 and not reg["changed"] and reg["vcluster"] == out["vcluster"] and db_bytes(db) == done


def test_state_deployed_refusals(registered, run_module):
    db, _first = registered
    before = db_bytes(db)
    out = run_module(vcluster, request={"name": "lab1"}, state="deployed", nodes=["lab1-compute-9"], database=db)
    assert out["rc"] == 1 and out["field"] == "nodes[0]" and "lab1-compute-9" in out["msg"]
    out = run_module(vcluster, request={"name": "lab2"}, state="deployed", database=db)
    assert out["rc"] == 1 and out["field"] == "request.name" and "not registered" in out["msg"]
    assert db_bytes(db) == before


def test_a_check_run_of_a_first_deployment_goes_on(tmp_path, run_module):
    """deploy_mvc --check of a new cluster: its registration is rolled back, so the steps after it find none."""
    db = tmp_path / "mvc.sqlite"
    reg = run_module(vcluster, check_mode=True, request=REQUEST, vm_containers=CONTAINERS, database=str(db))
    assert reg["rc"] == 0 and reg["changed"]
    key = run_module(vcluster_info, check_mode=True, names=["lab1"], return_key=True, database=str(db))
    assert key["rc"] == 0 and len(key["n2n_key"]) >= 32 and key["clusters"] == []
    assert "throwaway" in json.dumps(key["warnings"])
    mark = run_module(vcluster, check_mode=True, request={"name": "lab1"}, state="deployed",
                      nodes=[n["name"] for n in reg["vcluster"]["nodes"]], database=str(db))
    assert mark["rc"] == 0 and mark["changed"] and "not registered" in json.dumps(mark["warnings"])
    assert not db.exists()
