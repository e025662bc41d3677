"""cmc.mvc.vcluster through ansible-playbook on a real PostgreSQL server, with the VM containers taken from the
cmc.mvc.rocks inventory over the Rocks stand-in; then the cmc.mvc.vcluster inventory through ansible-inventory.
The key is read as deploy_mvc reads it (vcluster_info) and the nodes marked deployed (state=deployed).
Check mode writes nothing, a second run reports changed=0, and neither the N2N key, the munge key nor the
database password appears in any output, with -v and --diff."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa

import dbservers  # pylint: disable=import-error

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
STANDIN = os.path.join(TOP, "tests", "rocks_standin")
sys.path.insert(0, STANDIN)
import generate  # noqa: E402  pylint: disable=wrong-import-position,import-error
sys.path.pop(0)

PLAYBOOK = """
- name: Register a virtual cluster
  hosts: localhost
  gather_facts: false
  vars:
    vcluster:
      name: lab-1
      owner: alice
      frontend: {vcpus: 1, memory_mb: 512, disk_gb: 4}
      compute: {count: "{{ count | default(4) | int }}", vcpus: 2, memory_mb: 1024, disk_gb: 8}
      placement: spread
      packages: [openmpi-bin]
      users: [{name: alice, ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@example"]}]
  tasks:
    - name: Plan and register
      cmc.mvc.vcluster:
        request: "{{ vcluster }}"
        state: "{{ state | default('present') }}"
        vm_containers: >-
          {{ groups['vm_containers'] | map('extract', hostvars) | map('dict2items')
             | map('selectattr', 'key', 'in', ['inventory_hostname', 'mvc_site', 'mvc_free', 'mvc_appliance',
                                               'mvc_rocks_name', 'mvc_private_ip'])
             | map('items2dict') | list }}
      register: mvc

    # As deploy_mvc does: a read-only key read, then only the nodes' status written.
    - name: Fetch the key for the edges
      cmc.mvc.vcluster_info:
        names: ["{{ vcluster.name }}"]
        return_key: true
      register: mvc_key
      no_log: true
      when: state | default('present') == 'present'

    - name: The keys came back
      ansible.builtin.assert:
        that:
          - mvc_key.n2n_key | length >= 32
          - mvc_key.munge_key | b64decode(encoding='latin-1') | length == 128
        quiet: true
      when: state | default('present') == 'present'

    - name: Mark the nodes deployed
      cmc.mvc.vcluster:
        request:
          name: "{{ vcluster.name }}"
        state: deployed
        nodes: "{{ mvc.vcluster.nodes | map(attribute='name') }}"
      when: state | default('present') == 'present'

    - name: Show the plan
      ansible.builtin.debug:
        msg: "{{ mvc.vcluster.nodes | default([]) | map(attribute='name') | list }}"
"""


def _site(tmp_path, site, hosts, site_no):
    data = tmp_path / ("%s.json" % site)
    data.write_text(json.dumps(generate.generate(site, hosts, guests=1, site_no=site_no)))
    cmd = tmp_path / ("rocks-" + site)
    cmd.write_text("#!/bin/sh\nROCKS_STANDIN_DATA=%s exec %s %s \"$@\"\n"
                   % (data, sys.executable, os.path.join(STANDIN, "rocks")))
    cmd.chmod(cmd.stat().st_mode | stat.S_IXUSR)
    return {"site": site, "local": True, "rocks_command": str(cmd)}


@pytest.fixture
def pg(postgresql_server):
    url = dbservers.create_database(postgresql_server, "mvc_playbook")
    yield url, postgresql_server
    dbservers.drop_database(postgresql_server, "mvc_playbook")


def test_vcluster_module_and_inventory_through_ansible(tmp_path, pg):
    url, server = pg
    (tmp_path / "sites.rocks.yml").write_text(json.dumps({
        "plugin": "cmc.mvc.rocks", "frontends": [_site(tmp_path, "osaka", 8, 1), _site(tmp_path, "sdsc", 6, 2)]}))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, CMC_MVC_DATABASE=url, CMC_MVC_DATABASE_PASSWORD=server["password"],
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    admin = dbservers.admin_engine(server, "mvc_playbook")

    def play(*args):
        proc = subprocess.run(["ansible-playbook", "-v", "--diff", "-i", str(tmp_path / "sites.rocks.yml"),
                               str(tmp_path / "play.yml")] + list(args),
                              env=env, cwd=str(tmp_path), capture_output=True, text=True, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert server["password"] not in out
        recap = re.search(r"localhost\s*: ok=(\d+)\s+changed=(\d+)", out)
        return out, int(recap.group(2))

    out, changed = play("--check")
    assert changed == 2 and "lab-1-compute-3" in out  # register and mark would write: nothing is written
    assert sa.inspect(admin).get_table_names() == []  # check mode on a new database created nothing

    out1, changed = play()
    assert changed == 2  # registered, then marked deployed
    with admin.connect() as conn:
        key, munge = conn.execute(sa.text("SELECT n2n_key, munge_key FROM mvc_clusters WHERE name = 'lab-1'")).one()
        containers = conn.execute(sa.text("SELECT count(*) FROM mvc_hosts")).scalar()
        nodes = conn.execute(sa.text("SELECT name, mac FROM mvc_nodes ORDER BY name")).all()
    assert len(key) >= 32 and len(munge) > 100 and containers > 0 and len(nodes) == 5
    assert all(mac.startswith("00:16:3e:") for _n, mac in nodes)
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT DISTINCT status FROM mvc_nodes")).all() == [("deployed",)]

    out2, changed = play()
    assert changed == 0
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT munge_key FROM mvc_clusters WHERE name = 'lab-1'")).scalar() == munge
    out3, changed = play("-e", "count=6")
    assert changed == 2 and "lab-1-compute-5" in out3  # two new nodes, planned, then deployed
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT name, mac FROM mvc_nodes WHERE name NOT IN "
                                    "('lab-1-compute-4', 'lab-1-compute-5') ORDER BY name")).all() == nodes

    (tmp_path / "mvc.vcluster.yml").write_text("plugin: cmc.mvc.vcluster\n")
    inv = subprocess.run(["ansible-inventory", "-i", str(tmp_path / "mvc.vcluster.yml"), "--list"], env=env,
                         capture_output=True, text=True, check=True)
    listing = json.loads(inv.stdout)
    assert sorted(listing["vc_lab_1"]["children"]) == sorted(
        ["vc_lab_1_frontend", "vc_lab_1_compute"] + ["vc_lab_1_site_%s" % s for s in ("osaka", "sdsc")])
    assert len(listing["vc_lab_1_compute"]["hosts"]) == 6
    hv = listing["_meta"]["hostvars"]["lab-1-frontend"]
    # ansible-inventory shows data marked unsafe as {"__ansible_unsafe": ...}.
    assert hv["mvc_overlay_ip"] == {"__ansible_unsafe": "10.200.0.1"}
    assert hv["mvc_dom0"]["__ansible_unsafe"].startswith("vm-container-")

    out4, changed = play("-e", "state=absent")
    assert changed == 1
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM mvc_nodes")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM mvc_clusters")).scalar() == 0
    admin.dispose()
    for text in (out, out1, out2, out3, out4, inv.stdout, inv.stderr):
        assert key not in text and munge not in text and server["password"] not in text
    assert "munge" not in json.dumps(listing)
