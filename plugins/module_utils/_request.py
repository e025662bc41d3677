# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of a virtual cluster request (the ``vcluster`` structure of docs/docsite/rst/deploy.rst).

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

# Always used with fullmatch: "$" also matches before a final newline, and "evil\n" once got through.
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,30}")
# The overlay of a cluster: N2N v1 edges through the supernode (the seed's), or WireGuard to a hub with VXLAN per cluster.
OVERLAY_BACKENDS = ("n2n", "wireguard")
OWNER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,63}")
SITE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
PACKAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_:=~-]{0,127}")
OS_RE = re.compile(r"[a-z][a-z0-9.-]{0,40}")
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
SSH_KEY_RE = re.compile(r"(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( [^\n]*)?")
INT_RE = re.compile(r"\s*-?\d{1,12}\s*")
PLACEMENTS = ("spread", "pack")

# Upper bounds, checked before any plan is built: a request is typed by a person, and a huge one only costs time
# (a million compute nodes took 8.4 s to refuse) or fills the database.
LIMITS = {
    "count": 16384, "vcpus": 512, "memory_mb": 4 * 1024 * 1024, "disk_gb": 64 * 1024,
    "list": 256, "ssh_keys": 32, "ssh_key": 16384, "subnet": 64,
}
# How much of a bad value an error quotes.
SHOWN = 40

# Smallest memory of a node that runs Slurm: the kernel, munged (3.3 MB RSS measured), slurmd (5.3) or slurmctld
# (8.5) and one job; cmc.mvc.slurm's slurm_min_memory_mb and its RealMemory rule (memory - 64 - memory/16) agree.
SLURM_MIN_MEMORY_MB = 128
# Users' uids: Debian's range for dynamically allocated users (adduser's FIRST_UID..LAST_UID). Below is a system
# account; 60000-64999 are Debian's global allocations (slurm is 64030), 65534 is nobody.
UID_RANGE = (1000, 59999)


def _sizes_spec(vcpus: int, memory_mb: int, disk_gb: int) -> dict[str, t.Any]:
    return {"vcpus": {"type": "int", "default": vcpus}, "memory_mb": {"type": "int", "default": memory_mb},
            "disk_gb": {"type": "int", "default": disk_gb}}


# The request's fields as an argument spec: vcluster's ``request`` option and validate() both use it, so types and
# defaults are said once (and ansible-doc shows them). What a spec cannot say is in check().
OPTIONS: dict[str, t.Any] = {
    "name": {"type": "str", "required": True},
    "owner": {"type": "str"},
    "overlay": {"type": "dict", "apply_defaults": True, "options": {
        "subnet": {"type": "str"},
        "backend": {"type": "str", "choices": list(OVERLAY_BACKENDS), "default": "n2n"},
    }},
    "frontend": {"type": "dict", "apply_defaults": True,
                 "options": dict(_sizes_spec(1, 512, 4), site={"type": "str"})},
    "compute": {"type": "dict", "apply_defaults": True,
                "options": dict({"count": {"type": "int", "default": 0}}, **_sizes_spec(1, 256, 2))},
    "sites": {"type": "list", "elements": "str"},
    "placement": {"type": "raw", "default": "spread"},
    "os": {"type": "str", "default": "debian-12"},
    "packages": {"type": "list", "elements": "str", "default": []},
    "users": {"type": "list", "elements": "dict", "default": [], "options": {
        # name is checked in check(), which names the user's index (ansible-core's "required" does not).
        "name": {"type": "str"},
        "ssh_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
        "sudo": {"type": "bool", "default": False},
        "uid": {"type": "int"},
    }},
    "services": {"type": "dict", "apply_defaults": True, "options": {
        # No default: slurm or none, from the compute nodes (services_defaults()).
        "scheduler": {"type": "str", "choices": ["slurm", "none"]},
        "shared_home": {"type": "bool", "default": True},
        "mpi": {"type": "str", "choices": ["openmpi", "none"], "default": "openmpi"},
    }},
}


def argument_spec() -> dict[str, t.Any]:
    """The ``request`` option of a module (a copy: AnsibleModule must not share the nested dicts)."""
    return {"type": "dict", "required": True, "options": copy.deepcopy(OPTIONS)}


