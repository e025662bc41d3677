# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cmc.mvc.vcluster inventory plugin over an SQLite MVC database, run in-process."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template


def _ensure_collection_loader():
    """ansible-test units installs Ansible's collection finder; a plain pytest run needs it installed here."""
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    if not any(isinstance(f, _AnsibleCollectionFinder) for f in sys.meta_path):
        from ansible.plugins.loader import init_plugin_loader
        init_plugin_loader()


_ensure_collection_loader()

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb  # noqa: E402  pylint: disable=wrong-import-position

from ansible.inventory.manager import InventoryManager  # noqa: E402  pylint: disable=wrong-import-position

CONTAINERS = [{"inventory_hostname": "vm-container-0-%d.%s" % (i, s), "mvc_site": s,
               "mvc_free": {"cpus": 8, "memory_mb": 8192, "disk_gb": 100}} for s in ("osaka", "sdsc-2") for i in range(2)]


def _register(path, name, count, mtu=None, **kw):
    db = _mvcdb.Database(str(path))
    db.migrate()
    req = dict({"name": name, "owner": "alice", "compute": {"count": count}}, **kw)
    out = db.run(lambda conn: _mvcdb.register(conn, req, _mvcdb.normalize_containers(CONTAINERS), return_key=True,
                                              mtu=mtu))
    db.dispose()
    return out["plan"]


def _inventory(tmp_path, config, cache=True):
    path = tmp_path / "mvc.vcluster.yml"
    path.write_text(json.dumps(dict({"plugin": "cmc.mvc.vcluster"}, **config)))
    inv = InventoryManager(loader=DataLoader(), sources=[], cache=cache)
    from ansible.plugins.loader import inventory_loader
    plugin = inventory_loader.get("cmc.mvc.vcluster")
    assert plugin.verify_file(str(path))
    plugin.parse(inv._inventory, DataLoader(), str(path), cache=cache)
    try:
        plugin.update_cache_if_changed()
    except AttributeError:
        pass
    return inv._inventory


def test_verify_file_wants_vcluster_yml(tmp_path):
    from ansible.plugins.loader import inventory_loader
    plugin = inventory_loader.get("cmc.mvc.vcluster")
    for name, ok in (("a.vcluster.yml", True), ("vcluster.yaml", True), ("a.yml", False)):
        (tmp_path / name).write_text("plugin: cmc.mvc.vcluster\n")
        assert plugin.verify_file(str(tmp_path / name)) is ok


def test_groups_hostvars_and_no_key(tmp_path):
    one = _register(tmp_path / "mvc.sqlite", "lab1", 3, mtu=1364)
    two = _register(tmp_path / "mvc.sqlite", "lab-2", 1, placement={"sdsc-2": 1})
    inv = _inventory(tmp_path, {"database": "mvc.sqlite"})  # relative to the inventory file
    groups = inv.get_groups_dict()
    assert sorted(groups["vc_lab1"]) == sorted(n["name"] for n in one["nodes"])
    assert groups["vc_lab1_frontend"] == ["lab1-frontend"]
    assert sorted(groups["vc_lab1_compute"]) == ["lab1-compute-0", "lab1-compute-1", "lab1-compute-2"]
    assert sorted(groups["vc_lab1_site_osaka"] + groups["vc_lab1_site_sdsc_2"]) == sorted(groups["vc_lab1"])
    assert sorted(groups["vc_lab_2"]) == ["lab-2-compute-0", "lab-2-frontend"]
    assert sorted(groups["vc_lab_2_site_sdsc_2"]) == ["lab-2-compute-0", "lab-2-frontend"]
    hv = inv.get_host("lab1-compute-0").get_vars()
    node = one["nodes"][1]
    assert hv["mvc_cluster"] == "lab1" and hv["mvc_role"] == "compute" and hv["mvc_index"] == 0
    assert hv["mvc_overlay_ip"] == node["overlay_ip"] and hv["mvc_mac"] == node["mac"] and hv["mvc_dom0"] == node["dom0"]
    assert hv["mvc_site"] == node["site"] and hv["mvc_vcpus"] == 1 and hv["mvc_memory_mb"] == 256
    assert hv["mvc_overlay_prefix"] == 24 and hv["mvc_bridge"] == "mvc-lab1" and hv["mvc_subnet"] == "10.200.0.0/24"
    assert hv["mvc_mtu"] == 1364 and inv.get_host("lab-2-frontend").get_vars()["mvc_mtu"] is None
    assert not is_trusted_as_template(hv["mvc_dom0"]) and not is_trusted_as_template(hv["mvc_cluster"])
    everything = json.dumps(dict((h, dict((k, str(v)) for k, v in inv.get_host(h).get_vars().items()))
                                 for h in inv.hosts))
    assert one["n2n_key"] not in everything and two["n2n_key"] not in everything and "n2n_key" not in everything
    assert one["munge_key"] not in everything and two["munge_key"] not in everything and "munge" not in everything


