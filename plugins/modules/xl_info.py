#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: xl_info
short_description: Facts about a Xen Dom0 and its domains, from xl info and xl list
version_added: 0.1.0
description:
  - Runs on a Xen Dom0 and returns C(xl info) and C(xl list) as structured data.
  - Fails with a clear message on a host that is not a Xen Dom0.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes.read_only
options: {}
"""

EXAMPLES = r"""
- name: Read the Dom0
  cmc.mvc.xl_info:
  register: dom0

- name: Show its free memory
  ansible.builtin.debug:
    msg: "{{ dom0.info.free_memory }} MiB free, domains {{ dom0.domains | list }}"
"""

RETURN = r"""
info:
  description: The fields of C(xl info); C(total_memory), C(free_memory) (MiB) and C(nr_cpus) as integers.
  returned: success
  type: dict
  sample: {"xen_version": "4.17.5", "release": "6.1.0-37-amd64", "free_memory": 1210, "nr_cpus": 2}
domains:
  description: C(xl list) by domain name, Domain-0 included.
  returned: success
  type: dict
  sample: {"Domain-0": {"id": 0, "memory_mb": 1024, "vcpus": 1, "state": "running", "flags": "r-----", "time_s": 30.1}}
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _xen


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    xl = module.get_bin_path("xl", opt_dirs=["/usr/sbin", "/usr/lib/xen-4.17/bin"])
    if not xl:
        module.fail_json(msg="xl not found: this host is not a Xen Dom0 (install the Xen tools and boot Xen)")
    result: dict[str, t.Any] = {}
    for key, argv, parse in (("info", [xl, "info"], _xen.parse_info), ("domains", [xl, "list"], _xen.parse_list)):
        rc, out, err = module.run_command(argv)
        if rc != 0:
            hint = _xen.root_hint() or "; this host is not a running Xen Dom0"
            module.fail_json(msg="%s failed (rc=%d): %s%s" % (" ".join(argv[1:]), rc, (err or out).strip(), hint))
        try:
            result[key] = parse(out)
        except _xen.XlError as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
