"""deploy_mvc and status_mvc where no Dom0 answers (issue #15), on an SQLite MVC database, without the lab.

deploy_mvc refuses a run without a usable supernode (no group mvc_supernodes and no mvc_supernode, or a bad
mvc_supernode), or with a bad request, with a message that names the variable or the request's field, before it
registers anything. status_mvc with every Dom0
(or some) unreachable ends ok (rc 0: an unreachable Dom0 is reported, not fatal), names each such Dom0 unreachable
and still writes its report and picture. The unreachable Dom0s are 127.0.0.1 on a port where nothing listens; the
one that answers runs over the local connection with stand-ins for xl and ping, so nothing leaves loopback.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys

import pytest

REQUEST = {"vcluster": {"name": "pf-1", "owner": "alice", "frontend": {"vcpus": 1, "memory_mb": 512, "disk_gb": 4},
                        "compute": {"count": 1, "vcpus": 1, "memory_mb": 256, "disk_gb": 2}, "placement": "spread"}}

REGISTER = """
- name: Register the cluster only, no Dom0 work
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Plan and register
      cmc.mvc.vcluster:
        request: "{{ vcluster }}"
        database: "{{ mvc_database }}"
        vm_containers: "{{ groups['vm_containers'] | map('extract', hostvars) | list }}"
        mtu: 1364
      register: mvc

    - name: Show where the nodes went
      ansible.builtin.debug:
        msg: "PLACED {{ mvc.vcluster.nodes | map(attribute='dom0') | unique | sort | join(',') }}"
"""

# Just enough of xl for cmc.mvc.xl_info on the Dom0 that answers.
FAKE_XL = """#!/bin/sh
case "$1" in
  info) printf 'host : vmc-0\\nxen_version : 4.17.0\\ntotal_memory : 16384\\nfree_memory : 8192\\nnr_cpus : 8\\n' ;;
  list) printf 'Name ID Mem VCPUs State Time(s)\\nDomain-0 0 2048 2 r----- 10.0\\n'
        printf 'pf-1-frontend 1 512 1 -b---- 1.0\\npf-1-compute-0 2 256 1 -b---- 1.0\\n' ;;
  *) exit 1 ;;
esac
"""


def _free_port():
    """A loopback port where nothing listens (bound, then closed): SSH to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _inventory(tmp_path, local=()):
    hosts = {}
    for i, site in enumerate(("osaka", "sdsc")):
        name = "vmc-%d" % i
        hosts[name] = {"mvc_site": site, "mvc_free": {"cpus": 8, "memory_mb": 16384, "disk_gb": 100}}
        if name in local:
            hosts[name].update(ansible_connection="local", ansible_python_interpreter=sys.executable)
        else:
            hosts[name].update(ansible_host="127.0.0.1", ansible_port=_free_port(), ansible_user="root")
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps({"all": {"children": {"vm_containers": {"hosts": hosts}}}}))
    return path


