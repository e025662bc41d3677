# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Over 400 lines: about 160 are its documentation; the code (parallel site reads, cache, hosts, jump hops) is one
# plugin, with the parsing in module_utils/_rocks.py.

from __future__ import annotations

DOCUMENTATION = r"""
name: rocks
short_description: Sites, hosts and VM containers from Rocks frontends
version_added: 0.1.0
description:
  - Asks each Rocks frontend, in parallel, for its hosts, interfaces, attributes, appliances and Xen/KVM
    guests by running C(rocks list host), C(list host interface), C(list host attr), C(list appliance) and
    C(list host vm showdisks=true) in one remote shell call (one SSH connection per frontend).
  - Builds groups per site (C(site_<name>)), per appliance (C(frontends), C(compute), C(vm_containers),
    C(hosted_vms), other appliances as C(appliance_<name>)) and per rack (C(rack_<site>_<n>)).
  - Sets hostvars for site, addresses, MAC, CPUs, memory, guests and free capacity, and C(ansible_host) with
    the SSH settings that reach private hosts through their frontend as jump host.
  - A private host gets C(ansible_ssh_common_args) with a C(ProxyCommand) through its frontend (nested when
    the frontend has a jump host) that uses the frontend's user, port and key, the host key setting and
    O(ssh_args) on every hop, so no C(~/.ssh/config) is needed. It also gets C(HostKeyAlias) set to its
    inventory name, so its host key is kept under that name and not under a private address that other
    sites share. The user and key on the private host itself come from the usual Ansible settings (for
    example C(ansible_user) in C(group_vars/site_<name>.yml)).
  - Every host reached over SSH gets an C(ansible_control_path) of its own (a hash of its inventory name and
    how it is reached), since Rocks sites share private addresses and Ansible's default control socket, named
    after address, port and user, would run one site's tasks on another site's host.
  - The inventory file name must end with C(rocks.yml) or C(rocks.yaml).
  - A frontend that cannot be reached, or whose answer cannot be parsed, is an error naming it. With
    O(on_frontend_error=warn) it is a warning and the whole site is left out. When the inventory cache holds
    an earlier answer of that frontend, the cached site is used instead, with a warning.
  - A single inconsistent row of an answer (a VM whose container C(rocks list host) does not list) does not
    fail the site. That row is left out with a warning naming the site and the host, and the rest of the
    site is used.
  - Ansible only warns when an inventory source fails and goes on with the other sources; set
    C(ANSIBLE_INVENTORY_UNPARSED_FAILED=true) (or C(inventory_unparsed_failed)) to make such an error fatal.
  - All data read from the frontends is marked unsafe.
  - Host memory and disk are not Rocks columns; they are read from the host attributes C(mvc_memory_mb)
    (or C(memory_mb)) and C(mvc_disk_gb) (or C(disk_gb)). Free memory also subtracts C(mvc_dom0_memory_mb)
    or C(Xen_Dom0MinMem).
author:
  - Cybermedia Center MVC team (@cmc-mvc)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [cmc.mvc.rocks]
  frontends:
    description: The Rocks frontends, one per site.
    type: list
    elements: dict
    required: true
    suboptions:
      site:
        description: Site name, used in group names and O(hostname_template). Letters, digits, C(_) and C(-).
        type: str
        required: true
      host:
        description: Address or name of the frontend for SSH. Ignored with O(frontends[].local=true).
        type: str
      user:
        description: SSH user.
        type: str
      port:
        description: SSH port.
        type: int
        default: 22
      private_key_file:
        description: SSH private key.
        type: path
      jump_host:
        description:
          - A jump host C([user@]host[:port]) to reach the frontend through. The same key and SSH options are
            used for it.
        type: str
      local:
        description: Run C(rocks) locally, when Ansible runs on the frontend itself.
        type: bool
        default: false
      rocks_command:
        description:
          - The rocks command on that frontend, a name found on C(PATH) (plus C(/opt/rocks/bin)) or a path.
          - It is split into words as a shell would, so it may carry a wrapper and arguments (for example
            V(sudo -n rocks)) and a path with spaces must be quoted. Each word is quoted again in the remote
            shell script, so shell syntax in it (a C(;), a command substitution, a redirection) is passed on as
            plain text and never run.
        type: str
        default: rocks
  use_json:
    description:
      - Ask for C(json=true) output (Rocks 6.2 updates and 7). Older releases ignore it and print text tables,
        which are parsed too.
    type: bool
    default: false
  hostname_template:
    description:
      - Inventory host name for a Rocks host. Rocks names repeat across sites (C(compute-0-0)), so the default
        adds the site. Fields are C({name}) and C({site}).
    type: str
    default: "{name}.{site}"
  include_guests:
    description: Also add the Rocks VMs (C(Hosted VM) guests of VM containers) as hosts in group C(hosted_vms).
    type: bool
    default: true
  extra_attrs:
    description: Further Rocks host attributes to return in the C(mvc_attrs) hostvar.
    type: list
    elements: str
    default: []
  on_frontend_error:
    description:
      - What to do when a frontend is down or gives a bad answer and no cached answer exists.
      - V(error) fails the inventory naming the frontend; V(warn) warns and leaves that whole site out.
    type: str
    choices: [error, warn]
    default: error
  host_key_checking:
    description: Check SSH host keys of frontends and jump hosts.
    type: bool
    default: true
    env:
      - name: ANSIBLE_HOST_KEY_CHECKING
  ssh_args:
    description: Further arguments for the C(ssh) command line of the queries.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for one frontend's answer.
    type: int
    default: 120
  max_workers:
    description: Frontends queried at once.
    type: int
    default: 16
"""

