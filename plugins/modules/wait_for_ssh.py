#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: wait_for_ssh
short_description: Wait until SSH answers on a set of nodes, printing how many answer while it waits
version_added: 0.2.0
description:
  - From the target host, asks every node in O(nodes) at once whether an SSH server answers on O(port) (it must
    send its C(SSH-) greeting), again every O(interval) seconds until all have answered or O(timeout) has passed.
  - While it waits, it prints one line per round in the normal output (not only at C(-v)), naming how many nodes
    answer, after how long, and the nodes still awaited. Booting domains under emulation takes minutes; the line
    says what is being waited for.
  - Fails after O(timeout), naming each node that never answered and its address.
  - An action plugin on the controller does the rounds; each round is one module call on the target, which probes
    the nodes still awaited once a second for up to O(interval) seconds and returns as soon as all have answered,
    so that a node is seen within about a second of its SSH server starting.
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.info_module
options:
  nodes:
    description: The nodes to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name shown in the progress lines and errors.
        type: str
        required: true
      address:
        description: Address to connect to.
        type: str
        required: true
  port:
    description: TCP port of the SSH servers.
    type: int
    default: 22
  timeout:
    description: Seconds to wait in all, from the start of the task.
    type: int
    default: 600
  interval:
    description: Seconds between rounds (and between progress lines).
    type: int
    default: 15
  connect_timeout:
    description: Seconds each probe waits for a node's greeting.
    type: int
    default: 3
  probe_for:
    description:
      - Seconds that this one call keeps probing, once a second, the nodes that have not answered yet; it returns
        as soon as all have answered. V(0) probes once.
      - Set by the action plugin to the round's length; set it yourself only when calling the module directly.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Wait for SSH on the cluster's nodes, from their Dom0
  cmc.mvc.wait_for_ssh:
    nodes:
      - {name: demo-frontend, address: 10.200.0.1}
      - {name: demo-compute-0, address: 10.200.0.2}
    timeout: 600
"""

RETURN = r"""
answered:
  description: Names of the nodes whose SSH server answered.
  returned: always
  type: list
  elements: str
answered_after:
  description: Seconds from the start of the task until each node first answered (action plugin).
  returned: success
  type: dict
  sample: {"demo-frontend": 95, "demo-compute-0": 110}
answered_at:
  description: Seconds from the start of this one call until each node of RV(answered) first answered (module).
  returned: always
  type: dict
  sample: {"demo-frontend": 4.1}
elapsed:
  description: Seconds the task waited.
  returned: always
  type: int
"""

import concurrent.futures
import socket
import time

from ansible.module_utils.basic import AnsibleModule


def greets(address: str, port: int, timeout: float) -> bool:
    """True when something on address:port sends an SSH greeting within timeout seconds."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                address=dict(type="str", required=True),
            )),
            port=dict(type="int", default=22),
            timeout=dict(type="int", default=600),
            interval=dict(type="int", default=15),
            connect_timeout=dict(type="int", default=3),
            probe_for=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    nodes = p["nodes"]
    start = time.monotonic()
    answered_at: dict[str, float] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, max(1, len(nodes)))) as pool:
        while True:
            probe_start = time.monotonic()
            pending = [n for n in nodes if n["name"] not in answered_at]
            answers = list(pool.map(lambda n: greets(n["address"], p["port"], p["connect_timeout"]), pending))
            for node, ok in zip(pending, answers):
                if ok:
                    answered_at[node["name"]] = round(time.monotonic() - start, 1)
            if len(answered_at) == len(nodes) or time.monotonic() - start >= p["probe_for"]:
                break
            time.sleep(max(0.0, min(1.0 - (time.monotonic() - probe_start), p["probe_for"] - (time.monotonic() - start))))
    module.exit_json(changed=False, answered=[n["name"] for n in nodes if n["name"] in answered_at],
                     answered_at=answered_at, elapsed=int(time.monotonic() - start))


if __name__ == "__main__":
    main()
