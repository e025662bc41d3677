#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcluster
short_description: Plan and register a multi-site virtual cluster in the MVC database
version_added: 0.1.0
description:
  - Steps 1 to 3 of an MVC deployment. Validates a virtual cluster request, then in one database transaction
    allocates its overlay subnet, N2N community and random N2N key, places the frontend and compute nodes on
    VM containers across the sites, gives each node a MAC address (Xen OUI C(00:16:3e)) and an overlay IP, and
    registers it all. It returns the plan.
  - Runs on the controller (delegate the task to C(localhost), or run it in a play on C(localhost)).
  - Re-running with the same request changes nothing. Changing it changes only what must change; nodes that
    exist stay on their VM container with their MAC and address, and a smaller C(compute.count) removes
    the highest-numbered compute nodes.
  - The database is SQLite by default, or PostgreSQL or MariaDB/MySQL given by URL. Concurrent runs are
    serialized by a row lock (C(BEGIN IMMEDIATE) on SQLite); a transaction that loses a race on a unique
    constraint is retried a few times. A failed run leaves the database as it was.
  - A request subnet that overlaps any subnet already allocated is refused. Subnets from the pool are aligned
    blocks of O(overlay_prefix) bits, so pool allocations cannot overlap each other.
  - The N2N key is stored in the database, so protect it (a new SQLite file is created with mode C(0600), in a
    directory of mode C(0700)). It is never shown in diffs and returned only with O(return_key=true).
  - With O(encryption_key), the N2N key is stored encrypted, and a key stored in clear by earlier runs is
    re-written encrypted when its cluster is registered again (reported as a change). See
    R(the secrets guide,ansible_collections.cmc.mvc.docsite.secrets) (C(docs/docsite/rst/secrets.rst)).
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - cmc.mvc.mvcdb
  - cmc.mvc._attributes
  - cmc.mvc._attributes.check_mode_full
  - cmc.mvc._attributes.diff_mode_full
attributes:
  check_mode:
    details: Shows the plan and writes nothing (the whole transaction is rolled back).
  diff_mode:
    details: The cluster, its nodes and edges before and after; never the N2N key.
options:
  request:
    description:
      - The request, the C(vcluster) structure of the request file (see the collection README and DESIGN).
      - C(name) (C([a-z][a-z0-9-]{0,30}); node names are C(<name>-frontend) and C(<name>-compute-<n>)), C(owner)
        (another owner cannot take over an existing name), C(overlay.subnet) (an IPv4 CIDR; when left out, one is
        allocated from O(overlay_pool)), C(frontend) (C(vcpus), C(memory_mb), C(disk_gb), defaults 1, 512, 4,
        and optionally C(site)), C(compute) (C(count), C(vcpus), C(memory_mb), C(disk_gb), defaults 0, 1, 256,
        2), C(sites) (sites to use in order of preference; default every site with VM containers),
        C(placement), C(os) (default C(debian-12)), C(packages), C(users) (each C(name), C(ssh_keys) and C(sudo), default false).
      - "C(placement) V(spread) balances nodes across sites, then across the hosts of a site; V(pack) fills
        hosts in order. A mapping of site to count, such as C({osaka: 2, sdsc: 2}), places exactly that many
        B(compute) nodes per site; the counts must add up to C(compute.count). The frontend is not counted
        there: it goes to C(frontend.site), else to the first site of the mapping."
      - "Any error names the field at fault, for example C(vcluster.compute.count: must be an integer >= 0, got -1)."
      - With O(state=absent) only C(name) is used.
    type: dict
    required: true
  state:
    description: V(present) registers or updates the cluster; V(absent) removes it and frees its allocations.
    type: str
    choices: [present, absent]
    default: present
  vm_containers:
    description:
      - The VM containers, as the hostvars that the C(cmc.mvc.rocks) inventory gives them (C(inventory_hostname)
        or C(name), C(mvc_site), C(mvc_free) with C(cpus), C(memory_mb) and C(disk_gb)). They are stored in the
        database, so that placement of any cluster sees what all clusters use.
      - When left out, the VM containers stored by earlier runs are used.
      - C(mvc_free) is the capacity the site reports free; the nodes that MVC registered come off it.
    type: list
    elements: dict
  vcpus_per_cpu:
    description:
      - How many domain vCPUs each free CPU of a VM container may carry (vCPU overcommit), applied to
        O(vm_containers) as they are stored. Xen shares CPUs between domains; memory and disk are never
        overcommitted.
      - 1 places no more vCPUs than there are CPUs.
    type: int
    default: 1
  overlay_pool:
    description: The IPv4 network from which overlay subnets are allocated.
    type: str
    default: 10.200.0.0/16
  overlay_prefix:
    description: Prefix length of allocated subnets; larger subnets are taken when a cluster needs more addresses.
    type: int
    default: 24
  node_status:
    description:
      - Mark nodes as V(deployed), V(failed) or V(planned), by node name (later plays report back this way).
        A node that is moved or resized goes back to V(planned).
    type: dict
  return_key:
    description: Also return the N2N key (as RV(n2n_key)). Use C(no_log) on such a task.
    type: bool
    default: false
