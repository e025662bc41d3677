#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: wireguard_peers
short_description: Record the Dom0s' WireGuard public keys and transport addresses in the MVC database
version_added: 0.2.0
description:
  - The C(wireguard) overlay backend (a request's C(overlay.backend)) has one WireGuard interface per Dom0, dialing
    a hub on the supernode host. This module keeps, in the MVC database, each such Dom0's public key and its
    transport address (an IPv4 address in O(network); the hub has the first one), and returns every peer the hub
    must have.
  - Each Dom0 in O(peers) is recorded with its public key; its transport address is allocated once and kept.
    A Dom0 that hosts no edge of a C(wireguard) cluster any more, and is not in O(peers), loses its row, so
    that the hub drops it.
  - Only public keys. The private keys are made on the Dom0s and never leave them (P(cmc.mvc.wireguard_edge#role)).
  - Runs on the controller. Used by C(cmc.mvc.deploy_mvc) and C(cmc.mvc.destroy_mvc).
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.check_mode_full
  - cmc.mvc._attributes.diff_mode_full
  - cmc.mvc.mvcdb
attributes:
  check_mode:
    details: A Dom0 whose key is not made yet (an empty O(peers[].public_key), as in a check run of its first
      deployment) is returned with a null key and not recorded.
options:
  network:
    description:
      - The transport network (IPv4, at most C(/30)). The hub has its first host address; the Dom0s get the
        next free ones.
      - Changing it gives every Dom0 a new address; deploy each C(wireguard) cluster again afterwards.
    type: str
    default: 10.250.0.0/16
  peers:
    description: The Dom0s to record, usually those of the cluster being deployed.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The Dom0's inventory hostname, as in the MVC database (its VM container).
        type: str
        required: true
      public_key:
        description: Its WireGuard public key (the fact C(wireguard_edge_public_key) of P(cmc.mvc.wireguard_edge#role)).
        type: str
        required: true
  leaving:
    description:
      - A cluster that is being removed (by C(cmc.mvc.destroy_mvc)), whose edges keep no Dom0 on the hub. The
        cluster's own rows are not touched; remove them afterwards with M(cmc.mvc.vcluster).
    type: str
seealso:
  - module: cmc.mvc.vcluster
"""

EXAMPLES = r"""
- name: Record the Dom0s' public keys, and read the hub's peers
  cmc.mvc.wireguard_peers:
    peers:
      - name: vm-container-0-0.osaka
        public_key: "{{ hostvars['vm-container-0-0.osaka'].wireguard_edge_public_key }}"
  delegate_to: localhost
  register: mvc_wg

- name: Before cluster wg1's rows are removed, drop the Dom0s that host no other WireGuard cluster
  cmc.mvc.wireguard_peers:
    leaving: wg1
  delegate_to: localhost
  register: mvc_wg
"""

RETURN = r"""
hub_address:
  description: The hub's transport address, with the network's prefix.
  returned: success
  type: str
  sample: 10.250.0.1/16
network:
  description: The transport network.
  returned: success
  type: str
  sample: 10.250.0.0/16
peers:
  description: Every Dom0 the hub must have as a peer, by name.
  returned: success
  type: list
  elements: dict
  contains:
    name: {description: "The Dom0's inventory hostname.", type: str}
    address: {description: "Its transport address, without prefix.", type: str, sample: 10.250.0.2}
    public_key: {description: "Its public key (null in check mode before it is made).", type: str}
database:
  description: The database, as a URL with any password masked.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb
from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb_wireguard


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            network=dict(type="str", default=_mvcdb_wireguard.DEFAULT_NETWORK),
            leaving=dict(type="str"),
            peers=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                public_key=dict(type="str", required=True, no_log=False),
            )),
            **_mvcdb.database_argument_spec()
        ),
        supports_check_mode=True,
    )
    p = module.params
    client = _mvcdb.ModuleClient(module)
    result = dict(changed=False, database=client.safe_url)
    with client:
        try:
            out = client.write(lambda conn: _mvcdb_wireguard.sync_peers(conn, p["network"], p["peers"],
                                                                        module.check_mode, p["leaving"]),
                               check_mode=module.check_mode)
        except _mvcdb.ERRORS as exc:
            client.fail(exc, **result)
    before = out.pop("before")
    result.update(out)
    if module._diff:
        result["diff"] = {"before": {"peers": before}, "after": {"peers": out["peers"]}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
