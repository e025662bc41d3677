#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rocks_info
short_description: Hosts, interfaces, attributes and VM containers of a Rocks site
version_added: 0.1.0
description:
  - Runs on a Rocks frontend. Reads C(rocks list host), C(list host interface), C(list host attr),
    C(list appliance) and the Xen/KVM roll's C(list host vm showdisks=true), and returns the site model that
    the P(cmc.mvc.rocks#inventory) inventory plugin builds (hosts with appliance, rack, rank, CPUs, memory, addresses,
    guests and free capacity).
  - Works with the text tables of Rocks 5.4 to 7, and with C(json=true) on 6.2 updates and 7.
  - Memory and disk come from the host attributes C(mvc_memory_mb)/C(memory_mb) and C(mvc_disk_gb)/C(disk_gb).
  - A single inconsistent row (a VM whose container C(rocks list host) does not list) is left out with a
    warning naming the site and the host; the rest of the site is returned.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes.read_only
options:
  site:
    description: Site name put in the result.
    type: str
    required: true
  rocks_command:
    description: Path or name of the C(rocks) command.
    type: str
    default: rocks
  use_json:
    description: Ask for C(json=true) output (Rocks 6.2 updates and 7).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the site from its frontend
  cmc.mvc.rocks_info:
    site: osaka
  register: osaka

- name: Show the free CPUs of each VM container
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.free.cpus }}"
  loop: "{{ osaka.site.hosts | dict2items | selectattr('value.appliance', 'equalto', 'vm-container') }}"
"""

RETURN = r"""
site:
  description: The site model.
  returned: success
  type: dict
  contains:
    site:
      description: The site name.
      type: str
      sample: osaka
    frontend:
      description: Rocks name of the frontend.
      type: str
      sample: osaka
    appliances:
      description: Appliance names.
      type: list
      elements: str
      sample: [compute, frontend, vm-container]
    hosts:
      description:
        - Hosts by Rocks name, each with C(appliance), C(membership), C(rack), C(rank), C(cpus), C(memory_mb),
          C(disk_gb), C(private_ip), C(private_mac), C(public_ip), C(public_mac), C(vlans), C(interfaces),
          C(attrs); VM containers also C(guests) and C(free) (C(cpus), C(memory_mb), C(disk_gb)); guests C(vm).
      type: dict
      sample: {"vm-container-0-0": {"appliance": "vm-container", "cpus": 16, "free": {"cpus": 14}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _rocks


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            site=dict(type="str", required=True),
            rocks_command=dict(type="str", default="rocks"),
            use_json=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    rocks = module.params["rocks_command"]
    if "/" not in rocks:
        rocks = module.get_bin_path(rocks, required=True, opt_dirs=["/opt/rocks/bin"])
    sections: dict[str, tuple[int | None, str]] = {}
    for key, argv in _rocks.COMMANDS.items():
        cmd = [rocks] + argv + (["json=true"] if module.params["use_json"] else [])
        rc, out, err = module.run_command(cmd)
        sections[key] = (rc, out + (err or ""))
    try:
        site = _rocks.build_site(module.params["site"], _rocks.parse_sections(sections))
    except _rocks.RocksError as exc:
        module.fail_json(msg="rocks on %s: %s" % (module.params["site"], exc))
    for message in site.pop("warnings"):
        module.warn(message)
    module.exit_json(changed=False, site=site)


if __name__ == "__main__":
    main()
