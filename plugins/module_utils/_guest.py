# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: a guest's root filesystem from a golden tarball, made in one pass on the Dom0.

One pass, not one Ansible task per step: a Dom0 under load answers each task in seconds, and a node
needs a dozen steps. The steps run in a fresh temporary tree beside the stamp, so that two runs never
share a tree and a failed one leaves no half-written disk or stamp behind."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import typing as t

from ansible_collections.cmc.mvc.plugins.module_utils import _xen
from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError
# The request's range: a uid that the request accepts is one that the guest install accepts.
from ansible_collections.cmc.mvc.plugins.module_utils._request import UID_RANGE

USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
HOSTNAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
KEY_TYPES = ("ed25519", "ecdsa", "rsa")
# Part of every base image's name: a change to how base images are made gives new ones (2: without the kernel's
# modules).
BASE_FORMAT = 2

if t.TYPE_CHECKING:
    # run(argv, what): runs a command, raises GuestError when it fails.
    Run = t.Callable[[list[str], str], object]
    Params = t.Mapping[str, t.Any]


# Bad input (``field`` names it) or a failed step (field None: the message alone).
GuestError = FieldError


def check(params: Params) -> None:
    """Raises GuestError naming the first field at fault."""
    if not HOSTNAME_RE.fullmatch(params["hostname"] or ""):
        raise GuestError("hostname", "%r is not a DNS label" % (params["hostname"],))
    for i, user in enumerate(params["users"] or []):
        if not USER_RE.fullmatch(user.get("name") or ""):
            raise GuestError("users[%d].name" % i, "%r is not a valid user name" % (user.get("name"),))
        uid = user.get("uid")
        if uid is not None and not UID_RANGE[0] <= uid <= UID_RANGE[1]:
            raise GuestError("users[%d].uid" % i, "%d is outside %d-%d, the uids of users that are not system "
                                                  "accounts" % (uid, UID_RANGE[0], UID_RANGE[1]))
    for i, f in enumerate(params["files"] or []):
        path = f.get("path") or ""
        if path.startswith("/") or ".." in path.split("/") or not path:
            raise GuestError("files[%d].path" % i, "%r must be a relative path inside the guest" % (path,))
    for key_type in params["host_key_types"]:
        if key_type not in KEY_TYPES:
            raise GuestError("host_key_types", "%r is not one of %s" % (key_type, ", ".join(KEY_TYPES)))
    if not os.path.exists(params["golden"]):
        raise GuestError("golden", "%s does not exist" % params["golden"])
    if not os.path.exists(params["disk"]):
        raise GuestError("disk", "%s does not exist; make the domain's disk first (cmc.mvc.xen_domain)" % params["disk"])
    moddir = os.path.join(params["modules_dir"], params["kernel_release"])
    if not os.path.isdir(moddir):
        raise GuestError("kernel_release", "no modules in %s" % moddir)


def read_stamp(path: str) -> t.Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def build(params: Params, run: Run) -> None:
    """Makes the disk from ``params`` (the module's options). ``run(argv, what)`` runs a command and raises
    on failure. Writes the stamp last, so its presence means a complete install.

    A disk file is a copy of the Dom0's base image (the golden tree made into a filesystem once per golden
    image), grown to the disk's size and mounted to add the kernel's modules and the node's own files:
    ``mke2fs -d`` of the whole tree for every node took most of a node's install on a slow Dom0. A block
    device, or a Dom0 that cannot mount a loop device, gets the whole tree per node as before."""
    work = os.path.dirname(params["stamp"]) or "."
    os.makedirs(work, mode=0o700, exist_ok=True)
    remove_leftovers(params, work, run)
    base = None
    if os.path.isfile(params["disk"]) and loop_mounts():
        base = base_image(params, run)
        if os.path.getsize(params["disk"]) < os.path.getsize(base):
            base = None
    if base is not None:
        build_from_base(params, run, base, work)
    else:
        build_from_tree(params, run, work)
    _xen.write_atomic(params["stamp"], json.dumps(params["stamp_data"], indent=2, sort_keys=True) + "\n", 0o600)


