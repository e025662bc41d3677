#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: xl_domain
short_description: Make, run, stop or remove a Xen domain with xl, idempotently against xl list
version_added: 0.1.0
description:
  - Runs on a Xen Dom0, in one pass, so that a busy Dom0 answers one task per domain rather than ten.
  - Writes the domain's config from O(config_content) and makes its disk file (sparse) when O(disk) is given.
    Before it makes anything for a domain that does not run yet, it checks that the Dom0 is one (C(xl info)),
    that O(bridge) exists and that O(memory_mb) is free, so that a refused domain leaves nothing behind.
  - Compares the domain's entry in C(xl list) with the wanted state and runs only the C(xl create),
    C(xl unpause), C(xl shutdown -w) or C(xl destroy) that is needed.
  - Manages the autostart link in O(autostart_dir), which Xen's C(xendomains) service reads at Dom0 boot.
  - Xen keeps no record of a stopped domain. V(stopped) means not running, with its config file kept.
    V(absent) with O(purge=true) also removes the config, the disk file and the files named C(<name>.*) beside
    it, and their directories once empty.
  - Holds the domain's lock in C(/run/lock/cmc-mvc) (shared with M(cmc.mvc.guest_rootfs)) while it changes
    anything, so a re-run waits for a killed run's module that is still working on the Dom0 (up to 30 minutes).
  - A module call prints nothing while it runs; its action plugin prints a line in the normal output every
    O(progress_interval) seconds, naming the domain and its wanted state and how long so far, and a line after a
    wait for another run's lock.
  - Used by the P(cmc.mvc.xen_domain#role) role.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.check_mode_full
  - cmc.mvc._attributes.diff_mode_full
attributes:
  check_mode:
    description: Reports the actions it would take, and takes none.
  diff_mode:
    description: Shows the domain state, autostart link and config before and after.
options:
  name:
    description: Domain name, as in the C(name) of its config file.
    type: str
    required: true
  config:
    description: Path of the domain's xl config file. Required with O(state=running), O(state=present) or
      O(autostart=true).
    type: path
  config_content:
    description: Content of O(config). When given, the file is written when it differs. A running domain keeps
      its old config until it is created again; the module warns.
    type: str
  disk:
    description: Path of the domain's disk. A missing file is made sparse, of O(disk_size_gb); a block device
      (for example an LVM volume) is used as it is.
    type: path
  disk_size_gb:
    description: Size of a new disk file in GiB. An existing disk is never resized.
    type: int
  bridge:
    description: Bridge that the domain's NIC joins; it must exist before the domain is made.
    type: str
  memory_mb:
    description: Memory of the domain in MiB; a domain that does not run yet must fit in the Dom0's free memory.
    type: int
  state:
    description: Wanted state. V(present) makes the config and disk and leaves the domain as it is.
    type: str
    choices: [running, present, stopped, absent]
    default: running
  purge:
    description: With O(state=absent), also remove the config, the disk file, the files C(<name>.*) beside it,
      and their directories once empty.
    type: bool
    default: false
  autostart:
    description:
      - Whether the domain starts when the Dom0 boots (a link to O(config) in O(autostart_dir)).
      - With O(state=absent) the link is always removed; with O(state=present) it is left as it is.
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
  progress_interval:
    description: Seconds between the progress lines that the action plugin prints while the module runs; V(0) for none.
    type: int
    default: 15
"""

EXAMPLES = r"""
- name: Make node c01 of cluster lab1 (config and disk), checked against the Dom0 first
  cmc.mvc.xl_domain:
    name: lab1-c01
    config: /etc/xen/mvc/lab1/lab1-c01.cfg
    config_content: "{{ lookup('ansible.builtin.template', 'domain.cfg.j2') }}"
    disk: /var/lib/xen/mvc/lab1/lab1-c01.img
    disk_size_gb: 2
    bridge: mvc-lab1
    memory_mb: 256
    state: present

- name: Run it and start it at Dom0 boot
  cmc.mvc.xl_domain:
    name: lab1-c01
    config: /etc/xen/mvc/lab1/lab1-c01.cfg
    state: running

- name: Remove it with its config and disk
  cmc.mvc.xl_domain:
    name: lab1-c01
    config: /etc/xen/mvc/lab1/lab1-c01.cfg
    disk: /var/lib/xen/mvc/lab1/lab1-c01.img
    state: absent
    purge: true
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be), in order.
  returned: always
  type: list
  elements: str
  sample: ["config", "disk", "create", "autostart"]
domain:
  description: The domain's C(xl list) row after the change, or null when it does not run.
  returned: always
  type: dict
  sample: {"id": 3, "memory_mb": 256, "vcpus": 1, "state": "running", "flags": "-b----", "time_s": 4.2}
