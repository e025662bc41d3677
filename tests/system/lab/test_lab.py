# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The multi-site lab for real: 2 NAT sites, each with a frontend (sshd + Rocks stand-in) and a QEMU VM running
Xen 4.17 with a Debian dom0, reached only through the frontend. The last test takes the lab down and checks that
nothing of it remains; the session fixture (tests/system/conftest.py) takes it down on failure too."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MVC_LAB = os.path.join(TOP, "tests", "lab", "mvc-lab")


def sh(argv, check=True, timeout=300, env=None):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=timeout,
                       env=env)
    if check:
        assert p.returncode == 0, "%s failed (%d):\n%s\n%s" % (
            " ".join(argv), p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    return p


def _v(value):
    """A hostvar as ansible-inventory prints it, without the unsafe wrapper the rocks plugin gives its data."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def tcp_connect_argv(ns, host, port, timeout=3):
    code = "import socket; socket.create_connection((%r, %d), timeout=%d).close()" % (host, port, timeout)
    return (["ip", "netns", "exec", ns] if ns else []) + ["python3", "-c", code]


def _hop(hostvars):
    """The jump host of a VM container's SSH arguments: cmc.mvc.rocks's ProxyCommand (``... -W [%h]:%p HOST``)
    or the lab's static ProxyJump (``root@HOST``)."""
    args = _v(hostvars["ansible_ssh_common_args"])
    m = re.search(r"ProxyCommand=.*-W \S+ (\S+?)['\"]?(?:\s|$)", args) or re.search(r"ProxyJump=\S*?@?([\d.]+)", args)
    assert m, args
    return m.group(1)


def test_up_gives_two_nat_sites_with_xen(lab):
    assert lab["up"] and lab["problems"] == []
    assert [s["name"] for s in lab["sites"]] == ["osaka", "sdsc"]
    assert len({s["public_ip"] for s in lab["sites"]}) == 2
    # Every site uses the same private subnet, as real sites do.
    assert {vm["ip"] for s in lab["sites"] for vm in s["vms"]} == {"10.1.255.254"}
    if os.path.exists("/dev/kvm"):  # KVM, or TCG after KVM was tried and Xen did not run under it
        assert lab["accel"] == "kvm" or lab.get("kvm_fallback") is True
    else:
        assert lab["accel"] == "tcg"


def test_xl_info_on_every_vm_container_through_its_frontend(lab):
    helper = lab["helper"]
    for site, vm in helper.vm_containers(lab):
        out = helper.ssh(vm["inventory_name"], "hostname; cat /sys/hypervisor/type; xl info; ip -4 -o addr show eth0"
                         ).stdout
        assert out.splitlines()[0] == vm["name"]
        assert out.splitlines()[1] == "xen"
        info = dict(re.findall(r"^(\w+)\s*:\s*(.*)$", out, re.M))
        assert info["xen_major"] == "4" and info["xen_minor"] == "17", info
        assert "xen-3.0-x86_64" in info["xen_caps"]
        assert int(info["total_memory"]) >= 2900
        assert vm["ip"] + "/16" in out
        # The frontend answers the Rocks CLI from this site's data: its VM container with the real address.
        rocks = helper.ssh(site["name"], "rocks list host interface %s" % vm["name"]).stdout
        assert vm["ip"] in rocks and vm["mac"] in rocks


def test_private_addresses_are_reachable_only_inside_their_site(lab):
    ctl_link = "mvcl-wan0"
    for site in lab["sites"]:
        vm = site["vms"][0]
        # The controller has no route to the private LAN; even with an explicit one through the site's public
        # address, the site's router forwards nothing inward.
        route = sh(["ip", "route", "get", vm["ip"]]).stdout
        assert ctl_link not in route
        sh(["ip", "route", "add", vm["ip"] + "/32", "via", site["public_ip"], "dev", ctl_link])
        try:
            assert sh(tcp_connect_argv(None, vm["ip"], 22), check=False).returncode != 0
            assert sh(tcp_connect_argv(None, site["public_ip"], 22)).returncode == 0  # control: the path works
        finally:
            sh(["ip", "route", "del", vm["ip"] + "/32", "via", site["public_ip"], "dev", ctl_link])
    # From one site towards the other's private addresses, with a route through the other's public address.
    osaka, sdsc = lab["sites"]
    for here, there in ((osaka, sdsc), (sdsc, osaka)):
        target = there["vms"][0]["ip"]
        sh(["ip", "netns", "exec", here["ns"], "ip", "route", "add", target + "/32", "via", there["public_ip"]])
        try:
            assert sh(tcp_connect_argv(here["ns"], target, 22), check=False).returncode != 0
            assert sh(tcp_connect_argv(here["ns"], there["public_ip"], 22)).returncode == 0
        finally:
            sh(["ip", "netns", "exec", here["ns"], "ip", "route", "del", target + "/32", "via", there["public_ip"]])
    # Without such a route the shared private address is simply the site's own host: osaka's VM container reaching
    # 10.1.255.254 meets itself, and sdsc's frontend is reached only through NAT, from osaka's public address.
    helper = lab["helper"]
    out = helper.ssh("vm-container-0-0.osaka", "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                     "-o BatchMode=yes -o ConnectTimeout=5 root@10.1.255.254 hostname; "
                     "python3 -c \"import socket; s=socket.create_connection(('%s', 22), timeout=5); print(s.recv(64))\""
                     % sdsc["public_ip"], check=False).stdout
    assert "SSH-2.0" in out
    log = open(os.path.join(lab["state_dir"], "sshd-sdsc", "sshd.log")).read()
    assert "Connection from %s" % osaka["public_ip"] in log or "from %s port" % osaka["public_ip"] in log, log[-2000:]
    assert "from 10.1." not in log


def test_up_twice_is_a_no_op(lab):
    helper = lab["helper"]
    t0 = time.time()
    out = helper.cli("up", "--sites", "2").stdout
    took = time.time() - t0
    assert "nothing to do" in out, out
    after = helper.status()
    assert {k: v["pid"] for k, v in after["procs"].items()} == {k: v["pid"] for k, v in lab["procs"].items()}
    assert after["started"] == lab["started"]
    print("second up took %.1fs" % took)


def _inventory(lab, tmp_path):
    d = str(tmp_path / "inv")
    lab["helper"].cli("inventory", d)
    return d


def test_ansible_ping_every_host_over_the_generated_inventory(lab, tmp_path):
    d = _inventory(lab, tmp_path)
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    listed = json.loads(sh(["ansible-inventory", "-i", d, "--list"], env=env).stdout)
    hv = listed["_meta"]["hostvars"]
    vmc = sorted(listed["vm_containers"]["hosts"])
    assert vmc == ["vm-container-0-0.osaka", "vm-container-0-0.sdsc"]
    for name in vmc:
        site = name.split(".")[1]
        fe = [s for s in lab["sites"] if s["name"] == site][0]
        assert _v(hv[name]["ansible_host"]) == "10.1.255.254"
        # The directory holds hosts.yml and sites.rocks.yml; cmc.mvc.rocks, read second, sets the hop.
        assert _hop(hv[name]) == fe["public_ip"]
    assert sorted(listed["frontends"]["hosts"]) == ["frontend.osaka", "frontend.sdsc"]
    assert listed["mvc_supernodes"]["hosts"] == ["supernode"]
    assert hv["supernode"]["mvc_lab_debian_mirror"] == lab["mirror"]
    p = sh(["ansible", "all", "-i", d, "-m", "ansible.builtin.ping", "-f", "10"], env=env, timeout=600)
    assert p.stdout.count("SUCCESS") == 5, p.stdout
    assert "pong" in p.stdout


def test_rocks_inventory_over_the_lab_frontends(lab, tmp_path):
    d = _inventory(lab, tmp_path)
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    src = os.path.join(d, "sites.rocks.yml")
    listed = json.loads(sh(["ansible-inventory", "-i", src, "--list"], env=env).stdout)
    assert sorted(listed["vm_containers"]["hosts"]) == ["vm-container-0-0.osaka", "vm-container-0-0.sdsc"]
    hv = listed["_meta"]["hostvars"]["vm-container-0-0.sdsc"]
    assert _v(hv["ansible_host"]) == "10.1.255.254"
    assert _v(hv["mvc_site"]) == "sdsc"
    assert _hop(hv) == lab["sites"][1]["public_ip"]
    # The jump-host settings the plugin gives work against the real dom0s (group_vars beside it add the key).
    p = sh(["ansible", "vm_containers", "-i", src, "-m", "ansible.builtin.command", "-a", "xl list"], env=env,
           timeout=600)
    assert p.stdout.count("Domain-0") == 2, p.stdout


def test_pv_domu_started_by_hand_boots_and_gets_link_on_a_bridge(lab):
    helper = lab["helper"]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "busybox_domains.sh")) as f:
        script = f.read()
    for site, vm in helper.vm_containers(lab)[:1]:  # one is enough: every dom0 boots the same image
        def run(action, vm=vm):
            return helper.ssh(vm["inventory_name"], "sh -s %s <<'MVC_DOMU'\n%sMVC_DOMU\n" % (action, script),
                              timeout=600).stdout
        try:
            assert "prepared" in run("prepare")
            out = run("probe")
        finally:
            run("clean")
        print(out)
        assert re.search(r"^domu-ping: yes", out, re.M), out
        domid = re.search(r"^mvc-bench-1\s+(\d+)", out, re.M).group(1)  # xl list showed it running
        assert "vif%s.0" % domid in re.search(r"^bridge-ports: (.*)$", out, re.M).group(1).split()
        assert re.search(r"^vif-carrier: 1$", out, re.M), out
        # The probe destroyed it again: only Domain-0 remains.
        assert "mvc-bench-1" not in helper.ssh(vm["inventory_name"], "xl list").stdout, site