def remove_leftovers(params: Params, work: str, run: Run) -> None:
    """What a killed install of this node left: its mount (``.HOST.mnt.*``), its tree (``.HOST.*``) and its
    temporary disk. A module under mitogen dies with its connection, without its cleanup. Called under the node's
    lock, which a live install holds, so none of them is in use."""
    host = params["hostname"]
    for name in sorted(os.listdir(work)):
        path = os.path.join(work, name)
        if os.path.islink(path) or not os.path.isdir(path):
            continue
        if name.startswith(".%s." % host):
            while os.path.ismount(path):  # a mount may be stacked on another
                run(["umount", path], "unmounting what a killed install left mounted")
            shutil.rmtree(path)
    disk = params["disk"]
    if os.path.isfile(disk):
        prefix = "." + os.path.basename(disk) + "."
        for name in os.listdir(os.path.dirname(disk) or "."):
            path = os.path.join(os.path.dirname(disk), name)
            if name.startswith(prefix) and os.path.isfile(path) and not os.path.islink(path):
                os.unlink(path)


def build_from_tree(params: Params, run: Run, work: str) -> None:
    tree = tempfile.mkdtemp(prefix=".%s." % params["hostname"], dir=work)
    try:
        unpack(params, tree, run)
        add_kernel_modules(params, tree, run)
        customize(params, tree, run)
        label = params["hostname"][:16]
        run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-d", tree, params["disk"]], "making the filesystem")
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def unpack(params: Params, tree: str, run: Run) -> None:
    run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xzpf", params["golden"], "-C", tree],
        "unpacking the golden image")


def customize(params: Params, tree: str, run: Run) -> None:
    """The node's own files, units, host keys and users, in its tree (unpacked, or its filesystem mounted)."""
    for f in params["files"]:
        write(os.path.join(tree, f["path"]), f["content"], int(f.get("mode") or "0644", 8))
    for unit in params["enable_units"]:
        run(["systemctl", "--root=" + tree, "enable", unit], "enabling %s" % unit)
    for key_type in params["host_key_types"]:
        key = os.path.join(tree, "etc/ssh/ssh_host_%s_key" % key_type)
        for old in (key, key + ".pub"):
            if os.path.exists(old):
                os.unlink(old)
        run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "root@" + params["hostname"], "-f", key],
            "making the %s host key" % key_type)
    for user in params["users"]:
        add_user(tree, user, run)


def loop_mounts() -> bool:
    return os.path.exists("/dev/loop-control") and os.geteuid() == 0


def base_image(params: Params, run: Run) -> str:
    """The Dom0's base filesystem image of this golden image, made once (under a lock, written under a
    temporary name)."""
    # Not the kernel or its modules: each node gets those on its own copy (a few files and a depmod), so clusters
    # that ask for other modules (shared /home's NFS and autofs) share the Dom0's one base image of the golden
    # image instead of making one each (about 75 s on the lab's emulated Dom0s).
    key = hashlib.sha1(json.dumps([os.path.basename(params["golden"]), os.path.getsize(params["golden"]),
                                   BASE_FORMAT]).encode())
    name = "base-" + key.hexdigest()[:16]
    path = os.path.join(os.path.dirname(params["golden"]), name + ".img")
    with _xen.domain_lock(name):
        if os.path.exists(path):
            return path
        for left in os.listdir(os.path.dirname(path)):  # a killed build's tree and image, as above
            if left.startswith("." + name + "."):
                left = os.path.join(os.path.dirname(path), left)
                if os.path.isdir(left) and not os.path.islink(left):
                    shutil.rmtree(left)
                else:
                    os.unlink(left)
        tree = tempfile.mkdtemp(prefix="." + name + ".", dir=os.path.dirname(path))
        tmp = tree + ".img"
        try:
            unpack(params, tree, run)
            used, inodes = 0, 0
            for d, dirs, files in os.walk(tree):
                inodes += len(dirs) + len(files)
                used += sum(os.lstat(os.path.join(d, f)).st_size for f in files)
            # At least the smallest node disk (1 GiB), so that such a node needs no resize2fs (slow on a busy
            # Dom0); the file is sparse, so the size costs nothing. 4 KiB blocks, not the 1 KiB that mke2fs picks
            # for a small filesystem.
            size_mb = max(1024, int(used * 1.25 / 2 ** 20) + 4 * inodes // 1024 + 128)
            run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-N", str(inodes * 2 + 8192), "-d", tree, tmp,
                 "%dM" % size_mb], "making the base image")
            os.chmod(tmp, 0o600)
            os.rename(tmp, path)
        finally:
            shutil.rmtree(tree, ignore_errors=True)
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


