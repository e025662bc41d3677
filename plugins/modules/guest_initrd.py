#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_initrd
short_description: Write the small initrd that boots Xen guests with the Dom0's kernel
version_added: 0.2.0
description:
  - Runs on a Xen Dom0. Writes O(dest), a gzip'd cpio archive with a static busybox, the kernel modules
    O(modules) of O(kernel_release) with their dependencies (and soft dependencies, such as the C(crc32c) that
    C(ext4) asks for) in load order, and an C(/init) that loads them, mounts the root filesystem named by
    C(root=) on the guest's kernel command line (a device, C(LABEL=) or C(UUID=); C(rootfstype=), C(ro), C(rw)
    and C(init=) are honoured) and runs its init.
  - It replaces C(mkinitramfs) for this job, which took minutes on a slow Dom0. The archive holds no
    timestamps, so the same inputs give the same bytes; O(dest) is rewritten only when they differ, through a
    temporary file in its directory.
  - Used by the P(cmc.mvc.guest_os#role) role.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.check_mode_full
  - cmc.mvc._attributes.diff_mode_full
attributes:
  check_mode:
    description: Reports whether O(dest) would change, and writes nothing.
  diff_mode:
    description: Shows the modules and the checksum before and after.
options:
  dest:
    description: Path of the initrd. Its directory must exist.
    type: path
    required: true
  kernel_release:
    description: Release of the kernel that boots the guests (the Dom0's, with C(xl) direct kernel boot).
    type: str
    required: true
  modules_dir:
    description: Where the modules of O(kernel_release) are, with C(modules.dep).
    type: path
    default: /lib/modules
  modules:
    description: Names of the modules to load, as C(modprobe) knows them. Built-in ones are skipped.
    type: list
    elements: str
    default: [xen-blkfront, xen-netfront, ext4]
  busybox:
    description: A statically linked busybox (Debian's C(busybox-static) package).
    type: path
    default: /bin/busybox
"""

EXAMPLES = r"""
- name: Write the guest initrd for the running kernel
  cmc.mvc.guest_initrd:
    dest: /var/cache/cmc-mvc/initrd/initrd.img-6.1.0-27-amd64
    kernel_release: 6.1.0-27-amd64
"""

RETURN = r"""
modules:
  description: The module files loaded, in order, relative to the release's module directory.
  returned: success
  type: list
  elements: str
  sample: [kernel/lib/crc16.ko, kernel/fs/mbcache.ko, kernel/fs/jbd2/jbd2.ko, kernel/fs/ext4/ext4.ko]
sha256:
  description: Checksum of the initrd's bytes.
  returned: success
  type: str
size:
  description: Size of the initrd in bytes.
  returned: success
  type: int
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _initrd


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            kernel_release=dict(type="str", required=True),
            modules_dir=dict(type="path", default="/lib/modules"),
            modules=dict(type="list", elements="str", default=["xen-blkfront", "xen-netfront", "ext4"]),
            busybox=dict(type="path", default="/bin/busybox"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    release = p["kernel_release"]
    release_dir = os.path.join(p["modules_dir"], release)
    if "/" in release or release in ("", ".", "..") or not os.path.isfile(os.path.join(release_dir, "modules.dep")):
        module.fail_json(msg="kernel_release: no modules.dep under %s" % release_dir, field="kernel_release")
    try:
        data, order = _initrd.build(release_dir, p["modules"], p["busybox"])
    except _initrd.InitrdError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    digest = hashlib.sha256(data).hexdigest()
    try:
        with open(p["dest"], "rb") as f:
            before = hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        before = None
    changed = before != digest
    if changed and not module.check_mode:
        directory = os.path.dirname(p["dest"]) or "."
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".initrd.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, p["dest"])
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    result = dict(changed=changed, modules=order, sha256=digest, size=len(data))
    if module._diff:
        result["diff"] = dict(before="sha256 %s\n" % before if before else "",
                              after="sha256 %s\nmodules %s\n" % (digest, " ".join(order)))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
