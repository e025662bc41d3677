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
    its plan, without changing anything. Never returns the N2N key.
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
"""

RETURN = r"""
clusters:
  description: One plan per cluster, each with C(cluster), C(nodes) and C(edges) as in M(cmc.mvc.vcluster).
  returned: success
  type: list
  elements: dict
  sample: [{"cluster": {"name": "lab1", "subnet": "10.200.0.0/24"}, "nodes": [], "edges": []}]
database:
  description: The database read, as a URL with any password masked.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str"),
            **_mvcdb.database_argument_spec()
        ),
        supports_check_mode=True,
    )
    _mvcdb.fail_without_libraries(module)
    p = module.params
    result = dict(changed=False, clusters=[])
    try:
        url = _mvcdb.make_url(p["database"], p["database_password"])
        if url.password:
            module.no_log_values.add(url.password)
        result["database"] = _mvcdb.masked_url(url)
        if url.get_backend_name() == "sqlite" and url.database and not os.path.exists(url.database):
            module.exit_json(**result)
        db = _mvcdb.Database(p["database"], p["database_password"], readonly=True, create=False)
        # Closed whatever the path: a persistent interpreter (mitogen) would keep its connections.
        try:
            if db.current_version() != 0:
                result["clusters"] = db.run(lambda conn: _mvcdb.read_clusters(conn, p["names"]))
        finally:
            db.dispose()
    except (_mvcdb.DBError, _mvcdb.InputError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