def build_from_base(params: Params, run: Run, base: str, work: str) -> None:
    """The node's disk file: a sparse copy of ``base`` grown to the disk's size, its files added through a loop
    mount, then put in the disk's place (so a failed run leaves the disk as it was)."""
    disk = params["disk"]
    st = os.stat(disk)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(disk) + ".", dir=os.path.dirname(disk))
    os.close(fd)
    mnt = tempfile.mkdtemp(prefix=".%s.mnt." % params["hostname"], dir=work)
    mounted = False
    try:
        run(["cp", "--sparse=always", base, tmp], "copying the base image")
        os.chmod(tmp, st.st_mode & 0o7777)
        if st.st_size > os.path.getsize(base):
            os.truncate(tmp, st.st_size)
            run(["resize2fs", "-f", tmp], "growing the filesystem to the disk")
        # Its own label and UUID: nodes are copies of one image.
        run(["tune2fs", "-L", params["hostname"][:16], "-U", "random", tmp], "naming the filesystem")
        run(["mount", "-o", "loop", tmp, mnt], "mounting the disk")
        mounted = True
        add_kernel_modules(params, mnt, run)
        customize(params, mnt, run)
        run(["umount", mnt], "unmounting the disk")
        mounted = False
        os.rename(tmp, disk)
    finally:
        if mounted:
            try:
                run(["umount", "--lazy", mnt], "unmounting the disk")
            except GuestError:
                pass  # the error that brought us here is the one to report
        else:
            os.rmdir(mnt)
        if os.path.exists(tmp):
            os.unlink(tmp)


def add_kernel_modules(params: Params, tree: str, run: Run) -> None:
    """The PV driver modules of the kernel that boots the guest, not the Dom0's whole tree."""
    release = params["kernel_release"]
    src = os.path.join(params["modules_dir"], release)
    dst = os.path.join(tree, "lib/modules", release)
    for rel in list(params["kernel_modules"]) + ["modules.order", "modules.builtin", "modules.builtin.modinfo"]:
        path = os.path.join(src, rel)
        if not os.path.exists(path):
            if rel.startswith("modules."):
                continue
            raise GuestError("kernel_modules", "%s is not in %s" % (rel, src))
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(path, os.path.join(dst, rel))
    run(["depmod", "-b", tree, release], "depmod")


def add_user(tree: str, user: t.Mapping[str, t.Any], run: Run) -> None:
    name = user["name"]
    if user.get("uid") is not None:
        # The group first: useradd --user-group takes the uid as gid only when that gid is free.
        run(["chroot", tree, "groupadd", "--gid", str(user["uid"]), name], "adding group %s" % name)
        ids = ["--uid", str(user["uid"]), "--gid", str(user["uid"])]
    else:
        ids = ["--user-group"]
    run(["chroot", tree, "useradd", "--create-home"] + ids + ["--shell", "/bin/bash", name], "adding user %s" % name)
    ssh = os.path.join(tree, "home", name, ".ssh")
    os.makedirs(ssh, mode=0o700, exist_ok=True)
    write(os.path.join(ssh, "authorized_keys"), "".join(k.strip() + "\n" for k in user.get("ssh_keys") or []), 0o600)
    run(["chroot", tree, "chown", "-R", "%s:%s" % (name, name), "/home/%s/.ssh" % name], "owning %s's keys" % name)
    if user.get("sudo"):
        write(os.path.join(tree, "etc/sudoers.d", "mvc-" + name), "%s ALL=(ALL) NOPASSWD:ALL\n" % name, 0o440)


def write(path: str, content: str, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path):  # an absolute link in the tree points at the Dom0's own file
        os.unlink(path)
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, mode)