EXAMPLES = r"""
# sites.rocks.yml
plugin: cmc.mvc.rocks
frontends:
  - site: osaka
    host: rocks.osaka.example.org
    user: root
    private_key_file: ~/.ssh/id_ed25519
  - site: sdsc
    host: 10.0.0.5
    jump_host: admin@gw.sdsc.example.org:2222
  - site: here
    local: true
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/cmc-mvc-rocks
cache_timeout: 600
keyed_groups:
  - key: mvc_membership
    prefix: membership
groups:
  roomy: mvc_free is defined and mvc_free.cpus >= 8
"""

import concurrent.futures
import hashlib
import re
import shlex
import subprocess
import typing as t

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.cmc.mvc.plugins.module_utils import _rocks
from ansible_collections.cmc.mvc.plugins.plugin_utils._inventory import MVCInventoryBase
from ansible_collections.cmc.mvc.plugins.plugin_utils._ssh import proxy_command
from ansible_collections.cmc.mvc.plugins.plugin_utils._unsafe import make_unsafe

APPLIANCE_GROUPS = {"frontend": "frontends", "compute": "compute", "vm-container": "vm_containers",
                    "hosted-vm": "hosted_vms"}
_SITE_RE = re.compile(r"^[A-Za-z0-9_-]+$")

if t.TYPE_CHECKING:
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader

    # One ssh hop: (user or None, host, port or None).
    Hop = t.Tuple[t.Optional[str], str, t.Optional[int]]


class FrontendError(Exception):
    def __init__(self, site: str, message: str) -> None:
        super().__init__("Rocks frontend of site %s: %s" % (site, message))
        self.site = site