@pytest.fixture
def run(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("xl", FAKE_XL), ("ping", "#!/bin/sh\nexit 1\n")):  # ping: no traffic off loopback
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CMC_MVC_DATABASE"}
    env.update(PATH="%s:%s" % (bin_dir, env["PATH"]), ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_TIMEOUT="5",
               ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_SSH_ARGS="-o ControlMaster=no -o ControlPath=none")
    (tmp_path / "request.yml").write_text(json.dumps(REQUEST))
    db = tmp_path / "mvc.sqlite"

    def play(playbook, inventory, *args):
        proc = subprocess.run(["ansible-playbook", "-i", str(inventory), playbook, "-e", "@request.yml",
                               "-e", "mvc_database=%s" % db] + list(args),
                              env=env, cwd=str(tmp_path), capture_output=True, text=True, check=False, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    play.db = db
    return play


def _clusters(db):
    if not db.exists():
        return []
    with sqlite3.connect(str(db)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'mvc_clusters'").fetchall():
            return []
        return [r[0] for r in conn.execute("SELECT name FROM mvc_clusters")]


def test_deploy_without_supernode_registers_nothing(tmp_path, run):
    rc, out = run("cmc.mvc.deploy_mvc", _inventory(tmp_path))
    assert rc != 0, out
    assert "No supernode: put its host in group mvc_supernodes, or give mvc_supernode=HOST:PORT" in out, out
    assert _clusters(run.db) == [], out


@pytest.mark.parametrize("supernode", ["nohostport", "sn.example.org:99999", "sn.example.org:0", "a:b:7654", "sn.example.org:7654\n"])
def test_deploy_with_bad_supernode_registers_nothing(tmp_path, run, supernode):
    rc, out = run("cmc.mvc.deploy_mvc", _inventory(tmp_path), "-e", json.dumps({"mvc_supernode": supernode}))
    assert rc != 0, out
    assert 'mvc_supernode: \\"%s\\" is not HOST:PORT' % supernode.replace("\n", "\\\\n") in out, out
    assert _clusters(run.db) == [], out


# The playbooks' variables are checked by role cmc.mvc.mvc before the first play acts.
@pytest.mark.parametrize("playbook,variable,value,says", [
    ("cmc.mvc.deploy_mvc", "mvc_underlay_mtu", 700, "mvc_underlay_mtu: 700 is too small: N2N v1 adds 136 bytes"),
    ("cmc.mvc.deploy_mvc", "mvc_supernode_port", 70000, "mvc_supernode_port=70000: must be a UDP port"),
    ("cmc.mvc.deploy_mvc", "mvc_boot_timeout", 0, "mvc_boot_timeout=0: must be a number of seconds above 0"),
    ("cmc.mvc.deploy_mvc", "mvc_underlay_mtu", "big", "argument 'mvc_underlay_mtu' is of type str and we were unable to convert to int"),
    ("cmc.mvc.deploy_mvc", "mvc_wireguard_edge_implementation", "bpf",
     "value of mvc_wireguard_edge_implementation must be one of: kernel, userspace"),
    ("cmc.mvc.deploy_mvc", "mvc_guest_build_on", "laptop", "value of mvc_guest_build_on must be one of: dom0, controller"),
    ("cmc.mvc.deploy_mvc", "mvc_vcpus_per_cpu", "many", "argument 'mvc_vcpus_per_cpu' is of type str and we were unable to convert to int"),
    ("cmc.mvc.status_mvc", "mvc_ssh_hop_options", {"a": 1}, "argument 'mvc_ssh_hop_options' is of type dict and we were unable to convert to list"),
])
def test_a_bad_playbook_variable_is_named_before_anything_is_registered(tmp_path, run, playbook, variable, value, says):
    rc, out = run(playbook, _inventory(tmp_path), "-e", json.dumps({variable: value, "mvc_supernode": "sn.example.org:7654"}))
    assert rc != 0, out
    assert says in out, out
    assert "Plan and register" not in out and "Place the nodes" not in out, out
    assert _clusters(run.db) == [], out


@pytest.mark.parametrize("changes, msg", [
    ({"compute": {"count": 0}, "services": {"scheduler": "slurm"}},
     "vcluster.services.scheduler: slurm needs at least one compute node, but compute.count is 0"),
    ({"frontend": [1]}, "vcluster.frontend: must be a mapping, got list"),  # a traceback in ansible-core's own check
    ({"users": [{"name": "alice", "uid": 100}]}, "vcluster.users[0].uid: must be an integer >= 1000, got 100"),
    ({"overlay": {"backend": "vxlan"}}, "vcluster.overlay.backend"),
    # The hub is set up on the host of group mvc_supernodes; mvc_supernode=HOST:PORT names none.
    ({"overlay": {"backend": "wireguard"}}, "vcluster.overlay.backend: wireguard needs the hub's host in group "
                                            "mvc_supernodes"),
], ids=["slurm-without-compute", "frontend-a-list", "system-uid", "unknown-backend", "wireguard-without-hub-host"])
def test_deploy_with_a_bad_request_names_the_field_and_registers_nothing(tmp_path, run, changes, msg):
    bad = {"vcluster": dict(REQUEST["vcluster"], **changes), "mvc_supernode": "sn.example.org:7654"}
    rc, out = run("cmc.mvc.deploy_mvc", _inventory(tmp_path), "-e", json.dumps(bad))
    assert rc != 0 and msg in out, out
    assert _clusters(run.db) == [], out


# 1400 leaves N2N v1 a cluster MTU of 1264, but WireGuard and VXLAN less than IPv6's 1280.
def test_a_wireguard_request_needs_an_underlay_mtu_that_leaves_1280_and_registers_nothing(tmp_path, run):
    bad = {"vcluster": dict(REQUEST["vcluster"], overlay={"backend": "wireguard"}), "mvc_supernode": "sn.example.org:7654",
           "mvc_underlay_mtu": 1400}
    rc, out = run("cmc.mvc.deploy_mvc", _inventory(tmp_path), "-e", json.dumps(bad))
    assert rc != 0, out
    assert "mvc_underlay_mtu: 1400 is too small: the cluster MTU would be 1400 - 80 - 50 = 1270, below 1280" in out, out
    assert _clusters(run.db) == [], out


def _mtu(db):
    with sqlite3.connect(str(db)) as conn:
        return conn.execute("SELECT mtu FROM mvc_clusters WHERE name = 'pf-1'").fetchone()[0]


# Both Dom0s are down, so each run stops after registering; the MVC database keeps what it registered.
def test_a_cluster_s_mtu_follows_the_underlay_until_it_is_deployed_then_a_smaller_path_is_refused(tmp_path, run):
    inventory = _inventory(tmp_path)
    supernode = json.dumps({"mvc_supernode": "sn.example.org:7654"})
    for underlay, mtu in ((1400, 1264), (1500, 1364)):  # the re-run that n2n.rst tells after a path too small
        rc, out = run("cmc.mvc.deploy_mvc", inventory, "-e", supernode, "-e", "mvc_underlay_mtu=%d" % underlay)
        assert rc != 0 and "UNREACHABLE" in out and _mtu(run.db) == mtu, out
    with sqlite3.connect(str(run.db)) as conn:
        conn.execute("UPDATE mvc_nodes SET status = 'deployed'")  # as the deploy's last play marks them
    before = run.db.read_bytes()
    rc, out = run("cmc.mvc.deploy_mvc", inventory, "-e", supernode, "-e", "mvc_underlay_mtu=1400")
    assert rc != 0 and "UNREACHABLE" not in out, out
    assert re.search(r"mtu: 1264 is smaller than the MTU 1364 of cluster pf-1, which its guests' NICs were installed\s+"
                     r"with", out), out
    assert run.db.read_bytes() == before


@pytest.mark.parametrize("local", [(), ("vmc-0",)], ids=["all-down", "some-down"])
def test_status_reports_unreachable_dom0s(tmp_path, run, local):
    inventory = _inventory(tmp_path, local)
    (tmp_path / "register.yml").write_text(REGISTER)
    rc, out = run("register.yml", inventory)
    assert rc == 0 and "PLACED vmc-0,vmc-1" in out, out  # a node on each Dom0

    rc, out = run("cmc.mvc.status_mvc", inventory, "-e", "mvc_picture=%s" % (tmp_path / "topology.svg"))
    assert rc == 0, out
    assert '"msg": "cluster pf-1 (planned): n2n overlay 10.200.0.0/24, MTU 1364, 2 nodes at osaka, sdsc"' in out, out
    down = [h for h in ("vmc-0", "vmc-1") if h not in local]
    for dom0 in down:
        assert "Dom0 %s: unreachable" % dom0 in out, out
        assert "Dom0 %s, overlay" % dom0 in out and "domain unknown (Dom0 unreachable)" in out, out
    for dom0 in local:
        assert "Dom0 %s: unreachable" % dom0 not in out, out
        assert re.search(r"Dom0 %s, overlay [0-9.]+: domain running," % dom0, out), out
    dot = (tmp_path / "topology.dot").read_text()
    assert all('"dom0:%s"' % h in dot for h in ("vmc-0", "vmc-1")), dot
    assert (tmp_path / "topology.svg").read_text().lstrip().startswith("<?xml")


GROUP_DEFAULTS = """
- name: The database options set once for the action group
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/cmc.mvc.mvcdb:
      database: "{{ mvc_database }}"
  tasks:
    - name: Register with no database option of its own
      cmc.mvc.vcluster:
        request: "{{ vcluster }}"
        vm_containers: "{{ groups['vm_containers'] | map('extract', hostvars) | list }}"

    - name: Read it back the same way
      cmc.mvc.vcluster_info:
      register: mvc_info

    - name: Show what was read
      ansible.builtin.debug:
        msg: "READ {{ mvc_info.clusters | map(attribute='cluster.name') | join(',') }}"
"""


def test_module_defaults_of_the_action_group_give_the_database(tmp_path, run):
    (tmp_path / "group.yml").write_text(GROUP_DEFAULTS)
    rc, out = run("group.yml", _inventory(tmp_path))
    assert rc == 0 and "READ pf-1" in out, out
    assert _clusters(run.db) == ["pf-1"]  # the file of module_defaults, not the default ~/.local/share one