class Request(t.Dict[str, t.Any]):
    """A request as check() returned it: register() takes it without validating it again."""


# A bad request; ``field`` is the dotted path of the field at fault (``vcluster.compute.count``).
RequestError = FieldError


def shown(value: object) -> str:
    """A bad value as an error quotes it: its repr, cut to a short prefix."""
    text = repr(value)
    if len(text) <= SHOWN:
        return text
    return "%s... (%d characters)" % (text[:SHOWN], len(value) if isinstance(value, (str, list, dict)) else len(text))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: t.Any, field: str, minimum: int, maximum: int) -> int:
    # Strings of digits are accepted: values templated by Ansible can arrive as text.
    if isinstance(value, str) and INT_RE.fullmatch(value):
        value = int(value)
    if not _is_int(value) or value < minimum:
        raise RequestError(field, "must be an integer >= %d, got %s" % (minimum, shown(value)))
    if value > maximum:
        raise RequestError(field, "must be at most %d, got %d" % (maximum, value))
    return value


# ---------------------------------------------------------------------------------------------------
# Types and defaults from OPTIONS: validate() for callers without AnsibleModule, and RequestModule before
# AnsibleModule's own check. Stricter than AnsibleModule's conversions (no "yes" for true, no "a,b" for a list), as
# this validator always was, so that AnsibleModule never refuses what passed here.

_KINDS = {"dict": "a mapping", "list": "a list", "str": "a string", "bool": "true or false"}


def _convert(kind: str, value: t.Any, field: str) -> t.Any:
    if kind == "int":
        # Only the type here; check() gives the range, in the message that names it.
        if isinstance(value, str) and INT_RE.fullmatch(value):
            return int(value)
        if not isinstance(value, int):
            raise RequestError(field, "must be an integer, got %s" % shown(value))
        return value
    if kind == "raw" or isinstance(value, {"dict": dict, "list": list, "str": str, "bool": bool}[kind]):
        return value
    if kind == "bool":
        raise RequestError(field, "must be true or false, got %s" % shown(value))
    raise RequestError(field, "must be %s, got %s" % (_KINDS[kind], type(value).__name__))


def _apply(spec: t.Mapping[str, t.Any], value: t.Any, field: str) -> dict[str, t.Any]:
    value = _convert("dict", value, field)
    unknown = sorted(str(k) for k in value if k not in spec)
    if unknown:
        raise RequestError("%s.%s" % (field, unknown[0][:SHOWN]), "unknown key (known: %s)" % ", ".join(spec))
    out: dict[str, t.Any] = {}
    for key, opt in spec.items():
        sub = "%s.%s" % (field, key)
        item = value.get(key)
        if item is None and opt.get("apply_defaults"):
            item = {}
        if item is None:
            if opt.get("required"):
                raise RequestError(sub, "is required")
            out[key] = copy.deepcopy(opt.get("default"))
        elif opt["type"] == "list":
            items = _convert("list", item, sub)
            if len(items) > LIMITS["list"]:
                raise RequestError(sub, "at most %d items, got %d" % (LIMITS["list"], len(items)))
            elements = opt["elements"]
            out[key] = [_apply(opt["options"], x, "%s[%d]" % (sub, i)) if elements == "dict"
                        else _convert(elements, x, "%s[%d]" % (sub, i)) for i, x in enumerate(items)]
        elif "options" in opt:
            out[key] = _apply(opt["options"], item, sub)
        else:
            out[key] = _convert(opt["type"], item, sub)
            if "choices" in opt and out[key] not in opt["choices"]:
                raise RequestError(sub, "must be one of %s, got %s" % (", ".join(opt["choices"]), shown(out[key])))
    return out


def types(request: t.Any, prefix: str = "vcluster") -> dict[str, t.Any]:
    """The request with OPTIONS' types checked and its defaults applied, or RequestError naming the field."""
    return _apply(OPTIONS, request, prefix)