def _hop_options(fe: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> list[str]:
    """ssh options for the frontend and its jump host: batch mode, host key checking, key, ssh_args."""
    common = ["-o", "BatchMode=yes"]
    if not options["host_key_checking"]:
        common += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    if fe.get("private_key_file"):
        common += ["-i", fe["private_key_file"], "-o", "IdentitiesOnly=yes"]
    return common + list(options["ssh_args"])


def _proxy_command(hops: t.Iterable[Hop], common: t.Iterable[str]) -> str:
    """A ProxyCommand (shell command line) that reaches ssh's target through ``hops``, a list of
    (user, host, port), the one nearest the controller first; every hop gets the ``common`` options.

    Not ProxyJump: the ssh it starts for a hop gets no -i or -o options (only -F), hence nested
    ProxyCommands.
    """
    cmd = None
    for user, host, port in hops:
        argv = ["ssh"] + list(common) + ["-p", str(port or 22)] + (["-l", user] if user else [])
        if cmd is not None:
            argv += ["-o", "ProxyCommand=" + cmd]
        cmd = proxy_command(argv + [host])
    return t.cast(str, cmd)  # every caller gives at least one hop


def _ssh_base(fe: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> list[str]:
    """ssh argv (without the remote command) for frontend ``fe``, through its jump host if any."""
    common = _hop_options(fe, options)
    argv = ["ssh"] + common + ["-p", str(fe.get("port") or 22)]
    if fe.get("user"):
        argv += ["-l", fe["user"]]
    if fe.get("jump_host"):
        argv += ["-o", "ProxyCommand=" + _proxy_command([_split_hostspec(fe["jump_host"])], common)]
    return argv + [fe["host"]]


def _proxy_args(hops: t.Iterable[Hop], common: t.Iterable[str]) -> str:
    """ansible_ssh_common_args for a host behind ``hops`` (Ansible splits them with shlex)."""
    return "-o " + shlex.quote("ProxyCommand=" + _proxy_command(hops, common))


def _control_path(name: str, hv: t.Mapping[str, t.Any]) -> str:
    """A ControlPath of its own for inventory host ``name``: every Rocks site uses the same private subnet,
    so Ansible's default (keyed on address, port and user) would share one site's connection with another
    site's host of the same address. Hashed, as UNIX socket paths are limited to about 100 bytes."""
    reached = ("ansible_host", "ansible_port", "ansible_user", "ansible_ssh_common_args")
    fields = [name] + [str(hv.get(k) or "") for k in reached]
    digest = hashlib.sha256("\0".join(fields).encode("utf-8")).hexdigest()[:16]
    return "%%(directory)s/%s-%%%%r" % digest


def _split_hostspec(spec: str) -> Hop:
    user = port = None
    if "@" in spec:
        user, spec = spec.rsplit("@", 1)
    if spec.startswith("["):
        host, dummy, rest = spec[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    else:
        host = spec
    return user, host, int(port) if port else None


def query_frontend(fe: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Run every rocks list command on one frontend in one shell call; return the parsed tables."""
    site = fe["site"]
    script = _rocks.remote_script(fe.get("rocks_command") or "rocks", options["use_json"],
                                  attr_filter=None if options["use_json"] else options["attr_names"])
    argv = ["sh", "-s"] if fe.get("local") else _ssh_base(fe, options) + ["sh", "-s"]
    try:
        proc = subprocess.run(argv, input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=options["timeout"], check=False)
    except subprocess.TimeoutExpired:
        raise FrontendError(site, "no answer within %s seconds" % options["timeout"])
    except OSError as exc:
        raise FrontendError(site, "cannot run %s: %s" % (argv[0], exc))
    out = to_text(proc.stdout, errors="surrogate_or_strict")
    sections = _rocks.split_marked(out)
    if proc.returncode != 0 or len(sections) != len(_rocks.COMMANDS):
        err = to_text(proc.stderr, errors="surrogate_or_strict").strip()
        where = "local shell" if fe.get("local") else "ssh to %s" % fe.get("host")
        raise FrontendError(site, "%s failed (exit %s)%s" % (where, proc.returncode, (": " + err[-500:]) if err else ""))
    try:
        return _rocks.build_site(site, _rocks.parse_sections(sections))
    except _rocks.RocksError as exc:
        raise FrontendError(site, "bad answer: %s" % exc)


class InventoryModule(MVCInventoryBase):
    NAME = "cmc.mvc.rocks"
    FILE_SUFFIXES = ("rocks.yml", "rocks.yaml")

    def _frontends(self) -> list[dict[str, t.Any]]:
        out = []
        seen = set()
        for i, fe in enumerate(self.get_option("frontends") or []):
            if not isinstance(fe, dict):
                raise AnsibleParserError("frontends[%d] must be a mapping" % i)
            fe = dict(fe)
            site = fe.get("site")
            if not site or not _SITE_RE.fullmatch(str(site)):
                raise AnsibleParserError("frontends[%d].site must be letters, digits, _ or -, got %r" % (i, site))
            if site in seen:
                raise AnsibleParserError("frontends[%d].site %s appears twice" % (i, site))
            seen.add(site)
            unknown = set(fe) - {"site", "host", "user", "port", "private_key_file", "jump_host", "local",
                                 "rocks_command"}
            if unknown:
                raise AnsibleParserError("frontends[%d] (site %s): unknown keys %s" % (i, site, ", ".join(sorted(unknown))))
            if fe.get("rocks_command") is not None:
                try:
                    _rocks.command_words(fe["rocks_command"])
                except _rocks.RocksError as exc:
                    raise AnsibleParserError("frontends[%d] (site %s): %s" % (i, site, exc))
            if not fe.get("local") and not fe.get("host"):
                raise AnsibleParserError("frontends[%d] (site %s) needs host, or local: true" % (i, site))
            out.append(fe)
        if not out:
            raise AnsibleParserError("frontends is empty")
        return out

    def _query_all(self, frontends: list[dict[str, t.Any]]
                   ) -> tuple[dict[str, dict[str, t.Any]], dict[str, FrontendError]]:
        options = {
            "use_json": self.get_option("use_json"),
            "host_key_checking": self.get_option("host_key_checking"),
            "ssh_args": self.get_option("ssh_args") or [],
            "timeout": self.get_option("timeout"),
            "attr_names": _rocks.MODEL_ATTRS + tuple(self.get_option("extra_attrs") or ()),
        }
        results: dict[str, dict[str, t.Any]] = {}
        errors: dict[str, FrontendError] = {}
        workers = max(1, min(self.get_option("max_workers"), len(frontends)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = dict((pool.submit(query_frontend, fe, options), fe["site"]) for fe in frontends)
            for fut in concurrent.futures.as_completed(futures):
                site = futures[fut]
                try:
                    results[site] = fut.result()
                except FrontendError as exc:
                    errors[site] = exc
        return results, errors

    def parse(self, inventory: InventoryData, loader: DataLoader, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        frontends = self._frontends()
        sites = None
        cached = self._cached(cache)
        if isinstance(cached, dict) and all(fe["site"] in cached for fe in frontends):
            sites = cached
        if sites is None:
            sites, errors = self._query_all(frontends)
            old = None
            for site in sorted(errors):
                if self._use_cache:
                    if old is None:
                        old = self._cache_lookup({})
                    if isinstance(old, dict) and site in old:
                        self.display.warning("%s; using the cached answer of that site" % to_native(errors[site]))
                        sites[site] = old[site]
                        continue
                if self.get_option("on_frontend_error") == "warn":
                    self.display.warning("%s; site %s left out of the inventory" % (to_native(errors[site]), site))
                    continue
                raise AnsibleError(to_native(errors[site]))
            self._cache_store(sites)
        for fe in frontends:
            if fe["site"] in sites:
                # Kept in the (cached) model: a cached site still lacks those rows, so it warns again.
                for message in sites[fe["site"]].get("warnings") or ():
                    self.display.warning("Rocks frontend of %s" % message)
                self._populate_site(fe, sites[fe["site"]])

    def _populate_site(self, fe: t.Mapping[str, t.Any], model: t.Mapping[str, t.Any]) -> None:
        inv = self.inventory
        site = fe["site"]
        template = self.get_option("hostname_template")
        include_guests = self.get_option("include_guests")
        strict = self.get_option("strict")
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed = self.get_option("keyed_groups")
        extra = self.get_option("extra_attrs") or []
        site_group = inv.add_group("site_%s" % site)
        hosts = model["hosts"]
        names = dict((n, template.format(name=n, site=site)) for n in hosts)
        fe_name = model.get("frontend")
        fe_inv = names.get(fe_name) if fe_name else None
        # How later plays reach the hosts: the frontend directly (or through its jump host), the others
        # by private address through the frontend, with the frontend's key, port and options on every hop.
        hops = [_split_hostspec(fe["jump_host"])] if fe.get("jump_host") else []
        hop_options = _hop_options(fe, {"host_key_checking": self.get_option("host_key_checking"),
                                        "ssh_args": self.get_option("ssh_args") or []})
        fe_args = _proxy_args(hops, hop_options) if hops else None
        if not fe.get("local"):
            private_args = _proxy_args(hops + [(fe.get("user"), fe["host"], fe.get("port"))], hop_options)
        else:
            private_args = None
        made: dict[str, str] = {}
        for group in APPLIANCE_GROUPS.values():
            made[group] = inv.add_group(group)
        for rname, h in hosts.items():
            appliance = h.get("appliance") or "unknown"
            if appliance == "hosted-vm" and not include_guests:
                continue
            name = inv.add_host(names[rname], group=site_group)
            group = APPLIANCE_GROUPS.get(appliance) or "appliance_%s" % re.sub(r"[^A-Za-z0-9_]", "_", appliance)
            if group not in made:
                made[group] = inv.add_group(group)
            inv.add_child(group, name)
            if h.get("rack") is not None and appliance not in ("frontend", "hosted-vm"):
                rg = "rack_%s_%s" % (site, h["rack"])
                if rg not in made:
                    made[rg] = inv.add_group(rg)
                inv.add_child(rg, name)
            hv = {
                "mvc_site": site,
                "mvc_rocks_name": rname,
                "mvc_frontend": fe_inv,
                "mvc_appliance": appliance,
                "mvc_membership": h.get("membership"),
                "mvc_rack": h.get("rack"),
                "mvc_rank": h.get("rank"),
                "mvc_cpus": h.get("cpus"),
                "mvc_memory_mb": h.get("memory_mb"),
                "mvc_disk_gb": h.get("disk_gb"),
                "mvc_private_ip": h.get("private_ip"),
                "mvc_public_ip": h.get("public_ip"),
                "mvc_mac": h.get("private_mac"),
                "mvc_public_mac": h.get("public_mac"),
                "mvc_vlans": h.get("vlans") or [],
            }
            if "free" in h:
                hv["mvc_guests"] = [names.get(g, g) for g in h.get("guests", [])]
                hv["mvc_free"] = h["free"]
            if "vm" in h:
                hv["mvc_container"] = names.get(h["vm"]["container"])
                hv["mvc_vm"] = h["vm"]
            if extra:
                hv["mvc_attrs"] = dict((k, h["attrs"][k]) for k in extra if k in h["attrs"])
            if rname == fe_name:
                if fe.get("local"):
                    hv["ansible_connection"] = "local"
                else:
                    hv["ansible_host"] = fe["host"]
                    if fe.get("port"):
                        hv["ansible_port"] = fe["port"]
                    if fe.get("user"):
                        hv["ansible_user"] = fe["user"]
                    if fe.get("private_key_file"):
                        hv["ansible_ssh_private_key_file"] = fe["private_key_file"]
                    if fe_args:
                        hv["ansible_ssh_common_args"] = fe_args
            elif h.get("private_ip"):
                hv["ansible_host"] = h["private_ip"]
                if private_args:
                    # Host keys under the inventory name: known_hosts keyed on the shared private address
                    # would refuse every other site's host at that address as a changed key.
                    hv["ansible_ssh_common_args"] = "-o HostKeyAlias=%s %s" % (shlex.quote(name), private_args)
            if "ansible_host" in hv:
                hv["ansible_control_path"] = _control_path(name, hv)
            hv = make_unsafe(hv)
            for k, v in hv.items():
                inv.set_variable(name, k, v)
            if compose or groups or keyed:
                self._set_composite_vars(compose, hv, name, strict=strict)
                self._add_host_to_composed_groups(groups, hv, name, strict=strict)
                self._add_host_to_keyed_groups(keyed, hv, name, strict=strict)