seealso:
  - plugin: cmc.mvc.vcluster
    plugin_type: inventory
  - plugin: cmc.mvc.rocks
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Register the virtual cluster of a request file
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    vm_containers: "{{ groups['vm_containers'] | map('extract', hostvars) | list }}"
  delegate_to: localhost
  run_once: true
  register: mvc

# hostvars also carry magic variables such as groups; on big sites pass only what vcluster reads.
- name: Register, passing lean VM container records
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    vm_containers: >-
      {{ groups['vm_containers'] | map('extract', hostvars) | map('dict2items')
         | map('selectattr', 'key', 'in', ['inventory_hostname', 'mvc_site', 'mvc_free', 'mvc_rocks_name',
                                           'mvc_private_ip', 'mvc_appliance'])
         | map('items2dict') | list }}
  delegate_to: localhost
  run_once: true

- name: Same, on a shared PostgreSQL database
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    database: postgresql+psycopg://mvc@db.example.org/mvc
    database_password: "{{ vault_mvc_db_password }}"
  delegate_to: localhost

- name: Get the N2N key for the edges
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    return_key: true
    encryption_key: "{{ vault_mvc_database_encryption_key }}"
  delegate_to: localhost
  register: mvc_key
  no_log: true

- name: Report deployed nodes
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    node_status: {lab1-frontend: deployed, lab1-compute-0: deployed}
  delegate_to: localhost