def validate(request: t.Any, known_sites: t.Iterable[str] | None = None, prefix: str = "vcluster") -> Request:
    """Return the normalized request, or raise RequestError naming the first field at fault.

    For callers without AnsibleModule: types and defaults from OPTIONS, then check().
    """
    return check(types(request, prefix), known_sites, prefix)


class RequestModule(AnsibleModule):
    """AnsibleModule for a module whose option ``request`` is argument_spec().

    types() checks the request before AnsibleModule's own check of the same spec, so that an error names the field
    as check()'s do (``vcluster.frontend``) and quotes a short prefix. ansible-core 2.19's nested check names no field
    for a string where a mapping is due, quotes a bad value whole, and raises TypeError (a traceback) for a number
    or a list where a mapping is due. What types() accepts, AnsibleModule accepts and only fills in."""

    def _load_params(self) -> None:
        super()._load_params()
        request = self.params.get("request")
        if request is not None:  # missing: AnsibleModule says it is required
            try:
                types(request)
            except RequestError as exc:
                # AnsibleModule has not collected its no_log values yet; the invocation must not show them.
                self.no_log_values.update(str(v) for k, v in self.params.items()
                                          if v is not None and self.argument_spec.get(k, {}).get("no_log"))
                self.fail_json(msg=str(exc), field=exc.field)


# ---------------------------------------------------------------------------------------------------
# What an argument spec cannot say: shapes, upper limits, fields that depend on each other.


def _str_list(value: list[t.Any], field: str, pattern: re.Pattern[str], limit: int = LIMITS["list"]) -> list[str]:
    if len(value) > limit:
        raise RequestError(field, "at most %d items, got %d" % (limit, len(value)))
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise RequestError("%s[%d]" % (field, i), "bad value %s" % shown(item))
        if item in out:
            raise RequestError("%s[%d]" % (field, i), "%s appears twice" % shown(item))
        out.append(item)
    return out


def validate_name(value: t.Any, field: str = "vcluster.name") -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise RequestError(field, "must match [a-z][a-z0-9-]{0,30} (lower case, start with a letter, at most 31 "
                                  "characters), got %s" % shown(value))
    return value


def _sizes(value: t.Mapping[str, t.Any], field: str) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    if "count" in value:
        out["count"] = _int(value["count"], field + ".count", 0, LIMITS["count"])
    out["vcpus"] = _int(value["vcpus"], field + ".vcpus", 1, LIMITS["vcpus"])
    out["memory_mb"] = _int(value["memory_mb"], field + ".memory_mb", 32, LIMITS["memory_mb"])
    out["disk_gb"] = _int(value["disk_gb"], field + ".disk_gb", 1, LIMITS["disk_gb"])
    if "site" in value:
        site = value["site"]
        if site is not None and (not isinstance(site, str) or not SITE_RE.fullmatch(site)):
            raise RequestError(field + ".site", "must be a site name, got %s" % shown(site))
        out["site"] = site
    return out


def _placement(placement: t.Any, out: t.Mapping[str, t.Any], prefix: str) -> t.Any:
    if isinstance(placement, dict):
        if len(placement) > LIMITS["list"]:
            raise RequestError(prefix + ".placement", "at most %d sites, got %d" % (LIMITS["list"], len(placement)))
        counts: dict[str, int] = {}
        for site, count in placement.items():
            if not isinstance(site, str) or not SITE_RE.fullmatch(site):
                raise RequestError(prefix + ".placement", "%s is not a site name" % shown(site))
            counts[site] = _int(count, "%s.placement.%s" % (prefix, site), 0, LIMITS["count"])
        if sum(counts.values()) != out["compute"]["count"]:
            raise RequestError(prefix + ".placement", "per-site counts add up to %d compute nodes, but compute.count "
                                                      "is %d" % (sum(counts.values()), out["compute"]["count"]))
        if out["sites"] is not None:
            extra = sorted(set(counts) - set(out["sites"]))
            if extra:
                raise RequestError("%s.placement.%s" % (prefix, extra[0]), "site is not in %s.sites" % prefix)
        return counts
    if placement not in PLACEMENTS:
        raise RequestError(prefix + ".placement", "must be spread, pack or a mapping of site to compute count, "
                                                  "got %s" % shown(placement))
    return placement


