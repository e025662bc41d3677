#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_rootfs
short_description: Install a Xen guest's root filesystem onto its disk from a golden tarball, once
version_added: 0.1.0
description:
  - Runs on a Xen Dom0, before the domain's first boot. In one pass it writes the guest's ext4 filesystem onto
    O(disk) from O(golden) with the PV driver modules of the kernel that boots the guest, writes O(files), enables
    O(enable_units), makes new SSH host keys and the O(users) with their SSH keys. It then writes O(stamp).
  - A disk file, on a Dom0 that has loop devices, is a copy of the Dom0's base image (beside O(golden), the
    golden tree made into a filesystem with C(mke2fs -d) once per golden image), grown to the disk's size, given
    its own label and UUID, and mounted to add the kernel's modules and the node's own files.
    The copy replaces the disk only when it is complete.
  - A block device, or a Dom0 without loop devices, gets a fresh temporary tree of O(golden) per node, made into
    its filesystem with C(mke2fs -d).
  - Installs only when O(stamp) does not exist; a disk with a stamp holds a guest that may have run, and is
    never overwritten. When the stamp records other data than O(stamp_data), the module warns.
  - The tree, the mount and the copy are removed whatever happens, and the stamp is written last, so a failed
    run leaves no stamp and the next run installs again.
  - Holds the lock named after O(hostname) in C(/run/lock/cmc-mvc) while it works (M(cmc.mvc.xl_domain) takes
    the same lock for a domain of that name), so a re-run waits for a killed run's module that is still working
    on the Dom0 (up to 30 minutes).
  - A module call prints nothing while it runs; its action plugin prints a line in the normal output every
    O(progress_interval) seconds, naming the node and the disk and how long the install has taken so far, and a
    line after a wait for another run's lock.
  - Used by the P(cmc.mvc.guest_os#role) role.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.check_mode_full
  - cmc.mvc._attributes.diff_mode_full
attributes:
  check_mode:
    description: Reports whether it would install, and changes nothing.
  diff_mode:
    description: Shows the stamp before and after.
options:
  disk:
    description: The domain's disk, a file or block device that exists. Its content is replaced.
    type: path
    required: true
  golden:
    description: Golden root filesystem tarball (gzip), made with debootstrap.
    type: path
    required: true
  hostname:
    description: Host name of the guest; labels the filesystem and the host keys.
    type: str
    required: true
  stamp:
    description: File that records the install; its directory also holds the temporary tree.
    type: path
    required: true
  stamp_data:
    description: What the stamp records (OS, golden image, address and so on).
    type: dict
    default: {}
  kernel_release:
    description: Release of the kernel that boots the guest (the Dom0's, with C(xl) direct kernel boot).
    type: str
    required: true
  modules_dir:
    description: Where the kernel modules of O(kernel_release) are.
    type: path
    default: /lib/modules
  kernel_modules:
    description: Module files, relative to the release's module directory, that the guest gets.
    type: list
    elements: str
    default: [kernel/drivers/block/xen-blkfront.ko, kernel/drivers/net/xen-netfront.ko]
  files:
    description: Files written into the tree.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path relative to the guest's root.
        type: str
        required: true
      content:
        description: The file's content.
        type: str
        required: true
      mode:
        description: Octal mode.
        type: str
        default: "0644"
  enable_units:
    description: systemd units enabled in the guest.
    type: list
    elements: str
    default: []
  host_key_types:
    description: SSH host key types made for the guest (RSA is slow to make on a busy Dom0).
    type: list
    elements: str
    default: [ed25519, ecdsa]
  users:
    description: Users made in the guest.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      ssh_keys:
        description: Public keys for C(~/.ssh/authorized_keys).
        type: list
        elements: str
        default: []
      sudo:
        description: Whether the user gets passwordless sudo.
        type: bool
        default: false
      uid:
        description:
          - The user's uid, and its group's gid. By default C(useradd) picks the next free one, which is the same on
            every node made with the same O(users) in the same order.
          - Give it where the same user must own files across nodes that do not share that history, for example
            a home directory shared over NFS with other hosts.
        type: int
  progress_interval:
    description: Seconds between the progress lines that the action plugin prints while the module runs; V(0) for none.
    type: int
    default: 15
"""

EXAMPLES = r"""
- name: Install node c01's disk
  cmc.mvc.guest_rootfs:
    disk: /var/lib/xen/images/mvc/lab1/lab1-c01.img
    golden: /var/cache/cmc-mvc/golden/bookworm-a83c73e1fad6.tar.gz
    hostname: lab1-c01
    kernel_release: 6.1.0-27-amd64
    stamp: /var/lib/xen/mvc/lab1/lab1-c01.os
    stamp_data: {os: debian-12, address: 10.200.1.3/24}
    files:
      - {path: etc/hostname, content: "lab1-c01\n"}
    enable_units: [systemd-networkd.service]
    users:
      - name: alice
        ssh_keys: ["ssh-ed25519 AAAAC3Nza... alice@example.org"]
        sudo: true
"""

RETURN = r"""
stamp:
  description: The stamp's data after the run (what the disk holds).
  returned: always
  type: dict
  sample: {"os": "debian-12", "address": "10.200.1.3/24"}
installed:
  description: Whether this run installed the disk (or would, in check mode).
  returned: always
  type: bool
  sample: true
lock_wait_s:
  description: Seconds spent waiting for the node's lock, held by another run's module still working on it;
    the action plugin prints a line when it is 1 or more.
  returned: success
  type: int
  sample: 0
"""

import contextlib
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _guest, _xen


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            disk=dict(type="path", required=True),
            golden=dict(type="path", required=True),
            hostname=dict(type="str", required=True),
            stamp=dict(type="path", required=True),
            stamp_data=dict(type="dict", default={}),
            kernel_release=dict(type="str", required=True),
            modules_dir=dict(type="path", default="/lib/modules"),
            kernel_modules=dict(type="list", elements="str",
                                default=["kernel/drivers/block/xen-blkfront.ko", "kernel/drivers/net/xen-netfront.ko"]),
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="str", required=True),
                content=dict(type="str", required=True),
                mode=dict(type="str", default="0644"),
            )),
            enable_units=dict(type="list", elements="str", default=[]),
            host_key_types=dict(type="list", elements="str", default=["ed25519", "ecdsa"], no_log=False),
            users=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                ssh_keys=dict(type="list", elements="str", default=[], no_log=False),
                sudo=dict(type="bool", default=False),
                uid=dict(type="int"),
            )),
            progress_interval=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # Released when the module returns, whatever the path: a persistent interpreter (mitogen) never exits.
    try:
        with contextlib.nullcontext(0.0) if module.check_mode else _xen.domain_lock(p["hostname"]) as waited:
            result = install(module, p)
    except _xen.LockError as exc:
        module.fail_json(msg=str(exc), field="hostname")
    module.exit_json(lock_wait_s=round(waited), **result)


def install(module: AnsibleModule, p: dict[str, t.Any]) -> dict[str, t.Any]:
    """Installs the disk unless its stamp says it is done; returns the module's result."""
    before = _guest.read_stamp(p["stamp"])
    if before is not None:
        if before != p["stamp_data"]:
            module.warn("%s was installed with %s; the disk is kept as it is (remove the domain to reinstall it)"
                        % (p["hostname"], before))
        return dict(changed=False, installed=False, stamp=before)
    try:
        _guest.check(p)
    except _guest.GuestError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    diff = {"before": "", "after": module.jsonify(p["stamp_data"]) + "\n",
            "before_header": p["stamp"], "after_header": p["stamp"]}
    if module.check_mode:
        return dict(changed=True, installed=True, stamp=p["stamp_data"], diff=diff)

    def run(argv: list[str], what: str) -> None:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise _guest.GuestError(None, "%s failed (rc=%d): %s" % (what, rc, (err or out).strip()))

    try:
        _guest.build(p, run)
    except _guest.GuestError as exc:
        module.fail_json(msg="%s: %s" % (p["hostname"], exc), field=exc.field)
    except OSError as exc:
        module.fail_json(msg="%s: %s" % (p["hostname"], exc), exception=traceback.format_exc())
    return dict(changed=True, installed=True, stamp=p["stamp_data"], diff=diff)


if __name__ == "__main__":
    main()
