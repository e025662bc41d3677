#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: systemd_enablement
short_description: Enable and disable systemd units without reloading the service manager
version_added: 0.2.0
description:
  - Makes each unit of O(enabled) enabled and each unit of O(disabled) disabled, with C(systemctl enable --no-reload)
    and C(systemctl disable --no-reload), and C(SYSTEMCTL_SKIP_SYSV=1) in their environment. Starting and stopping
    are left to C(ansible.builtin.systemd_service).
  - C(ansible.builtin.systemd_service) with its C(enabled) option reloads the whole
    service manager once or twice per unit. C(systemctl enable) and C(disable) reload it, and so does C(update-rc.d),
    which they call for a unit that also has a SysV init script (as Debian's slurmd, slurmctld, munge and
    nfs-kernel-server have). Enabling only changes the links of the unit's C([Install]) section, which the manager
    reads at the next boot; the unit itself is loaded from files that did not change. On the lab's emulated guests a
    change took 13 s with the reloads and 0.2 to 0.4 s without them.
  - The C(/etc/rcN.d) links of a SysV init script are left as they are. systemd ignores them when the unit has a unit
    file of its own, which is the only case this module is for.
  - A unit whose file was just written still needs a reload before it is started; do that with
    its C(daemon_reload) option.
  - A static, indirect, generated or alias unit counts as enabled, and is left alone. A masked unit in O(enabled),
    or a unit that does not exist, is an error and nothing is changed.
  - Used by the P(cmc.mvc.slurm#role) and P(cmc.mvc.shared_home#role) roles.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.check_mode_full
  - cmc.mvc._attributes.diff_mode_full
attributes:
  check_mode:
    description: Reports the units that would change, and changes none.
  diff_mode:
    description: Shows each named unit's state before and after.
options:
  enabled:
    description: Units to enable, with their suffix (C(munge.service), C(home.automount)).
    type: list
    elements: str
    default: []
  disabled:
    description: Units to disable. A unit that is named in both lists is an error.
    type: list
    elements: str
    default: []
notes:
  - The links that this module makes or removes take effect at the next boot, or at the next reload that some other
    change makes. The unit's current state, running or not, is not touched.
seealso:
  - name: ansible.builtin.systemd_service
    description: Starts, stops and restarts units, and reloads the manager.
    link: https://docs.ansible.com/ansible/latest/collections/ansible/builtin/systemd_service_module.html
"""

EXAMPLES = r"""
- name: Slurmd enabled on a compute node, slurmctld disabled, without a reload
  cmc.mvc.systemd_enablement:
    enabled: [munge.service, slurmd.service]
    disabled: [slurmctld.service]

- name: Then running or stopped
  ansible.builtin.systemd_service:
    name: slurmctld.service
    state: stopped
"""

RETURN = r"""
before:
  description: The state that C(systemctl is-enabled) gave for each named unit, before any change.
  returned: success
  type: dict
  sample: {munge.service: enabled, slurmd.service: disabled, slurmctld.service: enabled}
changed_units:
  description: The units that were enabled or disabled (or would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [slurmd.service, slurmctld.service]
"""

from ansible.module_utils.basic import AnsibleModule

# What `systemctl is-enabled` prints for units with no link of their own to make or remove.
ENABLED_WITHOUT_LINKS = frozenset(("static", "indirect", "generated", "transient", "alias"))
ENABLED = frozenset(("enabled", "enabled-runtime", "linked", "linked-runtime"))


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            enabled=dict(type="list", elements="str", default=[]),
            disabled=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    wanted: dict[str, bool] = {}
    for field, on in (("enabled", True), ("disabled", False)):
        for unit in module.params[field]:
            if not unit or unit.startswith("-") or "/" in unit:
                module.fail_json(msg="%s: %r is not a unit name" % (field, unit), field=field)
            if wanted.get(unit, on) != on:
                module.fail_json(msg="disabled: %s is also in enabled" % unit, field="disabled")
            wanted[unit] = on

    systemctl = module.get_bin_path("systemctl", required=True)
    before = {}
    for unit in wanted:
        dummy, out, err = module.run_command([systemctl, "is-enabled", "--", unit])
        state = out.strip()
        if not state:
            module.fail_json(msg="%s: no such unit (%s)" % (unit, err.strip()), unit=unit)
        if state == "bad":
            module.fail_json(msg="%s: its unit file is bad (%s)" % (unit, err.strip()), unit=unit)
        if state == "masked" and wanted[unit]:
            module.fail_json(msg="%s is masked and cannot be enabled" % unit, unit=unit)
        before[unit] = state

    changes = [unit for unit, on in wanted.items()
               if (before[unit] not in ENABLED | ENABLED_WITHOUT_LINKS if on else before[unit] in ENABLED)]
    if not module.check_mode:
        for unit in changes:
            verb = "enable" if wanted[unit] else "disable"
            module.run_command([systemctl, verb, "--no-reload", "--", unit], check_rc=True,
                               environ_update={"SYSTEMCTL_SKIP_SYSV": "1"})

    result = dict(changed=bool(changes), changed_units=changes, before=before)
    if module._diff:
        after = dict(before, **{u: "enabled" if wanted[u] else "disabled" for u in changes})
        result["diff"] = dict(before="".join("%s: %s\n" % kv for kv in sorted(before.items())),
                              after="".join("%s: %s\n" % kv for kv in sorted(after.items())))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