def _users(users: list[t.Any], prefix: str) -> list[dict[str, t.Any]]:
    if len(users) > LIMITS["list"]:
        raise RequestError(prefix + ".users", "at most %d items, got %d" % (LIMITS["list"], len(users)))
    out: list[dict[str, t.Any]] = []
    uids: dict[int, str] = {}
    for i, user in enumerate(users):
        field = "%s.users[%d]" % (prefix, i)
        if not isinstance(user.get("name"), str) or not USER_RE.fullmatch(user["name"]):
            raise RequestError(field + ".name", "must be a Unix user name, got %s" % shown(user.get("name")))
        if user["name"] in [u["name"] for u in out]:
            raise RequestError(field + ".name", "%s appears twice" % shown(user["name"]))
        keys = user["ssh_keys"]
        if len(keys) > LIMITS["ssh_keys"]:
            raise RequestError(field + ".ssh_keys", "at most %d items, got %d" % (LIMITS["ssh_keys"], len(keys)))
        for k, key in enumerate(keys):
            if not isinstance(key, str):
                raise RequestError("%s.ssh_keys[%d]" % (field, k), "bad value %s" % shown(key))
            if len(key) > LIMITS["ssh_key"]:
                raise RequestError("%s.ssh_keys[%d]" % (field, k), "at most %d characters, got %d"
                                   % (LIMITS["ssh_key"], len(key)))
            if not SSH_KEY_RE.fullmatch(key):
                raise RequestError("%s.ssh_keys[%d]" % (field, k), "is not an OpenSSH public key line")
            if key in keys[:k]:
                raise RequestError("%s.ssh_keys[%d]" % (field, k), "appears twice")
        if not isinstance(user["sudo"], bool):
            raise RequestError(field + ".sudo", "must be true or false, got %s" % shown(user["sudo"]))
        item = {"name": user["name"], "ssh_keys": list(keys), "sudo": user["sudo"]}
        # Left out when not given, so that the digest of a request without uids is what it was before uids.
        if user.get("uid") is not None:
            uid = item["uid"] = _int(user["uid"], field + ".uid", UID_RANGE[0], UID_RANGE[1])
            if uid in uids:
                raise RequestError(field + ".uid", "%d is also the uid of %s" % (uid, uids[uid]))
            uids[uid] = user["name"]
        out.append(item)
    return out


def overlay_backend(req: t.Mapping[str, t.Any]) -> str:
    """The overlay backend of a normalized request (n2n when it names none, as every request before backends)."""
    return str((req.get("overlay") or {}).get("backend") or "n2n")


