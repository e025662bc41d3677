# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters n2n_edges, n2n_mtu_problems and n2n_supernode: validate and render N2N settings for the roles (docs in the
.yml files)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.module_utils._n2n import (
    N2NError,
    check_version,
    env_file_text,
    render_edge,
    render_supernode,
)

# nobody and nogroup on Debian; the edge unit's Group=nogroup is the same group.
V1_PRIVDROP = ["-u", "65534", "-g", "65534"]


def n2n_edges(clusters: t.Any, version: t.Any = 1, supernode: str | None = None, host: str = "localhost",
              config_dir: str = "/etc/n2n/mvc", var: str = "n2n_edge_clusters") -> list[dict[str, t.Any]]:
    """Render every cluster's edge; fail naming ``var[i].field`` before anything is changed."""
    if not isinstance(clusters, list):
        raise AnsibleFilterError("%s: expected a list of clusters" % var)
    try:
        default_version = check_version(version, "n2n_edge_version")
    except N2NError as exc:
        raise AnsibleFilterError(str(exc))
    out = []
    seen: dict[tuple[str, t.Any], str] = {}
    for i, cluster in enumerate(clusters):
        where = "%s[%d]" % (var, i)
        if not isinstance(cluster, dict):
            raise AnsibleFilterError("%s: expected a mapping" % where)
        params = dict(cluster)
        params.setdefault("version", default_version)
        if not params.get("supernode"):
            params["supernode"] = supernode
        state = params.get("state", "present")
        if state not in ("present", "absent"):
            raise AnsibleFilterError("%s.state: expected present or absent, got %r" % (where, state))
        if state == "absent" and not params.get("key"):
            # Removal needs names only; a placeholder keeps the checks of the other fields.
            params["key"] = "absent"
            params.setdefault("community", "absent")
        if state == "absent" and not params.get("supernode"):
            params["supernode"] = "absent.invalid:7654"  # never contacted: nothing runs after removal
        try:
            rendered = render_edge(params, host=host, config_dir=config_dir)
        except N2NError as exc:
            field = "supernode (or n2n_edge_supernode)" if exc.field == "supernode" else exc.field
            raise AnsibleFilterError("%s.%s" % (where, str(exc).replace(exc.field or "", field or "", 1)))
        s = rendered["settings"]
        for kind in ("name", "tap", "bridge", "community"):
            if state == "absent" and kind == "community":
                continue
            other = seen.get((kind, s[kind]))
            if other is not None:
                raise AnsibleFilterError("%s.%s: %r is already used by %s; clusters on one host never share a %s"
                                         % (where, kind, s[kind], other, kind))
            seen[(kind, s[kind])] = where
        if s["version"] == 1:
            # v1 drops to nobody:nogroup once its TAP device is up (edge(8) -u/-g, numeric): the unit appends
            # $MVC_EDGE_PRIVDROP to the command line. v2 and v3 drop privileges by themselves.
            rendered["env"]["MVC_EDGE_PRIVDROP"] = " ".join(V1_PRIVDROP)
            rendered["argv"] = rendered["argv"] + V1_PRIVDROP
            rendered["env_file"] = env_file_text(rendered["env"])
        rendered["state"] = state
        out.append(rendered)
    return out


def n2n_mtu_problems(edges: t.Any, underlays: t.Any, host: str = "this host",
                     var: str = "n2n_edge_clusters") -> list[str]:
    """One message per present edge whose MTU, with N2N's overhead, would not fit the path toward its supernode."""
    paths = dict((u.get("supernode"), u) for u in underlays or [])
    problems = []
    for i, edge in enumerate(edges or []):
        s = edge["settings"]
        path = paths.get(s["supernode"])
        if edge.get("state") != "present" or not path or not path.get("mtu"):
            continue
        largest = path["mtu"] - s["overhead"]
        if s["mtu"] > largest:
            problems.append(
                "%s[%d].mtu: %d does not fit the path from %s to the supernode %s (%s, MTU %d): N2N v%d adds %d bytes "
                "to each packet, so the largest edge MTU there is %d. Give every node of the cluster an MTU of at "
                "most %d." % (var, i, s["mtu"], host, s["supernode"], path.get("interface"), path["mtu"],
                              s["version"], s["overhead"], largest, largest))
    return problems


def n2n_supernode(port: t.Any = 7654, version: t.Any = 1) -> dict[str, t.Any]:
    try:
        return render_supernode({"port": port, "version": version})
    except N2NError as exc:
        raise AnsibleFilterError("n2n_supernode_%s" % exc)


class FilterModule(object):
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"n2n_edges": n2n_edges, "n2n_mtu_problems": n2n_mtu_problems, "n2n_supernode": n2n_supernode}
