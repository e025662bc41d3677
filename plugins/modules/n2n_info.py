#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: n2n_info
short_description: Status of the cmc.mvc N2N edges and supernode on a host
version_added: 0.1.0
description:
  - "Reports the edges that the R(cmc.mvc.n2n_edge,ansible_collections.cmc.mvc.n2n_edge_role) role set up, one per
    virtual cluster as C(mvc-n2n-edge@<cluster>.service), and the supernode C(mvc-n2n-supernode.service)."
  - For each edge, whether its unit runs and is enabled, its community, TAP device, bridge, the bridge the TAP
    is a port of, addresses and MTU, and the installed N2N version.
  - The keys are never read into the result.
  - Peers are not reported. N2N v1 (Debian's 1.3) has no management interface and does not print its
    peer table, so C(peers) is null. v2 and v3 edges have a management port, which this module does not query yet.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes.read_only
options:
  config_dir:
    description: Directory of the edges' environment files.
    type: path
    default: /etc/n2n/mvc
  supernodes:
    description:
      - Supernodes, as C(HOST:PORT) or C(HOST), whose underlay path to report in RV(underlays).
      - The R(cmc.mvc.n2n_edge,ansible_collections.cmc.mvc.n2n_edge_role) role checks its edges' MTU against them.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: N2N status
  cmc.mvc.n2n_info:
  register: n2n

- name: The path toward the supernode, and the largest N2N v1 edge MTU it allows
  cmc.mvc.n2n_info:
    supernodes: [sn.example.org:7654]
  register: n2n_path

- name: Show it
  ansible.builtin.debug:
    msg: "{{ n2n_path.underlays[0].interface }}: largest edge MTU {{ n2n_path.underlays[0].mtu - 136 }}"

- name: Clusters whose edge is down
  ansible.builtin.debug:
    msg: "{{ n2n.edges | rejectattr('running') | map(attribute='cluster') | list }}"
"""

RETURN = r"""
version:
  description: N2N version that the installed edge or supernode binary prints, or null when none is installed.
  returned: always
  type: str
  sample: 1.3.2
edges:
  description: One entry per edge environment file, sorted by cluster.
  returned: always
  type: list
  elements: dict
  contains:
    cluster: {description: "Virtual cluster (the unit instance name).", type: str, sample: lab1}
    unit: {description: "Unit instance.", type: str, sample: mvc-n2n-edge@lab1.service}
    running: {description: "The unit is active.", type: bool}
    enabled: {description: "The unit is enabled.", type: bool}
    community: {description: "N2N community.", type: str}
    n2n_version: {description: "N2N protocol version the edge was rendered for (1, 2 or 3).", type: int}
    version: {description: "Installed N2N version.", type: str}
    tap: {description: "TAP device.", type: str}
    tap_exists: {description: "The TAP device exists.", type: bool}
    tap_master: {description: "Bridge the TAP device is a port of, or null.", type: str}
    tap_addresses: {description: "IPv4 addresses on the TAP device (none expected).", type: list, elements: str}
    bridge: {description: "Bridge of the cluster.", type: str}
    bridge_exists: {description: "The bridge exists.", type: bool}
    bridge_addresses: {description: "IPv4 addresses on the bridge.", type: list, elements: str}
    mtu: {description: "MTU of the TAP device, or null.", type: int}
    peers: {description: "Peers, or null when the version cannot say (v1).", type: list, elements: dict}
underlays:
  description:
    - The path toward each of O(supernodes), in their order, as the kernel would route a datagram to it now.
    - An edge adds 136 bytes (N2N v1) to each packet, so its MTU must be at most RV(underlays[].mtu) - 136.
  returned: always
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    supernode: {description: "The supernode as given.", type: str, sample: "sn.example.org:7654"}
    address: {description: "Its IPv4 address.", type: str, sample: 192.0.2.10}
    interface: {description: "The device the route leaves by.", type: str, sample: eth0}
    interface_mtu: {description: "MTU of that device.", type: int, sample: 1500}
    route_mtu:
      description: MTU of the route itself (its C(mtu) metric, or a path MTU the kernel learned), or null.
      type: int
    mtu: {description: "The smaller of RV(underlays[].interface_mtu) and RV(underlays[].route_mtu).", type: int,
          sample: 1500}
supernode:
  description: The supernode unit.
  returned: always
  type: dict
  contains:
    installed: {description: "The unit file exists.", type: bool}
    running: {description: "The unit is active.", type: bool}
    enabled: {description: "The unit is enabled.", type: bool}
    port: {description: "UDP port from the unit or config, or null.", type: int}
    received_bytes:
      description:
        - Bytes the supernode received since its unit started (systemd's IP accounting), or null when systemd has
          no count (the unit is not running, or was started without C(IPAccounting=yes)).
        - With n2n v1 every guest-to-guest frame between sites goes through the supernode, so this is the relayed
          traffic plus the edges' registrations.
      type: int
      version_added: 0.2.0
    sent_bytes:
      description: Bytes the supernode sent since its unit started, or null as for RV(supernode.received_bytes).
      type: int
      version_added: 0.2.0
    since:
      description: When the unit started (systemd's C(ActiveEnterTimestamp)), or null when it is not running.
      type: str
      sample: Mon 2026-11-30 23:05:12 UTC
      version_added: 0.2.0
"""

import json
import os
import re
import socket
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils._n2n import parse_env_file, underlay

SUPERNODE_UNIT = "/etc/systemd/system/mvc-n2n-supernode.service"
SUPERNODE_CONF = "/etc/n2n/mvc/supernode.conf"


def unit_props(module: AnsibleModule, unit: str, *names: str) -> dict[str, str]:
    rc, out, err = module.run_command(["systemctl", "show", "--property=" + ",".join(names), unit])
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def unit_state(module: AnsibleModule, unit: str) -> tuple[bool, bool]:
    props = unit_props(module, unit, "ActiveState", "UnitFileState")
    return props.get("ActiveState") == "active", props.get("UnitFileState") == "enabled"


def counter(value: str | None) -> int | None:
    """A systemd byte counter, or None for "[no data]" (and UINT64_MAX, which older systemd prints instead)."""
    return int(value) if value and value.isdigit() and int(value) < 2 ** 64 - 1 else None


def links(module: AnsibleModule) -> dict[str, dict[str, t.Any]]:
    rc, out, err = module.run_command(["ip", "-j", "addr", "show"])
    if rc != 0:
        module.fail_json(msg="ip -j addr show failed: %s" % err)
    result: dict[str, dict[str, t.Any]] = {}
    for link in json.loads(out or "[]"):
        result[link["ifname"]] = {
            "master": link.get("master"),
            "mtu": link.get("mtu"),
            "addresses": ["%s/%s" % (a["local"], a["prefixlen"]) for a in link.get("addr_info", [])
                          if a.get("family") == "inet"],
        }
    return result


def underlays(module: AnsibleModule, supernodes: list[str], ifaces: dict[str, dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    out = []
    for i, supernode in enumerate(supernodes):
        host = supernode.rsplit(":", 1)[0] if supernode.count(":") == 1 else supernode
        try:
            address = str(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
        except (socket.gaierror, UnicodeError) as exc:
            module.fail_json(msg="supernodes[%d]: cannot resolve %r to an IPv4 address: %s" % (i, host, exc))
        rc, routes, err = module.run_command(["ip", "-j", "route", "get", address])
        if rc != 0:
            module.fail_json(msg="supernodes[%d]: no route to %s (%s): %s" % (i, supernode, address, err.strip()))
        route = (json.loads(routes or "[]") or [{}])[0]
        out.append(underlay(supernode, address, route, (ifaces.get(route.get("dev")) or {}).get("mtu")))
    return out


def installed_version(module: AnsibleModule) -> str | None:
    for cmd in (["edge", "-h"], ["supernode", "-h"]):
        path = module.get_bin_path(cmd[0], opt_dirs=["/usr/sbin", "/usr/bin"])
        if not path:
            continue
        rc, out, err = module.run_command([path] + cmd[1:])
        match = re.search(r"n2n v\.?\s*(\d+\.\d+(?:\.\d+)?)", out + err)
        if match:
            return match.group(1)
    return None


def supernode_port(text: str) -> int | None:
    match = re.search(r"(?:^|\s)-[lp][ =](\d+)", text, re.M)
    return int(match.group(1)) if match else None


def main() -> None:
    module = AnsibleModule(argument_spec=dict(config_dir=dict(type="path", default="/etc/n2n/mvc"),
                                              supernodes=dict(type="list", elements="str", default=[])),
                           supports_check_mode=True)
    config_dir = module.params["config_dir"]
    version = installed_version(module)
    ifaces = links(module)
    edges: list[dict[str, t.Any]] = []
    names = sorted(f[:-4] for f in os.listdir(config_dir) if f.endswith(".env")) if os.path.isdir(config_dir) else []
    for name in names:
        with open(os.path.join(config_dir, name + ".env")) as f:
            env = parse_env_file(f.read())
        unit = "mvc-n2n-edge@%s.service" % name
        running, enabled = unit_state(module, unit)
        tap, bridge = env.get("MVC_TAP"), env.get("MVC_BRIDGE")
        # An env file without MVC_TAP or MVC_BRIDGE gives None: no such interface.
        tap_info, br_info = ifaces.get(tap), ifaces.get(bridge)  # type: ignore[arg-type]
        edges.append({
            "cluster": name, "unit": unit, "running": running, "enabled": enabled,
            "community": env.get("MVC_COMMUNITY"), "n2n_version": int(env.get("MVC_VERSION") or 1),
            "version": version, "tap": tap, "tap_exists": tap_info is not None,
            "tap_master": tap_info["master"] if tap_info else None,
            "tap_addresses": tap_info["addresses"] if tap_info else [],
            "mtu": tap_info["mtu"] if tap_info else None,
            "bridge": bridge, "bridge_exists": br_info is not None,
            "bridge_addresses": br_info["addresses"] if br_info else [],
            # v1 has no management interface to ask for peers.
            "peers": None,
        })
    supernode: dict[str, t.Any] = {"installed": os.path.exists(SUPERNODE_UNIT), "running": False, "enabled": False,
                                   "port": None, "received_bytes": None, "sent_bytes": None, "since": None}
    if supernode["installed"]:
        props = unit_props(module, "mvc-n2n-supernode.service", "ActiveState", "UnitFileState", "IPIngressBytes",
                           "IPEgressBytes", "ActiveEnterTimestamp")
        supernode["running"] = props.get("ActiveState") == "active"
        supernode["enabled"] = props.get("UnitFileState") == "enabled"
        if supernode["running"]:
            supernode.update(received_bytes=counter(props.get("IPIngressBytes")),
                             sent_bytes=counter(props.get("IPEgressBytes")),
                             since=props.get("ActiveEnterTimestamp") or None)
        text = ""
        for path in (SUPERNODE_UNIT, SUPERNODE_CONF):
            if os.path.exists(path):
                with open(path) as f:
                    text += f.read() + "\n"
        supernode["port"] = supernode_port("\n".join(
            line.split("=", 1)[1] if line.startswith("ExecStart=") else line for line in text.splitlines()))
    module.exit_json(changed=False, version=version, edges=edges, supernode=supernode,
                     underlays=underlays(module, module.params["supernodes"], ifaces))


if __name__ == "__main__":
    main()
