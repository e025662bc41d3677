# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _guest


@pytest.fixture
def params(tmp_path):
    golden = tmp_path / "golden.tar.gz"
    golden.write_bytes(b"")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    (tmp_path / "modules" / "6.1.0-99-amd64").mkdir(parents=True)
    return dict(hostname="lab1-c01", users=[{"name": "alice"}], files=[{"path": "etc/hostname", "content": "x"}],
                host_key_types=["ed25519"], golden=str(golden), disk=str(disk), modules_dir=str(tmp_path / "modules"),
                kernel_release="6.1.0-99-amd64")


def test_good_input_passes(params):
    _guest.check(params)


@pytest.mark.parametrize("change, field", [
    ({"hostname": "Bad_Name"}, "hostname"),
    ({"users": [{"name": "alice"}, {"name": "Root Admin"}]}, "users[1].name"),
    ({"files": [{"path": "/etc/passwd", "content": ""}]}, "files[0].path"),
    ({"files": [{"path": "etc/../../x", "content": ""}]}, "files[0].path"),
    ({"host_key_types": ["dsa"]}, "host_key_types"),
    ({"kernel_release": "9.9.9"}, "kernel_release"),
    ({"hostname": "lab1-c01\n"}, "hostname"),
    ({"users": [{"name": "alice\n"}]}, "users[0].name"),
    ({"users": [{"name": "alice", "uid": 999}]}, "users[0].uid"),
    ({"users": [{"name": "alice"}, {"name": "bob", "uid": 65534}]}, "users[1].uid"),
])
def test_bad_input_names_the_field(params, change, field):
    params.update(change)
    with pytest.raises(_guest.GuestError) as exc:
        _guest.check(params)
    assert exc.value.field == field and str(exc.value).startswith(field + ": ")


def test_missing_disk_and_golden_are_named(params, tmp_path):
    params["disk"] = str(tmp_path / "nope.img")
    with pytest.raises(_guest.GuestError, match="^disk: .*xen_domain"):
        _guest.check(params)
    params["golden"] = str(tmp_path / "nope.tar.gz")
    with pytest.raises(_guest.GuestError, match="^golden: "):
        _guest.check(params)


def test_write_replaces_a_link_instead_of_following_it(tmp_path):
    outside = tmp_path / "dom0-file"
    outside.write_text("dom0\n")
    (tmp_path / "tree" / "etc").mkdir(parents=True)
    (tmp_path / "tree" / "etc" / "resolv.conf").symlink_to(outside)
    _guest.write(str(tmp_path / "tree" / "etc" / "resolv.conf"), "guest\n", 0o644)
    assert outside.read_text() == "dom0\n"
    assert (tmp_path / "tree" / "etc" / "resolv.conf").read_text() == "guest\n"


