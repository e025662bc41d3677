#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: xl_domain
short_description: Run, stop or remove a Xen domain with xl, idempotently against xl list
version_added: 0.1.0
description:
  - Runs on a Xen Dom0. Compares the domain's entry in C(xl list) with the wanted state and runs only the
    C(xl create), C(xl unpause), C(xl shutdown -w) or C(xl destroy) that is needed.
  - Manages the autostart link in O(autostart_dir), which Xen's C(xendomains) service reads at Dom0 boot.
  - Xen keeps no record of a stopped domain. V(stopped) means not running, with its config file kept;
    removing the config file and the disk is the caller's job (the M(cmc.mvc.xen_domain) role does it).
author:
  - Cybermedia Center MVC team (@cmc-mvc)
attributes:
  check_mode:
    support: full
    description: Reports the xl actions it would run, and runs none.
  diff_mode:
    support: full
    description: Shows the domain state and autostart link before and after.
options:
  name:
    description: Domain name, as in the C(name) of its config file.
    type: str
    required: true
  config:
    description: Path of the domain's xl config file. Required with O(state=running) or O(autostart=true).
    type: path
  state:
    description: Wanted state.
    type: str
    choices: [running, stopped, absent]
    default: running
  autostart:
    description:
      - Whether the domain starts when the Dom0 boots (a link to O(config) in O(autostart_dir)).
      - With O(state=absent) the link is always removed.
    type: bool
    default: true
  autostart_dir:
    description: Directory that C(xendomains) reads.
    type: path
    default: /etc/xen/auto
  shutdown_timeout:
    description: Seconds to wait for a clean C(xl shutdown) before the domain is destroyed.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Run node c01 of cluster lab1 and start it at Dom0 boot
  cmc.mvc.xl_domain:
    name: lab1-c01
    config: /etc/xen/mvc/lab1/lab1-c01.cfg
    state: running

- name: Remove it
  cmc.mvc.xl_domain:
    name: lab1-c01
    state: absent
"""

RETURN = r"""
actions:
  description: The xl commands run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["create"]
domain:
  description: The domain's C(xl list) row after the change, or null when it does not run.
  returned: always
  type: dict
  sample: {"id": 3, "memory_mb": 256, "vcpus": 1, "state": "running", "flags": "-b----", "time_s": 4.2}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _xen


def xl_list(module, xl):
    rc, out, err = module.run_command([xl, "list"])
    if rc != 0:
        module.fail_json(msg="xl list failed (rc=%d): %s; is this host a Xen Dom0?" % (rc, (err or out).strip()))
    try:
        return _xen.parse_list(out)
    except _xen.XlError as exc:
        module.fail_json(msg=str(exc))


def run(module, argv, what):
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed (rc=%d): %s" % (what, rc, (err or out).strip()), cmd=argv)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            config=dict(type="path"),
            state=dict(type="str", default="running", choices=["running", "stopped", "absent"]),
            autostart=dict(type="bool", default=True),
            autostart_dir=dict(type="path", default="/etc/xen/auto"),
            shutdown_timeout=dict(type="int", default=120),
        ),
        required_if=[("state", "running", ["config"])],
        supports_check_mode=True,
    )
    p = module.params
    name, state = p["name"], p["state"]
    if p["config"] and state != "absent" and not os.path.isfile(p["config"]):
        module.fail_json(msg="config: %s does not exist" % p["config"])
    if p["autostart"] and state != "absent" and not p["config"]:
        module.fail_json(msg="config: needed to make the autostart link")
    xl = module.get_bin_path("xl", required=True, opt_dirs=["/usr/sbin", "/usr/lib/xen-4.17/bin"])

    before = xl_list(module, xl).get(name)
    actions = _xen.plan(state, before)

    link = os.path.join(p["autostart_dir"], name + ".cfg")
    link_before = os.readlink(link) if os.path.islink(link) else None
    link_after = p["config"] if (p["autostart"] and state != "absent") else None
    if link_before != link_after:
        actions.append("autostart" if link_after else "no-autostart")

    after = before
    if actions and not module.check_mode:
        for action in actions:
            if action == "create":
                run(module, [xl, "create", p["config"]], "xl create %s" % p["config"])
            elif action == "unpause":
                run(module, [xl, "unpause", name], "xl unpause %s" % name)
            elif action == "destroy":
                run(module, [xl, "destroy", name], "xl destroy %s" % name)
            elif action == "shutdown":
                shutdown(module, xl, name, p["shutdown_timeout"])
            elif action == "autostart":
                if not os.path.isdir(p["autostart_dir"]):
                    os.makedirs(p["autostart_dir"], 0o755)
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(link_after, link)
            elif action == "no-autostart" and os.path.lexists(link):
                os.unlink(link)
        after = xl_list(module, xl).get(name)
        if state == "running" and after is None:
            module.fail_json(msg="domain %s is not running after xl create; see xl dmesg and "
                                 "/var/log/xen/xl-%s.log" % (name, name), actions=actions)
    elif module.check_mode:
        after = None if state != "running" else (before or {"state": "running"})

    diff = dict(before=dict(state=before["state"] if before else "not running", autostart=link_before),
                after=dict(state=after["state"] if after else "not running", autostart=link_after))
    module.exit_json(changed=bool(actions), actions=actions, domain=after, diff=diff)


def shutdown(module, xl, name, timeout):
    """Clean shutdown within ``timeout`` seconds; a domain that does not go is destroyed, with a warning."""
    rc, out, err = module.run_command(["timeout", str(timeout), xl, "shutdown", "-w", name])
    if rc == 0:
        return
    deadline = time.time() + 5
    while time.time() < deadline and name in xl_list(module, xl):
        time.sleep(1)
    if name in xl_list(module, xl):
        module.warn("domain %s did not shut down within %ds (%s); destroying it" % (name, timeout, (err or out).strip()))
        run(module, [xl, "destroy", name], "xl destroy %s" % name)


if __name__ == "__main__":
    main()
