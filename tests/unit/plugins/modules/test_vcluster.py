# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cmc.mvc.vcluster module, run in-process on an SQLite file."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.modules import vcluster

CONTAINERS = [{"inventory_hostname": "vm-container-0-%d.%s" % (i, s), "mvc_site": s,
               "mvc_free": {"cpus": 8, "memory_mb": 8192, "disk_gb": 100}} for s in ("osaka", "sdsc") for i in range(2)]
REQUEST = {"name": "lab1", "owner": "alice", "compute": {"count": 4}, "placement": {"osaka": 2, "sdsc": 2}}


def test_check_mode_on_a_new_database_creates_nothing(tmp_path, run_module):
    path = tmp_path / "sub" / "mvc.sqlite"
    out = run_module(vcluster, check_mode=True, diff=True, request=REQUEST, vm_containers=CONTAINERS, database=str(path))
    assert out["rc"] == 0 and out["changed"] and len(out["vcluster"]["nodes"]) == 5
    assert out["diff"]["before"] == {} and out["diff"]["after"]["nodes"]
    assert not path.exists() and not path.parent.exists()
    assert out["database"] == "sqlite:///%s" % path


def test_present_then_unchanged_then_absent(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    first = run_module(vcluster, diff=True, request=REQUEST, vm_containers=CONTAINERS, database=db)
    assert first["rc"] == 0 and first["changed"]
    assert oct(os.stat(db).st_mode & 0o777) == "0o600"
    plan = first["vcluster"]
    sites = [n["site"] for n in plan["nodes"]]
    assert sites[0] == "osaka" and sites[1:].count("osaka") == 2 and sites[1:].count("sdsc") == 2
    assert "n2n_key" not in first
    before = open(db, "rb").read()
    again = run_module(vcluster, diff=True, request=REQUEST, vm_containers=CONTAINERS, database=db)
    assert not again["changed"] and again["vcluster"] == plan and again["diff"]["before"] == again["diff"]["after"]
    assert open(db, "rb").read() == before
    # Without vm_containers the stored ones are used.
    assert not run_module(vcluster, request=REQUEST, database=db)["changed"]
    check = run_module(vcluster, check_mode=True, request={"name": "lab1"}, state="absent", database=db)
    assert check["changed"] and open(db, "rb").read() == before
    gone = run_module(vcluster, request={"name": "lab1"}, state="absent", database=db)
    assert gone["changed"] and gone["vcluster"]["cluster"]["name"] == "lab1"
    assert not run_module(vcluster, request={"name": "lab1"}, state="absent", database=db)["changed"]


def test_the_key_is_returned_only_when_asked_and_never_in_diff(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    out = run_module(vcluster, diff=True, request=REQUEST, vm_containers=CONTAINERS, database=db, return_key=True)
    key = out["n2n_key"]
    assert len(key) >= 32
    assert key not in json.dumps(out["diff"]) and key not in json.dumps(out["vcluster"])
    again = run_module(vcluster, diff=True, request=REQUEST, database=db)
    assert key not in json.dumps(again) and "n2n_key" not in again
    assert run_module(vcluster, request=REQUEST, database=db, return_key=True)["n2n_key"] == key


def test_scaling_up_changes_only_the_new_nodes(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    first = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db)["vcluster"]
    bigger = dict(REQUEST, compute={"count": 6}, placement={"osaka": 3, "sdsc": 3})
    out = run_module(vcluster, diff=True, request=bigger, database=db)
    assert out["changed"]
    assert out["vcluster"]["nodes"][:5] == first["nodes"]
    assert [n["name"] for n in out["vcluster"]["nodes"][5:]] == ["lab1-compute-4", "lab1-compute-5"]


def test_a_deployed_cluster_keeps_its_mtu(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    check = run_module(vcluster, check_mode=True, request=REQUEST, vm_containers=CONTAINERS, database=db, mtu=1364)
    assert check["rc"] == 0 and check["vcluster"]["cluster"]["mtu"] == 1364 and not os.path.exists(db)
    first = run_module(vcluster, diff=True, request=REQUEST, vm_containers=CONTAINERS, database=db, mtu=1364)
    assert first["changed"] and first["vcluster"]["cluster"]["mtu"] == 1364
    assert first["diff"]["after"]["cluster"]["mtu"] == 1364
    assert run_module(vcluster, request={"name": "lab1"}, state="deployed", database=db)["changed"]
    wider = run_module(vcluster, request=REQUEST, database=db, mtu=1420)
    assert not wider["changed"] and wider["vcluster"]["cluster"]["mtu"] == 1364
    before = open(db, "rb").read()
    bigger = dict(REQUEST, compute={"count": 6}, placement={"osaka": 3, "sdsc": 3})
    for check_mode in (True, False):
        out = run_module(vcluster, check_mode=check_mode, request=bigger, database=db, mtu=1300)
        assert out["rc"] == 1 and out["field"] == "mtu"
        assert out["msg"].startswith("mtu: 1300 is smaller than the MTU 1364 of cluster lab1, which its guests' NICs")
        assert open(db, "rb").read() == before
    out = run_module(vcluster, request=REQUEST, database=db, mtu="big")
    assert out["rc"] == 1 and "mtu" in out["msg"] and open(db, "rb").read() == before


def test_bad_input_fails_naming_the_field_and_writes_nothing(tmp_path, run_module):
    db = tmp_path / "mvc.sqlite"
    bad = dict(REQUEST, compute={"count": -1})
    out = run_module(vcluster, request=bad, vm_containers=CONTAINERS, database=str(db))
    assert out["rc"] == 1 and out["failed"]
    assert out["msg"] == "vcluster.compute.count: must be an integer >= 0, got -1"
    assert out["field"] == "vcluster.compute.count"
    assert not db.exists()
    out = run_module(vcluster, request=dict(REQUEST, name="big", compute={"count": 100}, placement="spread"),
                     vm_containers=CONTAINERS, database=str(db))
    assert out["rc"] == 1 and "short of 69 vCPUs" in out["msg"]
    out = run_module(vcluster, request=REQUEST, vm_containers=[{"name": "x"}], database=str(db))
    assert out["msg"].startswith("vm_containers[0] (x).mvc_site: ")
    out = run_module(vcluster, request=REQUEST, database=str(db), overlay_pool="10.200.0.0")
    assert out["msg"].startswith("overlay_pool: ")


@pytest.mark.parametrize("changes, msg", [
    # ansible-core's own check of nested options gives a traceback for these two, and names no field for the third.
    ({"frontend": [1]}, "vcluster.frontend: must be a mapping, got list"),
    ({"compute": 4}, "vcluster.compute: must be a mapping, got int"),
    ({"users": "alice"}, "vcluster.users: must be a list, got str"),
    ({"users": [{"name": "a"}, {"name": "b", "sudo": "maybe"}]},
     "vcluster.users[1].sudo: must be true or false, got 'maybe'"),
    ({"compute": {"count": "x" * 5000}},
     "vcluster.compute.count: must be an integer, got '%s... (5000 characters)" % ("x" * 39)),
    ({"compute": {"cores": 2}}, "vcluster.compute.cores: unknown key (known: count, vcpus, memory_mb, disk_gb)"),
    ({"services": {"scheduler": "pbs"}}, "vcluster.services.scheduler: must be one of slurm, none, got 'pbs'"),
    ({"compute": {"count": 0}, "placement": "spread", "services": {"scheduler": "slurm"}},
     "vcluster.services.scheduler: slurm needs at least one compute node, but compute.count is 0 (give scheduler: none "
     "for a cluster of the frontend alone)"),
    ({"compute": {"count": 4, "memory_mb": 96}, "services": {"scheduler": "slurm"}},
     "vcluster.compute.memory_mb: 96 is below 128, what a node needs for the kernel, munge and Slurm's daemon with "
     "services.scheduler slurm"),
    ({"users": [{"name": "a", "uid": 100}]}, "vcluster.users[0].uid: must be an integer >= 1000, got 100"),
])
def test_a_bad_request_names_the_field_and_writes_nothing(tmp_path, run_module, changes, msg):
    db = tmp_path / "mvc.sqlite"
    out = run_module(vcluster, request=dict(REQUEST, **changes), vm_containers=CONTAINERS, database=str(db),
                     database_password="pw-S3cret")
    assert out["rc"] == 1 and out["msg"] == msg and out["field"] == msg.split(":")[0]
    assert "pw-S3cret" not in out["text"]
    assert not db.exists()


def test_services_and_uids_are_recorded_and_old_requests_keep_their_digest(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    first = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db)["vcluster"]["cluster"]
    assert first["services"] == {"scheduler": "slurm", "shared_home": True, "mpi": "openmpi"}
    # The services that REQUEST gets by default, given explicitly: the same request, nothing changes.
    same = dict(REQUEST, services={"scheduler": "slurm", "shared_home": True, "mpi": "openmpi"})
    out = run_module(vcluster, request=same, database=db)
    assert not out["changed"] and out["vcluster"]["cluster"]["request_digest"] == first["request_digest"]
    other = dict(REQUEST, services={"shared_home": False}, users=[{"name": "alice", "uid": 1500}])
    out = run_module(vcluster, request=other, database=db)
    assert out["changed"] and out["vcluster"]["cluster"]["users"] == [
        {"name": "alice", "ssh_keys": [], "sudo": False, "uid": 1500}]
    with sqlite3.connect(db) as conn:
        stored = json.loads(conn.execute("SELECT request_json FROM mvc_clusters").fetchone()[0])
    assert stored["services"] == {"scheduler": "slurm", "shared_home": False, "mpi": "openmpi"}
    assert out["vcluster"]["cluster"]["services"] == stored["services"]


def test_the_request_is_checked_once_per_call(tmp_path, run_module, monkeypatch):
    calls = []
    real = _request.check

    def counted(*args, **kwargs):
        calls.append(args[0]["name"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_request, "check", counted)
    out = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=str(tmp_path / "mvc.sqlite"))
    assert out["rc"] == 0 and calls == ["lab1"]


def test_node_status(tmp_path, run_module):
    db = str(tmp_path / "mvc.sqlite")
    run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database=db)
    out = run_module(vcluster, request=REQUEST, database=db, node_status={"lab1-frontend": "deployed"})
    assert out["changed"] and out["vcluster"]["nodes"][0]["status"] == "deployed"
    out = run_module(vcluster, request=REQUEST, database=db, node_status={"lab1-frontend": "gone"})
    assert out["rc"] == 1 and out["msg"].startswith("node_status.lab1-frontend: must be one of")


def test_database_password_never_in_output(run_module):
    out = run_module(vcluster, request=REQUEST, database="postgresql://mvc@127.0.0.1:1/mvc", database_password="pw-S3cret")
    assert out["rc"] == 1 and "pw-S3cret" not in json.dumps(out)
    assert out["database"] == "postgresql+psycopg://mvc:***@127.0.0.1:1/mvc"
    out = run_module(vcluster, request=REQUEST, database="postgresql://mvc:pw-S3cret2@127.0.0.1:1/mvc")
    assert out["rc"] == 1 and "pw-S3cret2" not in json.dumps(out)


def test_an_in_memory_database_is_refused(run_module):
    out = run_module(vcluster, request=REQUEST, vm_containers=CONTAINERS, database="sqlite://")
    assert out["rc"] == 1 and out["msg"].startswith("database: an in-memory SQLite database")