def test_ansible_inventory_output_has_no_key(tmp_path):
    """What a user sees: ``ansible-inventory --list`` and ``--host``, with -vvv, holds neither key."""
    plan = _register(tmp_path / "mvc.sqlite", "lab1", 1)
    assert len(plan["munge_key"]) > 100 and len(plan["n2n_key"]) >= 32
    (tmp_path / "mvc.vcluster.yml").write_text("plugin: cmc.mvc.vcluster\ndatabase: mvc.sqlite\n")
    # The directory that holds ansible_collections/cmc/mvc, wherever this run imports the collection from.
    collections = os.path.dirname(_mvcdb.__file__).rsplit(os.sep + "ansible_collections" + os.sep, 1)[0]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
               ANSIBLE_INVENTORY_ENABLED="cmc.mvc.vcluster")
    texts = []
    for args in (["--list"], ["--host", "lab1-frontend"]):
        proc = subprocess.run([sys.executable, "-m", "ansible.cli.inventory", "-vvv", "-i",
                               str(tmp_path / "mvc.vcluster.yml")] + args,
                              env=env, cwd=str(tmp_path), capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        texts.append(proc.stdout + proc.stderr)
    listing, host = (json.loads(t[t.index("\n{") + 1:t.rindex("}") + 1]) for t in texts)
    assert sorted(listing["_meta"]["hostvars"]) == ["lab1-compute-0", "lab1-frontend"]
    assert sorted(host) == sorted(listing["_meta"]["hostvars"]["lab1-frontend"]) and "mvc_overlay_ip" in host
    # No key, nor any variable named after one (the paths in -vvv may hold any word).
    assert not [k for k in host if "key" in k or "munge" in k]
    assert "munge" not in json.dumps([listing, host]) and "n2n_key" not in json.dumps([listing, host])
    for text in texts:
        assert plan["munge_key"] not in text and plan["n2n_key"] not in text


def test_compose_groups_keyed_groups_and_filter(tmp_path):
    _register(tmp_path / "mvc.sqlite", "lab1", 2)
    _register(tmp_path / "mvc.sqlite", "lab2", 1)
    inv = _inventory(tmp_path, {"database": str(tmp_path / "mvc.sqlite"), "clusters": ["lab1"],
                                "compose": {"ansible_host": "mvc_overlay_ip"},
                                "groups": {"heads": "mvc_role == 'frontend'"},
                                "keyed_groups": [{"key": "mvc_dom0", "prefix": "dom0"}]})
    groups = inv.get_groups_dict()
    assert "vc_lab2" not in groups and groups["heads"] == ["lab1-frontend"]
    assert inv.get_host("lab1-frontend").get_vars()["ansible_host"] == "10.200.0.1"
    dom0_groups = [g for g in groups if g.startswith("dom0_vm_container_0_")]
    assert dom0_groups and sum(len(groups[g]) for g in dom0_groups) == 3


def test_cache_serves_the_last_answer(tmp_path):
    db = tmp_path / "mvc.sqlite"
    _register(db, "lab1", 1)
    config = {"database": str(db), "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
              "cache_connection": str(tmp_path / "cache"), "cache_timeout": 600}
    first = _inventory(tmp_path, config)
    db.unlink()
    second = _inventory(tmp_path, config)
    assert sorted(second.hosts) == sorted(first.hosts) == ["lab1-compute-0", "lab1-frontend"]
    assert "n2n_key" not in "".join(p.read_text() for p in (tmp_path / "cache").iterdir())


def test_missing_database_is_an_error_and_not_created(tmp_path):
    with pytest.raises(AnsibleError, match="does not exist"):
        _inventory(tmp_path, {"database": str(tmp_path / "none.sqlite")})
    assert not (tmp_path / "none.sqlite").exists()


def test_password_never_in_errors(tmp_path):
    with pytest.raises(AnsibleError) as err:
        _inventory(tmp_path, {"database": "postgresql://mvc@127.0.0.1:1/mvc", "database_password": "pw-S3cret"})
    assert "pw-S3cret" not in str(err.value) and "***" in str(err.value)