@pytest.mark.parametrize("user, commands", [
    ({"name": "alice"}, [["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "alice"]]),
    ({"name": "alice", "uid": 3001}, [["groupadd", "--gid", "3001", "alice"],
                                      ["useradd", "--create-home", "--uid", "3001", "--gid", "3001", "--shell",
                                       "/bin/bash", "alice"]]),
])
def test_a_user_gets_the_uid_asked_for_as_uid_and_gid(tmp_path, user, commands):
    calls = []
    _guest.add_user(str(tmp_path), dict(user, ssh_keys=["ssh-ed25519 AAAA alice"], sudo=False),
                    lambda argv, what: calls.append(argv))
    assert [argv[2:] for argv in calls if argv[:2] == ["chroot", str(tmp_path)]][:-1] == commands
    assert (tmp_path / "home" / "alice" / ".ssh" / "authorized_keys").read_text() == "ssh-ed25519 AAAA alice\n"


def test_stamp_that_is_missing_or_broken_reads_as_none(tmp_path):
    assert _guest.read_stamp(str(tmp_path / "none")) is None
    (tmp_path / "broken").write_text("{")
    assert _guest.read_stamp(str(tmp_path / "broken")) is None


@pytest.fixture
def build_params(params, tmp_path, monkeypatch):
    monkeypatch.setattr(_guest._xen, "LOCK_DIR", str(tmp_path / "locks"))
    release = tmp_path / "modules" / "6.1.0-99-amd64"
    (release / "kernel").mkdir(parents=True)
    (release / "kernel" / "xen-blkfront.ko").write_text("ko")
    params.update(kernel_modules=["kernel/xen-blkfront.ko"], enable_units=["systemd-networkd.service"], users=[],
                  stamp=str(tmp_path / "state" / "lab1-c01.os"), stamp_data={"os": "debian-12"})
    (tmp_path / "disk.img").write_bytes(b"\0" * 4096)
    return params


class Recorder:
    """Stands in for the module's run(): records each command and does the little the next step needs."""

    def __init__(self, fail_on=None):
        self.calls, self.fail_on = [], fail_on

    def __call__(self, argv, what):
        self.calls.append(argv[0])
        if argv[0] == self.fail_on:
            raise _guest.GuestError(None, "%s failed" % what)
        if argv[0] == "mke2fs":
            open(argv[-2] if argv[-1].endswith("M") else argv[-1], "ab").close()
        elif argv[0] == "cp":
            with open(argv[-1], "wb") as f:
                f.write(b"base")
        elif argv[0] == "umount":  # what was written went into the disk's filesystem, not the mount point
            for entry in os.listdir(argv[-1]):
                shutil.rmtree(os.path.join(argv[-1], entry))


def test_without_loop_devices_the_whole_tree_is_made_into_the_disk(build_params, monkeypatch):
    monkeypatch.setattr(_guest, "loop_mounts", lambda: False)
    run = Recorder()
    _guest.build(build_params, run)
    assert run.calls == ["tar", "depmod", "systemctl", "ssh-keygen", "mke2fs"]
    assert _guest.read_stamp(build_params["stamp"]) == {"os": "debian-12"}


@pytest.fixture
def loop_disk(monkeypatch):
    """A Dom0 with loop devices, and a node disk (4 KiB) larger than the base image (1 KiB)."""
    monkeypatch.setattr(_guest, "loop_mounts", lambda: True)
    monkeypatch.setattr(os.path, "getsize", lambda path: 4096 if path.endswith("disk.img") else 1024)


def test_a_disk_file_is_a_copy_of_the_base_image_made_once(build_params, loop_disk, tmp_path):
    run = Recorder()
    _guest.build(build_params, run)
    assert run.calls == ["tar", "mke2fs", "cp", "resize2fs", "tune2fs", "mount", "depmod", "systemctl",
                         "ssh-keygen", "umount"]
    disk = (tmp_path / "disk.img").read_bytes()
    assert disk.startswith(b"base") and len(disk) == 4096  # the copy took the disk's place, grown to its size
    bases = [p for p in os.listdir(tmp_path) if p.startswith("base-")]
    assert len(bases) == 1 and bases[0].endswith(".img")
    os.unlink(build_params["stamp"])
    again = Recorder()
    _guest.build(build_params, again)
    assert again.calls[:2] == ["cp", "resize2fs"]  # the base image is made once
    os.unlink(build_params["stamp"])
    other = Recorder()
    build_params["kernel_modules"] = ["kernel/xen-blkfront.ko", "kernel/fs/nfs.ko"]
    (tmp_path / "modules" / "6.1.0-99-amd64" / "kernel" / "fs").mkdir()
    (tmp_path / "modules" / "6.1.0-99-amd64" / "kernel" / "fs" / "nfs.ko").write_text("ko")
    _guest.build(build_params, other)
    assert other.calls[:2] == ["cp", "resize2fs"]  # and shared by nodes that ask for other kernel modules
    assert [p for p in os.listdir(tmp_path) if p.startswith("base-")] == bases


def test_a_failed_node_install_leaves_the_disk_and_no_stamp(build_params, monkeypatch, tmp_path):
    monkeypatch.setattr(_guest, "loop_mounts", lambda: True)
    run = Recorder(fail_on="ssh-keygen")
    with pytest.raises(_guest.GuestError):
        _guest.build(build_params, run)
    assert run.calls[-1] == "umount"  # the lazy unmount after the failure
    assert (tmp_path / "disk.img").read_bytes() == b"\0" * 4096
    assert not os.path.exists(build_params["stamp"])
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".disk.img")) == []


class UnmountingRecorder(Recorder):
    """A Recorder whose umount takes the path out of ``mounted``, as the real one takes the mount away."""

    def __init__(self, mounted):
        super().__init__()
        self.mounted = mounted

    def __call__(self, argv, what):
        super().__call__(argv, what)
        if argv[0] == "umount":
            self.mounted.discard(argv[-1])


def test_a_killed_install_s_mount_tree_and_temporary_disk_are_removed_first(build_params, loop_disk, monkeypatch,
                                                                            tmp_path):
    work = tmp_path / "state"
    (work / ".lab1-c01.mnt.dead").mkdir(parents=True)
    (work / ".lab1-c01.mnt.dead" / "etc").mkdir()  # the disk's filesystem, still mounted
    (work / ".lab1-c01.tree").mkdir()
    (work / ".lab1-c01.tree" / "file").write_text("x")
    (work / ".lab1-c011.mnt.other").mkdir()  # another node's
    (tmp_path / ".disk.img.dead").write_bytes(b"half a copy")
    (tmp_path / ".disk.img2.other").write_bytes(b"another disk's")
    (tmp_path / ".base-left.img").write_bytes(b"")  # not this golden image's base: left alone
    mounted = {str(work / ".lab1-c01.mnt.dead")}
    monkeypatch.setattr(os.path, "ismount", lambda path: str(path) in mounted)
    run = UnmountingRecorder(mounted)
    _guest.build(build_params, run)
    assert run.calls[0] == "umount", run.calls  # the dead mount, before anything else
    assert sorted(os.listdir(work)) == [".lab1-c011.mnt.other", "lab1-c01.os"]
    assert not (tmp_path / ".disk.img.dead").exists()
    assert (tmp_path / ".disk.img2.other").exists() and (tmp_path / ".base-left.img").exists()
    assert _guest.read_stamp(build_params["stamp"]) == {"os": "debian-12"}


def test_a_killed_base_image_build_is_removed_before_the_next(build_params, loop_disk, tmp_path):
    run = Recorder()
    _guest.build(build_params, run)
    name = [p for p in os.listdir(tmp_path) if p.startswith("base-")][0][:-len(".img")]
    os.unlink(tmp_path / (name + ".img"))
    os.unlink(build_params["stamp"])
    (tmp_path / ("." + name + ".tree")).mkdir()
    (tmp_path / ("." + name + ".tree.img")).write_bytes(b"half")
    _guest.build(build_params, Recorder())
    assert sorted(p for p in os.listdir(tmp_path) if name in p) == [name + ".img"]