def test_dom0s_install_debian_packages_through_the_lab_mirror(lab):
    helper = lab["helper"]
    assert lab["mirror"] == "http://198.51.100.254:3142/deb.debian.org/debian"
    (site, vm), others = helper.vm_containers(lab)[0], helper.vm_containers(lab)[1:]
    out = helper.ssh(vm["inventory_name"], "cat /etc/apt/sources.list; cd /tmp && apt-get -q update && "
                     "apt-get -q download hello && dpkg-deb -f hello_*.deb Package && rm -f hello_*.deb",
                     timeout=600).stdout
    assert "deb %s bookworm main" % lab["mirror"] in out, site
    assert out.strip().splitlines()[-1] == "hello"
    # apt-get update costs ~40 s of TCG CPU per dom0; for the other sites, check the path through their NAT.
    for site, vm in others:
        out = helper.ssh(vm["inventory_name"], "python3 -c \"import urllib.request; print(urllib.request.urlopen("
                         "'%s/dists/bookworm/Release', timeout=60).read(200).decode())\"" % lab["mirror"]).stdout
        assert "Codename: bookworm" in out, site
    # The .deb stays in the mirror's cache, which outlives the lab.
    cached = [f for dp, dn, fn in os.walk(os.path.join(os.path.dirname(lab["image"]), "debian")) for f in fn]
    assert any(f.startswith("hello_") and f.endswith(".deb") for f in cached), cached


