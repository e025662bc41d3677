# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmc.mvc.guest_os builds a real node disk: debootstrap from the Debian mirror, per-node configuration,
``mke2fs -d``. The disk is read back with debugfs; booting it under Xen is tested on the lab."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb7n3SZ2rR2tyzKT2a+Gk7bP1M3y2wS9Wk0jq4aTfXL alice@test"
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: cmc.mvc.guest_os
"""


MODULES = ("kernel/drivers/net/xen-netfront.ko", "kernel/drivers/block/xen-blkfront.ko", "kernel/fs/ext4/ext4.ko",
           "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/crypto/crc32c_generic.ko")


def debugfs(disk, command):
    out = subprocess.run(["debugfs", "-R", command, disk], check=True, capture_output=True, text=True)
    return out.stdout


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    work = tmp_path_factory.mktemp("guest_os")
    disk = work / "lab1-c01.img"
    subprocess.run(["truncate", "-s", "2G", str(disk)], check=True)  # more than the base image: grown
    release = work / "modules" / "6.1.0-99-amd64"
    for path in MODULES + ("kernel/fs/big.ko",):
        (release / path).parent.mkdir(parents=True, exist_ok=True)
        (release / path).write_text("module stand-in %s\n" % path)
    # ext4 needs jbd2, mbcache and crc16, and asks for crypto-crc32c first (softdep), as in Debian's 6.1.
    (release / "modules.dep").write_text(
        "kernel/drivers/net/xen-netfront.ko:\nkernel/drivers/block/xen-blkfront.ko:\nkernel/fs/big.ko:\n"
        "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
        "kernel/lib/crc16.ko:\nkernel/fs/mbcache.ko:\nkernel/fs/jbd2/jbd2.ko:\nkernel/crypto/crc32c_generic.ko:\n")
    (release / "modules.softdep").write_text("softdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\n")
    (release / "modules.alias").write_text("alias crypto-crc32c crc32c_generic\nalias crc32c crc32c_generic\n")
    for index in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        (release / index).write_text("")
    initrd = work / "initrd" / "initrd.img-6.1.0-99-amd64"
    variables = dict(
        guest_os_hostname="lab1-c01", guest_os_cluster="lab1", guest_os_address="10.200.1.3/24",
        guest_os_mac="00:16:3E:01:02:03", guest_os_disk=str(disk), guest_os_build_on="controller",
        guest_os_cache_dir=str(work / "dom0-cache"), guest_os_state_dir=str(work / "state"),
        guest_os_kernel_release="6.1.0-99-amd64", guest_os_modules_dir=str(work / "modules"),
        guest_os_initrd_dir=str(initrd.parent), guest_os_packages=["bc"], guest_os_mtu=1400,
        guest_os_progress_interval=1,
        guest_os_users=[dict(name="alice", ssh_keys=[KEY], sudo=True), dict(name="bob", ssh_keys=[])],
        guest_os_hosts=[dict(name="lab1-fe", ip="10.200.1.2"), dict(name="lab1-c01", ip="10.200.1.3"),
                        dict(name="lab1-c02", ip="10.200.1.4")],
    )
    (work / "vars.json").write_text(json.dumps(variables))
    (work / "play.yml").write_text(PLAY)

    def run(*extra):
        return subprocess.run(["ansible-playbook", str(work / "play.yml"), "-e", "@%s" % (work / "vars.json")] + list(extra),
                              capture_output=True, text=True, check=False)

    first = run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    return dict(disk=str(disk), work=work, run=run, first=first)


def test_the_disk_holds_the_node_identity_and_network(node):
    assert debugfs(node["disk"], "cat /etc/hostname").strip() == "lab1-c01"
    hosts = debugfs(node["disk"], "cat /etc/hosts")
    assert "10.200.1.3\tlab1-c01" in hosts and "10.200.1.2\tlab1-fe" in hosts and "10.200.1.4\tlab1-c02" in hosts
    network = debugfs(node["disk"], "cat /etc/systemd/network/10-mvc-overlay.network")
    assert "MACAddress=00:16:3e:01:02:03" in network and "Address=10.200.1.3/24" in network
    assert "MTUBytes=1400" in network
    assert "systemd-networkd.service" in debugfs(node["disk"], "ls /etc/systemd/system/multi-user.target.wants")
    assert "/dev/xvda\t/\text4" in debugfs(node["disk"], "cat /etc/fstab")
    assert "xen-netfront.ko" in debugfs(node["disk"], "ls /lib/modules/6.1.0-99-amd64/kernel/drivers/net")
    assert "xen-blkfront.ko" in debugfs(node["disk"], "ls /lib/modules/6.1.0-99-amd64/kernel/drivers/block")
    assert "fs" not in debugfs(node["disk"], "ls /lib/modules/6.1.0-99-amd64/kernel").split()
    assert "kernel/drivers/net/xen-netfront.ko:" in debugfs(node["disk"], "cat /lib/modules/6.1.0-99-amd64/modules.dep")


def test_users_get_their_keys_and_sudo_only_when_asked(node):
    assert debugfs(node["disk"], "cat /home/alice/.ssh/authorized_keys").strip() == KEY
    stat = debugfs(node["disk"], "stat /home/alice/.ssh/authorized_keys")
    assert "Mode:  0600" in stat and "User:  1000" in stat
    assert debugfs(node["disk"], "cat /etc/sudoers.d/mvc-alice").strip() == "alice ALL=(ALL) NOPASSWD:ALL"
    assert "mvc-bob" not in debugfs(node["disk"], "ls /etc/sudoers.d")
    assert "bob:x:1001:1001" in debugfs(node["disk"], "cat /etc/passwd")


def test_the_requested_package_and_ssh_are_installed(node):
    status = debugfs(node["disk"], "cat /var/lib/dpkg/status")
    for package in ("bc", "openssh-server", "python3", "systemd-sysv"):
        assert "Package: %s\nStatus: install ok installed" % package in status, package
    assert "PasswordAuthentication no" in debugfs(node["disk"], "cat /etc/ssh/sshd_config.d/10-mvc.conf")


def test_each_node_gets_its_own_host_keys(node, tmp_path):
    golden = [p for p in os.listdir(node["work"] / "dom0-cache") if p.endswith(".tar.gz")]
    assert len(golden) == 1
    listing = subprocess.run(["tar", "-tzf", str(node["work"] / "dom0-cache" / golden[0])], check=True,
                             capture_output=True, text=True).stdout
    assert "ssh_host_" not in listing and "./etc/machine-id" in listing
    keys = debugfs(node["disk"], "ls /etc/ssh")
    assert "ssh_host_ed25519_key.pub" in keys and "ssh_host_ecdsa_key.pub" in keys and "ssh_host_rsa_key" not in keys


def test_the_install_prints_how_long_it_has_taken_while_it_runs(node):
    # A line every guest_os_progress_interval (1 s here) from the controller, before the task's own result.
    out = node["first"].stdout
    task = out.index("TASK [cmc.mvc.guest_os : Make the node's root filesystem on its disk, in one pass on the Dom0]")
    result = out.index("changed: [localhost]", task)
    lines = re.findall(r"localhost: installing lab1-c01 onto %s \([^)]*\): (\d+) s so far" % re.escape(node["disk"]),
                       out[task:result])
    seconds = [int(n) for n in lines]
    assert seconds and seconds[0] >= 1 and seconds == sorted(set(seconds)), out[task:result + 200]


def test_a_second_run_changes_nothing_and_leaves_no_staging_tree(node):
    again = node["run"]()
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]
    assert sorted(os.listdir(node["work"] / "state")) == ["lab1-c01.os"]
    stamp = json.loads((node["work"] / "state" / "lab1-c01.os").read_text())
    assert stamp["packages"] == ["bc"] and stamp["address"] == "10.200.1.3/24"


def test_bad_input_names_the_variable_and_writes_nothing(node, tmp_path):
    bad = node["run"]("-e", "guest_os_hostname=Bad_Name", "-e", "guest_os_state_dir=%s" % tmp_path)
    assert bad.returncode != 0 and "guest_os_hostname=Bad_Name" in bad.stdout
    assert os.listdir(tmp_path) == []


def test_file_capabilities_survive_into_the_disk(node):
    # ping's cap_net_raw, set by its package, lets users other than root ping over the overlay.
    assert "security.capability" in debugfs(node["disk"], "ea_list /usr/bin/ping")


def test_the_disk_is_a_copy_of_the_dom0s_base_image_with_its_own_name(node):
    # The golden tree becomes a filesystem once per golden image; each node's disk is a copy of it, grown to the
    # disk's size, with its own label and UUID, and the kernel's modules (which differ between clusters).
    bases = [p for p in os.listdir(node["work"] / "dom0-cache") if p.startswith("base-") and p.endswith(".img")]
    assert len(bases) == 1, os.listdir(node["work"] / "dom0-cache")

    def superblock(path):
        out = subprocess.run(["dumpe2fs", "-h", str(path)], check=True, capture_output=True, text=True).stdout
        return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)

    base, disk = superblock(node["work"] / "dom0-cache" / bases[0]), superblock(node["disk"])
    assert disk["Filesystem volume name"].strip() == "lab1-c01"
    assert disk["Filesystem UUID"] != base["Filesystem UUID"]
    assert int(disk["Block count"]) * int(disk["Block size"]) == 2 * 1024 ** 3
    assert int(base["Block count"]) < int(disk["Block count"])
    base_modules = debugfs(str(node["work"] / "dom0-cache" / bases[0]), "ls /lib/modules").split()
    assert "6.1.0-99-amd64" not in base_modules, base_modules
    assert "6.1.0-99-amd64" in debugfs(node["disk"], "ls /lib/modules").split()


def test_the_guest_initrd_loads_each_module_after_what_it_needs_and_mounts_the_root(node, tmp_path):
    initrd = node["work"] / "initrd" / "initrd.img-6.1.0-99-amd64"
    listing = subprocess.run("gzip -dc %s | cpio -it --quiet" % initrd, shell=True, check=True, capture_output=True,
                             text=True).stdout.split()
    assert {"init", "bin/busybox", "bin/switch_root", "dev/console", "lib/modules/ext4.ko"} <= set(listing)
    assert "lib/modules/big.ko" not in listing
    subprocess.run("gzip -dc %s | cpio -idm --quiet" % initrd, shell=True, check=True, cwd=tmp_path)
    order = (tmp_path / "etc" / "modules.load").read_text().split()
    # modprobe's order: soft dependencies first, then modules.dep's list from its end.
    assert order == ["xen-blkfront.ko", "xen-netfront.ko", "crc32c_generic.ko", "jbd2.ko", "mbcache.ko", "crc16.ko",
                     "ext4.ko"], order
    assert (tmp_path / "lib" / "modules" / "ext4.ko").read_text() == "module stand-in kernel/fs/ext4/ext4.ko\n"
    assert "switch_root /root" in (tmp_path / "init").read_text()
    # The init script is valid shell (busybox sh runs it; dash checks the same POSIX syntax here).
    subprocess.run(["sh", "-n", str(tmp_path / "init")], check=True)
