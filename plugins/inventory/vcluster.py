# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vcluster
short_description: Virtual cluster nodes from the MVC database
version_added: 0.1.0
description:
  - Reads the virtual clusters that M(cmc.mvc.vcluster) registered in the MVC database, and makes one host per
    node, named as the node (C(<cluster>-frontend), C(<cluster>-compute-<n>)).
  - Groups per cluster C(vc_<cluster>), with children C(vc_<cluster>_frontend), C(vc_<cluster>_compute) and one
    per site C(vc_<cluster>_site_<site>). Group names allow no C(-), so a C(-) in a cluster or site name becomes
    C(_) there (cluster C(lab-1) gives group C(vc_lab_1)); cluster names have no C(_), so this stays unique.
  - Hostvars C(mvc_cluster), C(mvc_role), C(mvc_index), C(mvc_site), C(mvc_dom0) (inventory hostname of the VM
    container), C(mvc_overlay_ip), C(mvc_overlay_prefix), C(mvc_mac), C(mvc_vcpus), C(mvc_memory_mb),
    C(mvc_disk_gb), C(mvc_status), C(mvc_subnet), C(mvc_bridge), C(mvc_community), C(mvc_owner) and C(mvc_mtu) (the
    MTU of the cluster's network, null for a cluster that no deploy has given one).
  - It never reads the N2N key or the munge key and never outputs the database password. All data from the database is
    marked unsafe.
  - The inventory file name must end with C(vcluster.yml) or C(vcluster.yaml).
author:
  - Cybermedia Center MVC team (@cmc-mvc)
requirements:
  - sqlalchemy >= 2.0
  - netaddr
  - psycopg (3) for PostgreSQL, pymysql for MariaDB/MySQL
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [cmc.mvc.vcluster]
  database:
    description:
      - Database URL or SQLite path, as for M(cmc.mvc.vcluster); default C(~/.local/share/cmc-mvc/mvc.sqlite).
      - A relative SQLite path is taken relative to the inventory file.
    type: str
    env:
      - name: CMC_MVC_DATABASE
  database_password:
    description: Password for the database URL.
    type: str
    env:
      - name: CMC_MVC_DATABASE_PASSWORD
  clusters:
    description: Only these clusters (default all).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
# clusters.vcluster.yml
plugin: cmc.mvc.vcluster
database: postgresql+psycopg://mvc@db.example.org/mvc
compose:
  ansible_host: mvc_overlay_ip
keyed_groups:
  - key: mvc_dom0
    prefix: dom0
groups:
  big: mvc_memory_mb >= 4096
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/cmc-mvc-vcluster
"""

import os
import typing as t
import re

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb
from ansible_collections.cmc.mvc.plugins.plugin_utils._inventory import MVCInventoryBase
from ansible_collections.cmc.mvc.plugins.plugin_utils._unsafe import make_unsafe


def group_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class InventoryModule(MVCInventoryBase):
    NAME = "cmc.mvc.vcluster"
    FILE_SUFFIXES = ("vcluster.yml", "vcluster.yaml")

    def _read(self, path: str) -> list[dict[str, t.Any]]:
        database = self.get_option("database")
        if database and "://" not in database:
            database = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(database))
        try:
            with _mvcdb.MVCDBClient(database, self.get_option("database_password")) as client:
                plans = client.read(lambda conn: _mvcdb.read_clusters(conn, self.get_option("clusters") or None),
                                    missing_ok=False)
                if plans is None:
                    self.display.warning("MVC database %s has no schema yet: no virtual clusters" % client.safe_url)
                    return []
                return plans
        except _mvcdb.MissingLibrary as exc:
            raise AnsibleError("cmc.mvc.vcluster needs the Python library %s%s"
                               % (exc.library, " >= 2.0" if exc.library == "sqlalchemy" else ""))
        except _mvcdb.ERRORS as exc:
            raise AnsibleError("cmc.mvc.vcluster: %s" % to_native(exc))

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        plans = self._cached(cache)
        if plans is None:
            plans = self._read(path)
            self._cache_store(plans)
        if not isinstance(plans, list):
            raise AnsibleParserError("cmc.mvc.vcluster: unexpected cache content for %s" % path)
        for plan in plans:
            self._populate(plan)

    def _populate(self, plan: dict[str, t.Any]) -> None:
        inv = self.inventory
        strict = self.get_option("strict")
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed = self.get_option("keyed_groups")
        c = plan["cluster"]
        top = inv.add_group("vc_%s" % group_part(c["name"]))
        for n in plan["nodes"]:
            role_group = inv.add_group("%s_%s" % (top, n["role"]))
            inv.add_child(top, role_group)
            site_group = inv.add_group("%s_site_%s" % (top, group_part(n["site"])))
            inv.add_child(top, site_group)
            host = inv.add_host(n["name"], group=role_group)
            inv.add_child(site_group, host)
            hv = make_unsafe({
                "mvc_cluster": c["name"], "mvc_owner": c["owner"], "mvc_role": n["role"], "mvc_index": n["index"],
                "mvc_site": n["site"], "mvc_dom0": n["dom0"], "mvc_overlay_ip": n["overlay_ip"],
                "mvc_overlay_prefix": n["overlay_prefix"], "mvc_mac": n["mac"], "mvc_vcpus": n["vcpus"],
                "mvc_memory_mb": n["memory_mb"], "mvc_disk_gb": n["disk_gb"], "mvc_status": n["status"],
                "mvc_subnet": c["subnet"], "mvc_bridge": c["bridge"], "mvc_community": c["community"],
                "mvc_mtu": c["mtu"],
            })
            for k, v in hv.items():
                inv.set_variable(host, k, v)
            if compose or groups or keyed:
                self._set_composite_vars(compose, hv, host, strict=strict)
                self._add_host_to_composed_groups(groups, hv, host, strict=strict)
                self._add_host_to_keyed_groups(keyed, hv, host, strict=strict)