def _lab_traces():
    netns = [n for n in sh(["ip", "netns", "list"]).stdout.split() if n.startswith("mvcl-")]
    links = [ln for ln in sh(["ip", "-o", "link"]).stdout.splitlines() if "mvcl-" in ln]
    addrs = [ln for ln in sh(["ip", "-o", "addr"]).stdout.splitlines() if "198.51.100." in ln or " 10.1." in ln]
    containers = [n for n in sh(["podman", "ps", "--all", "--format", "{{.Names}}"]).stdout.split() if n.startswith("mvcl-")]
    return netns, links, addrs, containers


def test_zz_down_leaves_nothing(lab):
    helper = lab["helper"]
    procs = lab["procs"]
    assert len(procs) >= 6  # supernode sshd, 2 frontend sshd, 2 qemu, the package mirror
    t0 = time.time()
    helper.down()
    print("down took %.1fs" % (time.time() - t0))
    assert _lab_traces() == ([], [], [], [])
    for key, rec in procs.items():
        try:
            with open("/proc/%d/stat" % rec["pid"]) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        assert fields[0] in ("Z", "X") or fields[19] != rec["start"], key
    assert not os.path.exists(lab["state_dir"])
    assert helper.status() == {"up": False}
    # Nothing that down does not know about: a second down has nothing to do.
    assert "nothing to do" in helper.down().stdout
    assert os.path.isfile(os.path.join(lab["image"], "dom0.img"))  # the cached image stays


def test_zz_missing_package_is_named_and_nothing_is_made(lab_session, tmp_path):
    # A PATH with python3 and the sbin tools only: no qemu, ssh or gzip.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sh(["sh", "-c", "command -v python3"]).stdout.strip(), str(bindir / "python3"))
    env = dict(os.environ, PATH="%s:/usr/sbin:/sbin" % bindir, MVC_LAB_STATE=str(tmp_path / "state"))
    p = sh([MVC_LAB, "up", "--sites", "1"], check=False, env=env)
    assert p.returncode == 1
    assert "missing Debian package(s):" in p.stderr and "qemu-system-x86" in p.stderr and "openssh-client" in p.stderr
    assert not (tmp_path / "state").exists()
    assert _lab_traces() == ([], [], [], [])


def test_zz_vm_missing_its_boot_deadline_is_named_with_its_console_and_nothing_remains(lab_session, tmp_path):
    assert lab_session.status() == {"up": False}  # after test_zz_down_leaves_nothing
    env = dict(os.environ, MVC_LAB_STATE=str(tmp_path / "state"))
    p = sh([MVC_LAB, "up", "--sites", "1", "--accel", "tcg", "--boot-timeout", "8"], check=False, env=env,
           timeout=600)
    assert p.returncode == 1, p.stdout
    assert "VM container vm-container-0-0.osaka (10.1.255.254 at site osaka): did not answer SSH" in p.stderr, p.stderr
    assert "Last lines of its console log" in p.stderr
    # The tail is the serial console: Xen's "(XEN)" lines, or, once Xen has handed over, the dom0 kernel's
    # timestamped lines. How far boot got in 8 s depends on the machine, so either counts.
    tail = p.stderr.split("Last lines of its console log", 1)[1]
    assert re.search(r"\(XEN\)|^\[\s*\d+\.\d+\] ", tail, re.M), tail
    assert "removing everything this run made" in p.stderr
    assert _lab_traces() == ([], [], [], [])
    assert not (tmp_path / "state").exists()
