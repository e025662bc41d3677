# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of a virtual cluster request (the ``vcluster`` structure of DESIGN.md "The request").

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

# Always used with fullmatch: "$" also matches before a final newline, and "evil\n" once got through.
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,30}")
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

DEFAULTS: dict[str, t.Any] = {
    "frontend": {"vcpus": 1, "memory_mb": 512, "disk_gb": 4},
    "compute": {"count": 0, "vcpus": 1, "memory_mb": 256, "disk_gb": 2},
    "os": "debian-12",
}
TOP_KEYS = ("name", "owner", "overlay", "frontend", "compute", "sites", "placement", "os", "packages", "users")


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


def _mapping(value: t.Any, field: str, allowed: tuple[str, ...]) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise RequestError(field, "must be a mapping, got %s" % type(value).__name__)
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise RequestError("%s.%s" % (field, unknown[0][:SHOWN]), "unknown key (known: %s)" % ", ".join(allowed))
    return value


def _sizes(value: t.Any, field: str, defaults: t.Mapping[str, t.Any], with_count: bool = False) -> dict[str, t.Any]:
    allowed = (("count",) if with_count else ()) + ("vcpus", "memory_mb", "disk_gb") + (() if with_count else ("site",))
    value = _mapping({} if value is None else value, field, allowed)
    out: dict[str, t.Any] = {}
    if with_count:
        out["count"] = _int(value.get("count", defaults["count"]), field + ".count", 0, LIMITS["count"])
    out["vcpus"] = _int(value.get("vcpus", defaults["vcpus"]), field + ".vcpus", 1, LIMITS["vcpus"])
    out["memory_mb"] = _int(value.get("memory_mb", defaults["memory_mb"]), field + ".memory_mb", 32,
                            LIMITS["memory_mb"])
    out["disk_gb"] = _int(value.get("disk_gb", defaults["disk_gb"]), field + ".disk_gb", 1, LIMITS["disk_gb"])
    if not with_count:
        site = value.get("site")
        if site is not None and (not isinstance(site, str) or not SITE_RE.fullmatch(site)):
            raise RequestError(field + ".site", "must be a site name, got %s" % shown(site))
        out["site"] = site
    return out


def _list(value: t.Any, field: str, limit: int = LIMITS["list"]) -> list[t.Any]:
    if not isinstance(value, list):
        raise RequestError(field, "must be a list, got %s" % type(value).__name__)
    if len(value) > limit:
        raise RequestError(field, "at most %d items, got %d" % (limit, len(value)))
    return value


def _str_list(value: t.Any, field: str, pattern: re.Pattern[str] | None = None, limit: int = LIMITS["list"]) -> list[str]:
    if value is None:
        return []
    out: list[str] = []
    for i, item in enumerate(_list(value, field, limit)):
        if not isinstance(item, str) or not item or (pattern and not pattern.fullmatch(item)):
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


def validate(request: t.Any, known_sites: t.Iterable[str] | None = None, prefix: str = "vcluster") -> dict[str, t.Any]:
    """Return the normalized request, or raise RequestError naming the first field at fault.

    ``known_sites``: when given, every site named in ``sites``, ``placement`` and ``frontend.site`` must be one.
    Subnet syntax and size are checked by the caller with _addressing (it knows the pool and node count).
    """
    req = _mapping(request, prefix, TOP_KEYS)
    out: dict[str, t.Any] = {"name": validate_name(req.get("name"), prefix + ".name")}
    owner = req.get("owner")
    if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
        raise RequestError(prefix + ".owner", "must be a user name (letters, digits, _ . @ -; at most 64), got %s"
                           % shown(owner))
    out["owner"] = owner
    overlay = _mapping({} if req.get("overlay") is None else req["overlay"], prefix + ".overlay", ("subnet",))
    subnet = overlay.get("subnet")
    if subnet is not None and (not isinstance(subnet, str) or len(subnet) > LIMITS["subnet"]):
        raise RequestError(prefix + ".overlay.subnet", "must be a CIDR string such as 10.200.1.0/24, got %s"
                           % shown(subnet))
    out["overlay"] = {"subnet": subnet}
    out["frontend"] = _sizes(req.get("frontend"), prefix + ".frontend", DEFAULTS["frontend"])
    out["compute"] = _sizes(req.get("compute"), prefix + ".compute", DEFAULTS["compute"], with_count=True)
    sites = req.get("sites")
    out["sites"] = None if sites is None else _str_list(sites, prefix + ".sites", SITE_RE)
    if sites is not None and not out["sites"]:
        raise RequestError(prefix + ".sites", "must name at least one site, or be left out for every known site")
    placement = req.get("placement", "spread")
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
        placement = counts
    elif placement not in PLACEMENTS:
        raise RequestError(prefix + ".placement", "must be spread, pack or a mapping of site to compute count, "
                                                  "got %s" % shown(placement))
    out["placement"] = placement
    os_name = req.get("os", DEFAULTS["os"])
    if not isinstance(os_name, str) or not OS_RE.fullmatch(os_name):
        raise RequestError(prefix + ".os", "must be an OS name such as debian-12, got %s" % shown(os_name))
    out["os"] = os_name
    out["packages"] = _str_list(req.get("packages"), prefix + ".packages", PACKAGE_RE)
    users = _list(req.get("users") or [], prefix + ".users")
    out["users"] = []
    for i, user in enumerate(users):
        field = "%s.users[%d]" % (prefix, i)
        user = _mapping(user, field, ("name", "ssh_keys", "sudo"))
        if not isinstance(user.get("name"), str) or not USER_RE.fullmatch(user["name"]):
            raise RequestError(field + ".name", "must be a Unix user name, got %s" % shown(user.get("name")))
        if user["name"] in [u["name"] for u in out["users"]]:
            raise RequestError(field + ".name", "%s appears twice" % shown(user["name"]))
        keys = _str_list(user.get("ssh_keys"), field + ".ssh_keys", limit=LIMITS["ssh_keys"])
        for k, key in enumerate(keys):
            if len(key) > LIMITS["ssh_key"]:
                raise RequestError("%s.ssh_keys[%d]" % (field, k), "at most %d characters, got %d"
                                   % (LIMITS["ssh_key"], len(key)))
            if not SSH_KEY_RE.fullmatch(key):
                raise RequestError("%s.ssh_keys[%d]" % (field, k), "is not an OpenSSH public key line")
        sudo = user.get("sudo", False)
        if not isinstance(sudo, bool):
            raise RequestError(field + ".sudo", "must be true or false, got %s" % shown(sudo))
        out["users"].append({"name": user["name"], "ssh_keys": keys, "sudo": sudo})
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