def services_defaults(req: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The services of a request that names none: a Slurm cluster when its compute nodes can run Slurm.

    A request of compute nodes below SLURM_MIN_MEMORY_MB (valid before services existed) gets no scheduler
    rather than an error."""
    compute = req["compute"]
    slurm = compute["count"] > 0 and min(compute["memory_mb"], req["frontend"]["memory_mb"]) >= SLURM_MIN_MEMORY_MB
    out = dict((k, v.get("default")) for k, v in OPTIONS["services"]["options"].items())
    out["scheduler"] = "slurm" if slurm else "none"
    return out


def services(req: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The services of a normalized request (also of one stored before services existed)."""
    return dict(services_defaults(req), **req.get("services", {}))


def _services(given: t.Mapping[str, t.Any] | None, out: t.Mapping[str, t.Any], prefix: str) -> dict[str, t.Any]:
    field = prefix + ".services"
    wanted = dict(services_defaults(out))
    wanted.update((k, v) for k, v in (given or {}).items() if v is not None)
    if wanted["scheduler"] == "slurm":
        if out["compute"]["count"] == 0:
            raise RequestError(field + ".scheduler", "slurm needs at least one compute node, but compute.count is 0 "
                                                     "(give scheduler: none for a cluster of the frontend alone)")
        for role in ("frontend", "compute"):
            if out[role]["memory_mb"] < SLURM_MIN_MEMORY_MB:
                raise RequestError("%s.%s.memory_mb" % (prefix, role), "%d is below %d, what a node needs for the "
                                   "kernel, munge and Slurm's daemon with services.scheduler slurm"
                                   % (out[role]["memory_mb"], SLURM_MIN_MEMORY_MB))
    return wanted


def check(req: t.Mapping[str, t.Any], known_sites: t.Iterable[str] | None = None, prefix: str = "vcluster") -> Request:
    """What the argument spec cannot say, once: a request with OPTIONS' types and defaults (from AnsibleModule or
    validate()) -> the normalized request, or RequestError naming the first field at fault.

    ``known_sites``: when given, every site named in ``sites``, ``placement`` and ``frontend.site`` must be one.
    Subnet syntax and size are checked by the caller with _addressing (it knows the pool and node count).
    """
    out = Request(name=validate_name(req["name"], prefix + ".name"))
    owner = req["owner"]
    if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
        raise RequestError(prefix + ".owner", "must be a user name (letters, digits, _ . @ -; at most 64), got %s"
                           % shown(owner))
    out["owner"] = owner
    subnet = req["overlay"]["subnet"]
    if subnet is not None and (not isinstance(subnet, str) or len(subnet) > LIMITS["subnet"]):
        raise RequestError(prefix + ".overlay.subnet", "must be a CIDR string such as 10.200.1.0/24, got %s"
                           % shown(subnet))
    out["overlay"] = {"subnet": subnet}
    backend = req["overlay"].get("backend", "n2n")
    if backend not in OVERLAY_BACKENDS:
        raise RequestError(prefix + ".overlay.backend", "must be one of %s, got %s"
                           % (", ".join(OVERLAY_BACKENDS), shown(backend)))
    # Kept only when not n2n, as services below: the digest of every earlier request stays what it was.
    if backend != "n2n":
        out["overlay"]["backend"] = backend
    out["frontend"] = _sizes(req["frontend"], prefix + ".frontend")
    out["compute"] = _sizes(req["compute"], prefix + ".compute")
    sites = req["sites"]
    out["sites"] = None if sites is None else _str_list(sites, prefix + ".sites", SITE_RE)
    if sites is not None and not out["sites"]:
        raise RequestError(prefix + ".sites", "must name at least one site, or be left out for every known site")
    out["placement"] = _placement(req["placement"], out, prefix)
    os_name = req["os"]
    if not isinstance(os_name, str) or not OS_RE.fullmatch(os_name):
        raise RequestError(prefix + ".os", "must be an OS name such as debian-12, got %s" % shown(os_name))
    out["os"] = os_name
    out["packages"] = _str_list(req["packages"], prefix + ".packages", PACKAGE_RE)
    out["users"] = _users(req["users"], prefix)
    wanted = _services(req["services"], out, prefix)
    # Kept only when it differs from the defaults: the digest of a request that leaves services out (and of every
    # request stored before services existed) stays what it was, so a re-run does not report a change.
    if wanted != services_defaults(out):
        out["services"] = wanted
    if known_sites is not None:
        check_sites(out, known_sites, prefix)
    return out


def check_sites(req: t.Mapping[str, t.Any], known_sites: t.Iterable[str], prefix: str = "vcluster") -> None:
    """Every site the request names must be known (have VM containers)."""
    known = set(known_sites)
    hint = ", ".join(sorted(known)) or "none: give vm_containers"
    for i, site in enumerate(req["sites"] or []):
        if site not in known:
            raise RequestError("%s.sites[%d]" % (prefix, i), "unknown site %s (known: %s)" % (shown(site), hint))
    if isinstance(req["placement"], dict):
        for site in req["placement"]:
            if site not in known:
                raise RequestError("%s.placement.%s" % (prefix, site), "unknown site (known: %s)" % hint)
    site = req["frontend"]["site"]
    if site is not None:
        if site not in known:
            raise RequestError(prefix + ".frontend.site", "unknown site %s (known: %s)" % (shown(site), hint))
        if req["sites"] is not None and site not in req["sites"]:
            raise RequestError(prefix + ".frontend.site", "%s is not in %s.sites" % (shown(site), prefix))


def digest(req: object) -> str:
    """Stable SHA-256 of a normalized request."""
    return hashlib.sha256(canonical_json(req).encode()).hexdigest()


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
