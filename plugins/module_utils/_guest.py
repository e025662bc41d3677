# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: a guest's root filesystem from a golden tarball, made in one pass on the Dom0.

One pass, not one Ansible task per step: a Dom0 under load answers each task in seconds, and a node
needs a dozen steps. The steps run in a fresh temporary tree beside the stamp, so that two runs never
share a tree and a failed one leaves no half-written disk or stamp behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from ansible_collections.cmc.mvc.plugins.module_utils import _xen

USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
HOSTNAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
KEY_TYPES = ("ed25519", "ecdsa", "rsa")


class GuestError(Exception):
    """Bad input (``field`` names it) or a failed step."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message) if field else message)
        self.field = field


def check(params):
    """Raises GuestError naming the first field at fault."""
    if not HOSTNAME_RE.match(params["hostname"] or ""):
        raise GuestError("hostname", "%r is not a DNS label" % (params["hostname"],))
    for i, user in enumerate(params["users"] or []):
        if not USER_RE.match(user.get("name") or ""):
            raise GuestError("users[%d].name" % i, "%r is not a valid user name" % (user.get("name"),))
    for i, f in enumerate(params["files"] or []):
        path = f.get("path") or ""
        if path.startswith("/") or ".." in path.split("/") or not path:
            raise GuestError("files[%d].path" % i, "%r must be a relative path inside the guest" % (path,))
    for t in params["host_key_types"]:
        if t not in KEY_TYPES:
            raise GuestError("host_key_types", "%r is not one of %s" % (t, ", ".join(KEY_TYPES)))
    if not os.path.exists(params["golden"]):
        raise GuestError("golden", "%s does not exist" % params["golden"])
    if not os.path.exists(params["disk"]):
        raise GuestError("disk", "%s does not exist; make the domain's disk first (cmc.mvc.xen_domain)" % params["disk"])
    moddir = os.path.join(params["modules_dir"], params["kernel_release"])
    if not os.path.isdir(moddir):
        raise GuestError("kernel_release", "no modules in %s" % moddir)


def read_stamp(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def build(params, run):
    """Makes the disk from ``params`` (the module's options). ``run(argv, what)`` runs a command and raises
    on failure. Writes the stamp last, so its presence means a complete install."""
    work = os.path.dirname(params["stamp"]) or "."
    os.makedirs(work, mode=0o700, exist_ok=True)
    tree = tempfile.mkdtemp(prefix=".%s." % params["hostname"], dir=work)
    try:
        run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xzpf", params["golden"], "-C", tree], "unpacking the golden image")
        add_kernel_modules(params, tree, run)
        for f in params["files"]:
            write(os.path.join(tree, f["path"]), f["content"], int(f.get("mode") or "0644", 8))
        for unit in params["enable_units"]:
            run(["systemctl", "--root=" + tree, "enable", unit], "enabling %s" % unit)
        for t in params["host_key_types"]:
            key = os.path.join(tree, "etc/ssh/ssh_host_%s_key" % t)
            for old in (key, key + ".pub"):
                if os.path.exists(old):
                    os.unlink(old)
            run(["ssh-keygen", "-q", "-t", t, "-N", "", "-C", "root@" + params["hostname"], "-f", key],
                "making the %s host key" % t)
        for user in params["users"]:
            add_user(tree, user, run)
        label = params["hostname"][:16]
        run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-d", tree, params["disk"]], "making the filesystem")
        _xen.write_atomic(params["stamp"], json.dumps(params["stamp_data"], indent=2, sort_keys=True) + "\n", 0o600)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def add_kernel_modules(params, tree, run):
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


def add_user(tree, user, run):
    name = user["name"]
    run(["chroot", tree, "useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name],
        "adding user %s" % name)
    ssh = os.path.join(tree, "home", name, ".ssh")
    os.makedirs(ssh, mode=0o700, exist_ok=True)
    write(os.path.join(ssh, "authorized_keys"), "".join(k.strip() + "\n" for k in user.get("ssh_keys") or []), 0o600)
    run(["chroot", tree, "chown", "-R", "%s:%s" % (name, name), "/home/%s/.ssh" % name], "owning %s's keys" % name)
    if user.get("sudo"):
        write(os.path.join(tree, "etc/sudoers.d", "mvc-" + name), "%s ALL=(ALL) NOPASSWD:ALL\n" % name, 0o440)


def write(path, content, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path):  # an absolute link in the tree points at the Dom0's own file
        os.unlink(path)
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, mode)