running_before:
  description: Whether the domain ran before this task.
  returned: always
  type: bool
  sample: false
dom0:
  description: The Dom0's C(xl info) fields that callers need (read when the domain is made or started).
  returned: when state is running or present
  type: dict
  sample: {"release": "6.1.0-27-amd64", "free_memory": 1536, "xen_version": "4.17.5"}
removed:
  description: Files removed with O(purge=true).
  returned: always
  type: list
  elements: str
  sample: ["/etc/xen/mvc/lab1/lab1-c01.cfg", "/var/lib/xen/mvc/lab1/lab1-c01.img"]
lock_wait_s:
  description: Seconds spent waiting for the domain's lock, held by another run's module still working on it;
    the action plugin prints a line when it is 1 or more.
  returned: success
  type: int
  sample: 0
field:
  description: On a refused domain, the option at fault.
  returned: failure
  type: str
  sample: memory_mb
"""

import contextlib
import os
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _xen


def xl_read(module: AnsibleModule, xl: str, command: str, parse: t.Callable[[str], dict[str, t.Any]]) -> dict[str, t.Any]:
    rc, out, err = module.run_command([xl, command])
    if rc != 0:
        hint = _xen.root_hint() or "; is this host a running Xen Dom0?"
        module.fail_json(msg="xl %s failed (rc=%d): %s%s" % (command, rc, (err or out).strip(), hint))
    try:
        return parse(out)
    except _xen.XlError as exc:
        module.fail_json(msg=str(exc))


def xl_list(module: AnsibleModule, xl: str) -> dict[str, dict[str, t.Any]]:
    return xl_read(module, xl, "list", _xen.parse_list)


def xl_info(module: AnsibleModule, xl: str) -> dict[str, t.Any]:
    return xl_read(module, xl, "info", _xen.parse_info)


def run(module: AnsibleModule, argv: list[str], what: str) -> None:
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed (rc=%d): %s" % (what, rc, (err or out).strip()), cmd=argv)


def refuse(module: AnsibleModule, field: str, msg: str, **extra: t.Any) -> t.NoReturn:
    module.fail_json(msg="%s: %s" % (field, msg), field=field, **extra)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            config=dict(type="path"),
            config_content=dict(type="str"),
            disk=dict(type="path"),
            disk_size_gb=dict(type="int"),
            bridge=dict(type="str"),
            memory_mb=dict(type="int"),
            state=dict(type="str", default="running", choices=["running", "present", "stopped", "absent"]),
            purge=dict(type="bool", default=False),
            autostart=dict(type="bool", default=True),
            autostart_dir=dict(type="path", default="/etc/xen/auto"),
            shutdown_timeout=dict(type="int", default=120),
            progress_interval=dict(type="int", default=15),
        ),
        required_if=[("state", "running", ["config"]), ("state", "present", ["config"])],
        required_by={"config_content": "config"},
        supports_check_mode=True,
    )
    p = module.params
    name, state = p["name"], p["state"]
    making = state in ("running", "present")
    # The name goes into the lock and autostart paths.
    if not _xen.NAME_RE.fullmatch(name):
        refuse(module, "name", "%r: letters, digits, '.', '-' or '_', at most 64" % name[:80])
    xl = module.get_bin_path("xl", required=True, opt_dirs=["/usr/sbin", "/usr/lib/xen-4.17/bin"])
    if p["autostart"] and making and not p["config"]:
        refuse(module, "config", "needed to make the autostart link")
    if making and p["disk"] and not os.path.exists(p["disk"]) and not (p["disk_size_gb"] or 0) > 0:
        refuse(module, "disk_size_gb", "a new disk file needs a size of more than 0 GiB, got %r" % p["disk_size_gb"])

    # Released when the module returns, whatever the path: a persistent interpreter (mitogen) never exits.
    try:
        with contextlib.nullcontext(0.0) if module.check_mode else _xen.domain_lock(name) as waited:
            result = converge(module, xl, p)
    except _xen.LockError as exc:
        module.fail_json(msg=str(exc), field="name")
    module.exit_json(lock_wait_s=round(waited), **result)


def converge(module: AnsibleModule, xl: str, p: dict[str, t.Any]) -> dict[str, t.Any]:
    """Brings the domain, its files and its autostart link to ``p``'s state; returns the module's result."""
    name, state = p["name"], p["state"]
    making = state in ("running", "present")
    before = xl_list(module, xl).get(name)
    actions: list[str] = []
    dom0 = None
    if making:
        dom0 = xl_info(module, xl)
        if before is None:
            # Checked before anything is made, so that a refused domain leaves nothing behind.
            if p["bridge"] and not os.path.isdir("/sys/class/net/%s/bridge" % p["bridge"]):
                refuse(module, "bridge", "%s is not a bridge on this Dom0; bring up the cluster's overlay edge "
                                         "(cmc.mvc.n2n_edge) first" % p["bridge"])
            if p["memory_mb"] is not None and p["memory_mb"] > dom0["free_memory"]:
                refuse(module, "memory_mb", "%d MiB is more than the %d MiB free on this Dom0"
                       % (p["memory_mb"], dom0["free_memory"]))
        if p["config_content"] is not None:
            try:
                with open(p["config"]) as f:
                    config_before = f.read()
            except FileNotFoundError:
                config_before = None
            if config_before != p["config_content"]:
                actions.append("config")
                if before is not None:
                    module.warn("%s runs; its new config takes effect at its next xl create" % name)
        elif not os.path.isfile(p["config"]):
            refuse(module, "config", "%s does not exist" % p["config"])
        if p["disk"] and not os.path.exists(p["disk"]):
            actions.append("disk")
    if state != "present":
        actions += _xen.plan(state, before)

    link = os.path.join(p["autostart_dir"], name + ".cfg")
    link_before = os.readlink(link) if os.path.islink(link) else None
    link_after = p["config"] if (p["autostart"] and state != "absent") else None
    if state != "present" and link_before != link_after:
        actions.append("autostart" if link_after else "no-autostart")
    removed = []
    if state == "absent" and p["purge"]:
        removed = [f for f in [p["config"]] if f and os.path.lexists(f)]
        if p["disk"]:
            removed += _xen.domain_files(p["disk"], name)
        if removed:
            actions.append("purge")

    after = before
    if actions and not module.check_mode:
        for action in actions:
            if action == "config":
                _xen.write_atomic(p["config"], p["config_content"], 0o644)
            elif action == "disk":
                os.makedirs(os.path.dirname(p["disk"]), mode=0o700, exist_ok=True)
                with open(p["disk"], "wb") as disk_file:
                    os.fchmod(disk_file.fileno(), 0o600)
                    disk_file.truncate(p["disk_size_gb"] * 1024 ** 3)
            elif action == "create":
                create(module, xl, name, p["config"])
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
                os.symlink(t.cast(str, link_after), link)  # "autostart" is planned only with a link_after
            elif action == "no-autostart" and os.path.lexists(link):
                os.unlink(link)
            elif action == "purge":
                for path in removed:
                    if os.path.lexists(path):
                        os.unlink(path)
                for directory in sorted({os.path.dirname(f) for f in removed}):
                    try:
                        os.rmdir(directory)
                    except OSError:
                        pass  # not empty: other domains of the cluster
        after = xl_list(module, xl).get(name)
        if state == "running" and after is None:
            module.fail_json(msg="domain %s is not running after xl create; see xl dmesg and "
                                 "/var/log/xen/xl-%s.log" % (name, name), actions=actions)
    elif module.check_mode:
        if state == "running":
            after = before or {"state": "running"}
        elif state != "present":
            after = None

    diff = dict(before=dict(state=before["state"] if before else "not running", autostart=link_before),
                after=dict(state=after["state"] if after else "not running", autostart=link_after))
    if "config" in actions:
        diff["before"]["config"] = config_before or ""
        diff["after"]["config"] = p["config_content"]
    result = dict(changed=bool(actions), actions=actions, domain=after, running_before=before is not None,
                  removed=removed, diff=diff)
    if dom0 is not None:
        result["dom0"] = dict(release=dom0.get("release"), free_memory=dom0.get("free_memory"),
                              xen_version=dom0.get("xen_version"))
    return result


def create(module: AnsibleModule, xl: str, name: str, config: str) -> None:
    """xl create, once more when libxl killed a hotplug script for taking too long (it gives them seconds, and a
    busy Dom0 can take longer to set up a disk's loop device): the failed domain is gone, so the retry is safe."""
    rc, out, err = module.run_command([xl, "create", config])
    if rc != 0 and "because of timeout" in err:
        module.warn("xl create %s: a hotplug script timed out; trying once more (%s)"
                    % (config, err.strip().splitlines()[-1] if err.strip() else ""))
        if name in xl_list(module, xl):
            run(module, [xl, "destroy", name], "xl destroy %s" % name)
        rc, out, err = module.run_command([xl, "create", config])
    if rc != 0:
        module.fail_json(msg="xl create %s failed (rc=%d): %s" % (config, rc, (err or out).strip()),
                         cmd=[xl, "create", config])


def shutdown(module: AnsibleModule, xl: str, name: str, timeout: int) -> None:
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
