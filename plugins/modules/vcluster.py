#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Over 400 lines: about 360 are DOCUMENTATION, EXAMPLES and RETURN (every field of the request, for ansible-doc);
# the code is the rest, and its logic lives in module_utils/_request.py and _mvcdb_*.py.

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
  - Each cluster also gets a random munge key (Slurm's authentication), made once when it is registered and
    never changed by a re-run, kept and returned as the N2N key is. A cluster registered before the collection
    kept munge keys gets one when it is registered again (reported as a change).
  - With O(encryption_key), the N2N and munge keys are stored encrypted, and keys stored in clear by earlier runs
    are re-written encrypted when their cluster is registered again (reported as a change). See
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
    details: The cluster, its nodes and edges before and after; never the N2N key or the munge key.
options:
  request:
    description:
      - The request, the C(vcluster) structure of the request file (see
        R(the deploy guide,ansible_collections.cmc.mvc.docsite.deploy.request)).
      - "Every field is checked before anything is written, and any error names the field at fault, for example
        C(vcluster.compute.count: must be an integer >= 0, got -1) or C(vcluster.frontend: must be a mapping, got
        list)."
      - With O(state=deployed) or O(state=absent) only O(request.name) is used.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the cluster, C([a-z][a-z0-9-]{0,30}); node names are C(<name>-frontend) and C(<name>-compute-<n>).
        type: str
        required: true
      owner:
        description:
          - Owner of the cluster (letters, digits, C(_ . @ -), at most 64). Another owner cannot take over an
            existing name.
          - Required with O(state=present).
        type: str
      overlay:
        description: The overlay network.
        type: dict
        suboptions:
          subnet:
            description: An IPv4 CIDR; when left out, one is allocated from O(overlay_pool).
            type: str
          backend:
            description:
              - C(n2n) (N2N v1 edges through the supernode) or C(wireguard) (each Dom0's WireGuard interface to a
                hub, one VXLAN network per cluster over it). See the C(wireguard) page of the collection's docs.
              - A registered cluster keeps its backend; to change it, remove the cluster first.
            type: str
            choices: [n2n, wireguard]
            default: n2n
      frontend:
        description: Size and site of the frontend.
        type: dict
        suboptions:
          vcpus:
            description: vCPUs, 1 to 512.
            type: int
            default: 1
          memory_mb:
            description: Memory in MB, 32 to 4194304 (at least 128 with O(request.services.scheduler=slurm)).
            type: int
            default: 512
          disk_gb:
            description: Disk in GB, 1 to 65536.
            type: int
            default: 4
          site:
            description: Site of the frontend; default the first site of a O(request.placement) mapping, else any.
            type: str
      compute:
        description: Number and size of the compute nodes.
        type: dict
        suboptions:
          count:
            description: Number of compute nodes, 0 to 16384. A smaller count removes the highest-numbered nodes.
            type: int
            default: 0
          vcpus:
            description: vCPUs of each, 1 to 512.
            type: int
            default: 1
          memory_mb:
            description: Memory of each in MB, 32 to 4194304 (at least 128 with O(request.services.scheduler=slurm)).
            type: int
            default: 256
          disk_gb:
            description: Disk of each in GB, 1 to 65536.
            type: int
            default: 2
      sites:
        description:
          - Sites to use, in order of preference (at most 256); default every site with VM containers.
        type: list
        elements: str
      placement:
        description:
          - "V(spread) balances nodes across sites, then across the hosts of a site; V(pack) fills hosts in order.
            A mapping of site to count, such as C({osaka: 2, sdsc: 2}), places exactly that many B(compute) nodes
            per site; the counts must add up to O(request.compute.count). The frontend is not counted there: it
            goes to O(request.frontend.site), else to the first site of the mapping."
        type: raw
        default: spread
      os:
        description: The guest OS.
        type: str
        default: debian-12
      packages:
        description: Debian packages to install on every node (at most 256).
        type: list
        elements: str
        default: []
      users:
        description: Users to create on every node (at most 256).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Unix user name, C([a-z_][a-z0-9_-]{0,31}). Required.
            type: str
          ssh_keys:
            description: OpenSSH public key lines (at most 32).
            type: list
            elements: str
            default: []
          sudo:
            description: Whether the user may use sudo.
            type: bool
            default: false
          uid:
            description:
              - The user's uid, from 1000 to 59999 (below is a system account, above Debian's reserved ids such as
                C(slurm)'s 64030), unique in the request; default the next free one.
              - This module validates and records it; the deploy's guest install (C(cmc.mvc.guest_os)) makes the
                user with it, and the user's own group with the same gid.
            type: int
      services:
        description:
          - The cluster's services.
          - Validated and recorded (in the database's copy of the request); the C(cmc.mvc.deploy_mvc) playbook does not
            yet apply them. The P(cmc.mvc.slurm#role) role can be run on the nodes.
          - Stored only when it differs from its defaults, so adding them did not change the digest of an existing
            request.
        type: dict
        suboptions:
          scheduler:
            description:
              - V(slurm) or V(none). Default V(slurm) when there are compute nodes and they and the frontend have at
                least 128 MB (the kernel, munge and Slurm's daemon need it), else V(none).
              - V(slurm) with O(request.compute.count=0), or with a node below 128 MB, is refused before anything
                is written.
            type: str
            choices: [slurm, none]
          shared_home:
            description: Whether C(/home) is shared from the frontend to the compute nodes.
            type: bool
            default: true
          mpi:
            description: The MPI of the nodes.
            type: str
            choices: [openmpi, none]
            default: openmpi
  state:
    description:
      - V(present) registers or updates the cluster.
      - V(deployed) marks the nodes in O(nodes) (all nodes of the cluster when left out) deployed, and nothing else;
        the request is not validated or registered again, no node moves, and the cluster must be registered.
        The cluster's status becomes V(deployed) when all its nodes are. Marking a node that is already
        deployed changes nothing.
      - In check mode, a cluster that is not registered yet (as in a check run of its first deployment, whose
        registration was rolled back) is reported as changed, with a warning, rather than refused.
      - V(absent) removes the cluster and frees its allocations.
    type: str
    choices: [present, deployed, absent]
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
  mtu:
    description:
      - With O(state=present), the largest MTU that the path between the cluster's sites carries for the cluster's
        bridges and guests' NICs, 576 to 65535 (C(deploy_mvc) gives the filter P(cmc.mvc.overlay_mtu#filter)'s
        result for C(mvc_underlay_mtu)).
      - The cluster takes it and keeps it in the database until one of its nodes is deployed (so a deploy that
        stopped on a path too small for it is re-run with a smaller one). From then on the cluster keeps the MTU its
        guests' NICs were installed with, on every later run and when it grows; an O(mtu) smaller than that fails
        naming O(mtu), and nothing is written. A cluster registered before the database kept MTUs takes O(mtu) on
        its next registration (reported as a change, once).
      - For a C(wireguard) cluster, an O(mtu) smaller than the MTU of another C(wireguard) cluster on one of its Dom0s
        fails naming O(mtu) too, since the run sizes that Dom0's one WireGuard interface for O(mtu), which would drop
        the other cluster's larger frames.
      - When left out, a registered cluster keeps its MTU and a new one has none (C(cluster.mtu) of RV(vcluster) is null).
    type: int
  node_status:
    description:
      - With O(state=present), mark nodes as V(deployed), V(failed) or V(planned), by node name, while
        registering. A node that is moved or resized goes back to V(planned).
      - To mark nodes deployed after a deployment, O(state=deployed) with O(nodes) is cheaper - it does not
        register the request again.
    type: dict
  nodes:
    description:
      - With O(state=deployed), the names of the nodes to mark deployed (C(<name>-frontend),
        C(<name>-compute-<n>)); all nodes of the cluster when left out. A name that is not a node of the
        cluster fails naming it, and nothing is changed.
    type: list
    elements: str
  return_key:
    description:
      - With O(state=present), also return the N2N key (as RV(n2n_key)) and the munge key (as RV(munge_key)). Use
        C(no_log) on such a task.
      - In a database that holds encrypted keys, a cluster that has no munge key yet needs O(encryption_key) to get
        one; without it, this fails naming O(encryption_key).
      - To read the keys of a registered cluster without registering it again, use M(cmc.mvc.vcluster_info)
        with O(cmc.mvc.vcluster_info#module:return_key=true), which takes no write lock.
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

- name: Register and get the N2N key in one step
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    return_key: true
    encryption_key: "{{ vault_mvc_database_encryption_key }}"
  delegate_to: localhost
  register: mvc_key
  no_log: true

- name: Mark the nodes of the plan deployed (without registering the request again)
  cmc.mvc.vcluster:
    request: {name: lab1}
    state: deployed
    nodes: "{{ mvc.vcluster.nodes | map(attribute='name') }}"
  delegate_to: localhost

- name: Mark one node failed while registering
  cmc.mvc.vcluster:
    request: "{{ vcluster }}"
    node_status: {lab1-compute-0: failed}
  delegate_to: localhost

- name: Remove the cluster and free its allocations
  cmc.mvc.vcluster:
    request: {name: lab1}
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
vcluster:
  description:
    - The plan (with O(state=absent), the plan that was removed, or empty when there was none).
    - With O(state=deployed), the plan as registered, with the nodes' new status.
  returned: always
  type: dict
  contains:
    cluster:
      description:
        - C(name), C(owner), C(subnet), C(netmask), C(prefix), C(community), C(bridge) (C(mvc-<name>), shortened
          with a hash past 15 characters as P(cmc.mvc.n2n_edge#role) does), C(status), C(os), C(packages), C(users), C(placement), C(sites),
          C(services) (with their defaults filled in), C(overlay) (the backend, C(n2n) or C(wireguard)), C(vni)
          (the VXLAN network identifier of the C(wireguard) backend, the cluster's row id), C(mtu) (of its
          bridges and guests' NICs, from O(mtu) and kept once a node is deployed; null without one),
          C(request_digest).
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
    - Always empty with O(state=deployed).
  returned: always
  type: dict
  sample: {"nodes": [{"name": "lab1-compute-3", "dom0": "vm-container-0-1.sdsc"}], "edges": []}
n2n_key:
  description: The N2N key of the cluster.
  returned: when O(return_key=true) and O(state=present)
  type: str
munge_key:
  description:
    - The munge key of the cluster, base64 of 128 random bytes, as P(cmc.mvc.slurm#role) takes it in
      C(slurm_munge_key). The same on every run.
  returned: when O(return_key=true) and O(state=present)
  type: str
database:
  description: The database used, as a URL with any password masked.
  returned: always
  type: str
  sample: sqlite:////root/.local/share/cmc-mvc/mvc.sqlite
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr
from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb
from ansible_collections.cmc.mvc.plugins.module_utils import _request


def present(module: AnsibleModule, client: _mvcdb.ModuleClient) -> tuple[dict[str, t.Any], t.Any, t.Any]:
    """Register the request, or update its cluster: validated before the database is opened (or created)."""
    p = module.params
    req = _request.check(p["request"])  # AnsibleModule has applied its types and defaults: this is the rest, once
    containers = _mvcdb.normalize_containers(p["vm_containers"], vcpus_per_cpu=p["vcpus_per_cpu"])
    addr.parse_subnet(p["overlay_pool"], "overlay_pool")
    if not 8 <= p["overlay_prefix"] <= 30:
        raise _mvcdb.InputError("overlay_prefix", "must be between 8 and 30, got %d" % p["overlay_prefix"])
    cipher = client.cipher()
    out = client.write(lambda conn: _mvcdb.register(
        conn, req, containers, p["overlay_pool"], p["overlay_prefix"], p["node_status"], p["return_key"],
        cipher, p["mtu"]), check_mode=module.check_mode)
    result = {"changed": out["changed"], "removed": _mvcdb.removed_parts(out["before"], out["after"])}
    if p["return_key"]:
        result["n2n_key"] = out["plan"].pop("n2n_key")
        result["munge_key"] = out["plan"].pop("munge_key")
    result["vcluster"] = out["plan"]
    return result, out["before"], out["after"]


def deployed(module: AnsibleModule, client: _mvcdb.ModuleClient) -> tuple[dict[str, t.Any], t.Any, t.Any]:
    """Mark nodes of the registered cluster deployed; the request is not validated or registered again."""
    p = module.params
    _request.validate_name(p["request"].get("name"))
    out = client.write(lambda conn: _mvcdb.mark_deployed(conn, p["request"]["name"], p["nodes"],
                                                         missing_ok=module.check_mode), check_mode=module.check_mode)
    if out is None:
        # A check run of a first deployment registered nothing; once registered, the nodes would be marked.
        module.warn("check mode: cluster %s is not registered (yet); its nodes would be marked deployed once it is"
                    % p["request"]["name"])
        return {"changed": True, "vcluster": {}, "removed": {"nodes": [], "edges": []}}, {}, {}
    return {"changed": out["changed"], "vcluster": out["plan"], "removed": {"nodes": [], "edges": []}}, \
        out["before"], out["after"]


def absent(module: AnsibleModule, client: _mvcdb.ModuleClient) -> tuple[dict[str, t.Any], t.Any, t.Any]:
    p = module.params
    _request.validate_name(p["request"].get("name"))
    removed = client.write(lambda conn: _mvcdb.unregister(conn, p["request"]["name"]), check_mode=module.check_mode)
    return ({"changed": removed is not None, "vcluster": removed or {}, "removed": _mvcdb.removed_parts(removed, None)},
            _mvcdb.comparable(removed), {})


def main() -> None:
    module = _request.RequestModule(
        argument_spec=dict(
            request=_request.argument_spec(),
            state=dict(type="str", default="present", choices=["present", "deployed", "absent"]),
            **_mvcdb.database_argument_spec(),
            vm_containers=dict(type="list", elements="dict"),
            vcpus_per_cpu=dict(type="int", default=1),
            overlay_pool=dict(type="str", default=_mvcdb.DEFAULT_POOL),
            overlay_prefix=dict(type="int", default=_mvcdb.DEFAULT_PREFIX),
            mtu=dict(type="int"),
            node_status=dict(type="dict"),
            nodes=dict(type="list", elements="str"),
            return_key=dict(type="bool", default=False, no_log=False),
        ),
        supports_check_mode=True,
    )
    client = _mvcdb.ModuleClient(module)
    result = {"changed": False, "vcluster": {}, "database": client.safe_url}
    with client:
        try:
            out, before, after = {"present": present, "deployed": deployed, "absent": absent}[
                module.params["state"]](module, client)
        except _mvcdb.ERRORS as exc:
            client.fail(exc, **result)
    result.update(out)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
