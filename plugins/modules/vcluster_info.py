#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcluster_info
short_description: Read virtual clusters from the MVC database
version_added: 0.1.0
description:
  - Returns the registered virtual clusters with their nodes and N2N edges, as M(cmc.mvc.vcluster) returns
    its plan, without changing anything.
  - With O(return_key=true), also returns the N2N key and the munge key of the one cluster in O(names), decrypted
    with O(encryption_key) if they are stored encrypted. This reads the database in a read-only transaction, without the
    write lock that M(cmc.mvc.vcluster) takes, so it works on a read-only SQLite file and while another run
    registers a cluster. Use C(no_log) on such a task.
  - Runs on the controller. Used by C(cmc.mvc.destroy_mvc) and C(cmc.mvc.status_mvc).
  - A database that does not exist yet has no clusters (and is not created).
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc._attributes
  - cmc.mvc._attributes.info_module
  - cmc.mvc.mvcdb
options:
  names:
    description: Clusters to read; all of them when left out. A name that is not registered is left out of the result.
    type: list
    elements: str
  return_key:
    description:
      - Also return the N2N key (as RV(n2n_key)) and the munge key (as RV(munge_key)) of the cluster in O(names),
        which must then name exactly one registered cluster. A cluster that is not registered fails naming O(names);
        an encrypted key without O(encryption_key), or with a wrong one, fails naming O(encryption_key).
      - A cluster registered before the collection kept munge keys has none until M(cmc.mvc.vcluster) registers it
        again (this module writes nothing); until then RV(munge_key) is null, with a warning.
      - In check mode, a cluster that is not registered yet (as in a check run of its first deployment, whose
        registration was rolled back) gets random throwaway keys, with a warning, as the check-mode registration
        of M(cmc.mvc.vcluster) would.
      - Without it, no key is read, and O(encryption_key) is ignored.
    type: bool
    default: false
seealso:
  - module: cmc.mvc.vcluster
"""

EXAMPLES = r"""
- name: Read cluster lab1
  cmc.mvc.vcluster_info:
    names: [lab1]
  delegate_to: localhost
  register: mvc

- name: Show its nodes
  ansible.builtin.debug:
    msg: "{{ mvc.clusters[0].nodes | map(attribute='name') }}"

- name: Read the keys of cluster lab1 for its edges and its Slurm nodes
  cmc.mvc.vcluster_info:
    names: [lab1]
    return_key: true
    encryption_key: "{{ vault_mvc_database_encryption_key | default(omit) }}"
  delegate_to: localhost
  register: mvc_secret
  no_log: true
"""

RETURN = r"""
clusters:
  description: One plan per cluster, each with C(cluster), C(nodes) and C(edges) as in M(cmc.mvc.vcluster).
  returned: success
  type: list
  elements: dict
  sample: [{"cluster": {"name": "lab1", "subnet": "10.200.0.0/24"}, "nodes": [], "edges": []}]
n2n_key:
  description: The N2N key of the cluster in O(names), in clear.
  returned: when O(return_key=true)
  type: str
munge_key:
  description:
    - The munge key of the cluster in O(names), in clear, as M(cmc.mvc.vcluster) returns it (base64 of 128 random
      bytes, for C(slurm_munge_key) of P(cmc.mvc.slurm#role)).
    - Null, with a warning, for a cluster that has none yet (registered before munge keys were kept).
  returned: when O(return_key=true)
  type: str
database:
  description: The database read, as a URL with any password masked.
  returned: always
  type: str
"""

import secrets

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb


def read_with_key(conn: t.Any, name: str, cipher: t.Any) -> tuple[list[dict[str, t.Any]], str | None, str | None]:
    """The plan of cluster ``name`` and its clear N2N and munge keys, in one read-only transaction; ([], None, None)
    if it is not there. The munge key is None if the cluster has none yet."""
    clusters = _mvcdb.read_clusters(conn, [name])
    if not clusters:
        return clusters, None, None
    return clusters, _mvcdb.read_key(conn, name, cipher), _mvcdb.read_munge_key(conn, name, cipher)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str"),
            return_key=dict(type="bool", default=False, no_log=False),
            **_mvcdb.database_argument_spec()
        ),
        required_if=[("return_key", True, ["names"])],
        supports_check_mode=True,
    )
    p = module.params
    client = _mvcdb.ModuleClient(module)
    result = dict(changed=False, clusters=[], database=client.safe_url)
    with client:
        try:
            if p["return_key"]:
                if len(p["names"]) != 1:
                    raise _mvcdb.InputError("names", "give exactly one cluster with return_key=true, got %d"
                                            % len(p["names"]))
                cipher = client.cipher()
                clusters, key, munge = client.read(
                    lambda conn: read_with_key(conn, p["names"][0], cipher)) or ([], None, None)
                if key is None and module.check_mode:
                    # As vcluster's check mode plans a new cluster with keys it then rolls back.
                    module.warn("check mode: cluster %s is not registered (yet); throwaway N2N and munge keys are "
                                "returned" % p["names"][0])
                    key, munge = secrets.token_urlsafe(24), _mvcdb.new_munge_key()
                elif key is None:
                    raise _mvcdb.InputError("names", "cluster %s is not registered, so it has no N2N key"
                                            % p["names"][0])
                elif munge is None:
                    # Read-only: the key is made by the next registration (cmc.mvc.vcluster state=present).
                    module.warn("cluster %s has no munge key yet (registered before munge keys were kept); register "
                                "it again with cmc.mvc.vcluster state=present to make one" % p["names"][0])
                result["clusters"], result["n2n_key"], result["munge_key"] = clusters, key, munge
            else:
                result["clusters"] = client.read(lambda conn: _mvcdb.read_clusters(conn, p["names"])) or []
        except _mvcdb.ERRORS as exc:
            client.fail(exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