- name: Remove the cluster and free its allocations
  cmc.mvc.vcluster:
    request: {name: lab1}
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
vcluster:
  description: The plan (with O(state=absent), the plan that was removed, or empty when there was none).
  returned: always
  type: dict
  contains:
    cluster:
      description:
        - C(name), C(owner), C(subnet), C(netmask), C(prefix), C(community), C(bridge) (C(mvc-<name>), shortened
          with a hash past 15 characters as P(cmc.mvc.n2n_edge#role) does), C(status), C(os), C(packages), C(users), C(placement), C(sites), C(request_digest).
      type: dict
      sample: {"name": "lab1", "subnet": "10.200.0.0/24", "community": "lab1", "bridge": "mvc-lab1"}
    nodes:
      description:
        - One per node, frontend first, each with C(name), C(role), C(index), C(site), C(dom0) (the inventory
          hostname of its VM container), C(mac), C(overlay_ip), C(overlay_prefix), C(vcpus), C(memory_mb),
          C(disk_gb), C(status).
      type: list
      elements: dict
      sample: [{"name": "lab1-frontend", "role": "frontend", "site": "osaka", "dom0": "vm-container-0-1.osaka",
                "mac": "00:16:3e:12:34:56", "overlay_ip": "10.200.0.1", "overlay_prefix": 24}]
    edges:
      description: One N2N edge per Dom0 that hosts a node, with C(dom0), C(site), C(overlay_ip), C(overlay_prefix).
      type: list
      elements: dict
removed:
  description:
    - What this run took away, for the hosts to undo - C(nodes) removed from the cluster or moved to another
      VM container (as they were, with their old C(dom0)), and C(edges) of Dom0s that no longer host a node.
  returned: always
  type: dict
  sample: {"nodes": [{"name": "lab1-compute-3", "dom0": "vm-container-0-1.sdsc"}], "edges": []}
n2n_key:
  description: The N2N key of the cluster.
  returned: when O(return_key=true) and O(state=present)
  type: str
database:
  description: The database used, as a URL with any password masked.
  returned: always
  type: str
  sample: sqlite:////root/.local/share/cmc-mvc/mvc.sqlite
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr
from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb
from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

# Bad input of any kind (request, module options, placement, addressing) names its field; DBError does not.
ERRORS = (FieldError, _mvcdb.DBError)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            request=dict(type="dict", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            **_mvcdb.database_argument_spec(),
            vm_containers=dict(type="list", elements="dict"),
            vcpus_per_cpu=dict(type="int", default=1),
            overlay_pool=dict(type="str", default=_mvcdb.DEFAULT_POOL),
            overlay_prefix=dict(type="int", default=_mvcdb.DEFAULT_PREFIX),
            node_status=dict(type="dict"),
            return_key=dict(type="bool", default=False, no_log=False),
        ),
        supports_check_mode=True,
    )
    _mvcdb.fail_without_libraries(module)
    p = module.params
    result = {"changed": False, "vcluster": {}}
    try:
        # Everything that needs no database is checked before the database is opened (or created).
        if p["state"] == "present":
            _request.validate(p["request"])
            containers = _mvcdb.normalize_containers(p["vm_containers"], vcpus_per_cpu=p["vcpus_per_cpu"])
            addr.parse_subnet(p["overlay_pool"], "overlay_pool")
            if not 8 <= p["overlay_prefix"] <= 30:
                raise _mvcdb.InputError("overlay_prefix", "must be between 8 and 30, got %d" % p["overlay_prefix"])
        else:
            _request.validate_name(p["request"].get("name"))
        url = _mvcdb.make_url(p["database"], p["database_password"])
        if url.password:
            module.no_log_values.add(url.password)
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            raise _mvcdb.InputError("database", "an in-memory SQLite database would keep nothing; give a file")
        result["database"] = _mvcdb.masked_url(url)
        cipher = _mvcdb.key_cipher(p["encryption_key"]) if p["state"] == "present" else None
        db = open_database(module, p)
        # Closed whatever the path: a persistent interpreter (mitogen) would keep its connections.
        try:
            if p["state"] == "present":
                out = db.run(lambda conn: _mvcdb.register(
                    conn, p["request"], containers, p["overlay_pool"], p["overlay_prefix"], p["node_status"],
                    p["return_key"], cipher), check_mode=module.check_mode)
                plan = out["plan"]
                if p["return_key"]:
                    result["n2n_key"] = plan.pop("n2n_key")
                result.update(changed=out["changed"], vcluster=plan,
                              removed=_mvcdb.removed_parts(out["before"], out["after"]))
                before, after = out["before"], out["after"]
            else:
                removed = db.run(lambda conn: _mvcdb.unregister(conn, p["request"]["name"]), check_mode=module.check_mode)
                result.update(changed=removed is not None, vcluster=removed or {},
                              removed=_mvcdb.removed_parts(removed, None))
                before, after = _mvcdb._comparable(removed), {}
            if module._diff:
                result["diff"] = {"before": before, "after": after}
        finally:
            db.dispose()
    except ERRORS as exc:
        module.fail_json(msg=str(exc), field=getattr(exc, "field", None), **result)
    module.exit_json(**result)


def open_database(module, p):
    """The database, migrated. In check mode, a database with no schema yet is planned against an empty one."""
    database = p["database"]
    is_sqlite = not database or "://" not in database or database.startswith("sqlite")
    if module.check_mode and is_sqlite:
        url = _mvcdb.make_url(database)
        if url.database and not os.path.exists(url.database):
            mem = _mvcdb.memory_database()
            mem.safe_url = _mvcdb.masked_url(url)
            return mem
    db = _mvcdb.Database(database, p["database_password"])
    if module.check_mode:
        version = db.current_version()
        if version == 0:
            db.dispose()
            mem = _mvcdb.memory_database()
            mem.safe_url = db.safe_url
            return mem
        if version != _mvcdb.SCHEMA_VERSION:
            raise _mvcdb.DBError("%s has schema version %d; run without check mode to migrate it to %d"
                                 % (db.safe_url, version, _mvcdb.SCHEMA_VERSION))
    else:
        db.migrate()
    return db


if __name__ == "__main__":
    main()
