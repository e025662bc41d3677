# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""encryption_key of cmc.mvc.vcluster and cmc.mvc.vcluster_info, run in-process on an SQLite file."""
from __future__ import annotations

from ansible_collections.cmc.mvc.plugins.modules import vcluster, vcluster_info

CONTAINERS = [{"inventory_hostname": "vm-container-0-%d.%s" % (i, s), "mvc_site": s,
               "mvc_free": {"cpus": 8, "memory_mb": 8192, "disk_gb": 100}} for s in ("osaka", "sdsc") for i in range(2)]
REQUEST = {"name": "lab1", "owner": "alice", "compute": {"count": 2}}
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
