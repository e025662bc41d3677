# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MVC database (SQLAlchemy Core 2): schema, forward migrations, and the registration of virtual clusters.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Concurrency: every writing transaction first locks the single row of ``mvc_meta`` (``SELECT ... FOR UPDATE``
on PostgreSQL and MariaDB; ``BEGIN IMMEDIATE`` on SQLite), so allocations are serialized and the overlap
check of subnets (which no portable constraint can express) sees every committed cluster. The unique
constraints on names, MACs, overlay IPs, subnets and communities hold even without that lock; an
IntegrityError or a deadlock makes the whole transaction retry a bounded number of times.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import re
import secrets
import time
import traceback

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
except ImportError:  # pragma: no cover - reported by the caller through missing_required_lib
    HAS_SQLALCHEMY = False
    SQLALCHEMY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_SQLALCHEMY = True
    SQLALCHEMY_IMPORT_ERROR = None

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr
from ansible_collections.cmc.mvc.plugins.module_utils import _n2n
from ansible_collections.cmc.mvc.plugins.module_utils import _placement
from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.module_utils import _secrets
from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

SCHEMA_VERSION = 1
DEFAULT_SQLITE = "~/.local/share/cmc-mvc/mvc.sqlite"
DEFAULT_POOL = "10.200.0.0/16"
DEFAULT_PREFIX = 24
NODE_STATUSES = ("planned", "deployed", "failed")
RETRIES = 8
COMMUNITY_MAX = 16  # N2N v1 COMMUNITY_SIZE


def database_argument_spec():
    """The options every module on the MVC database takes (documented in each module)."""
    from ansible.module_utils.basic import env_fallback
    return dict(
        database=dict(type="str", fallback=(env_fallback, ["CMC_MVC_DATABASE"])),
        database_password=dict(type="str", no_log=True, fallback=(env_fallback, ["CMC_MVC_DATABASE_PASSWORD"])),
        encryption_key=dict(type="str", no_log=True, fallback=(
            env_fallback, ["CMC_MVC_DATABASE_ENCRYPTION_KEY", "MVC_DB_ENCRYPTION_KEY"])),
    )


def fail_without_libraries(module):
    """Fail ``module`` plainly when SQLAlchemy or netaddr is missing on the host it runs on."""
    from ansible.module_utils.basic import missing_required_lib
    if not HAS_SQLALCHEMY:
        module.fail_json(msg=missing_required_lib("sqlalchemy"), exception=SQLALCHEMY_IMPORT_ERROR)
    if not addr.HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=addr.NETADDR_IMPORT_ERROR)
    if module.params.get("encryption_key") and not _secrets.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=_secrets.CRYPTOGRAPHY_IMPORT_ERROR)


class DBError(Exception):
    """A database problem, with any password already masked."""


class InputError(FieldError):
    """Bad module input that is not part of the request (vm_containers, overlay_pool ...)."""


if HAS_SQLALCHEMY:
    metadata = sa.MetaData()
    T_META = sa.Table(
        "mvc_meta", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
    )
    T_SITES = sa.Table(
        "mvc_sites", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
    )
    T_HOSTS = sa.Table(
        "mvc_hosts", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),  # inventory hostname of the VM container
        sa.Column("site_id", sa.Integer, sa.ForeignKey("mvc_sites.id"), nullable=False),
        sa.Column("rocks_name", sa.String(255)),
        sa.Column("private_ip", sa.String(45)),
        # Free capacity as the site reports it (Rocks' own guests already taken off); MVC nodes come off it.
        sa.Column("cpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("disk_gb", sa.Integer, nullable=False),
    )
    T_CLUSTERS = sa.Table(
        "mvc_clusters", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(31), nullable=False, unique=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("community", sa.String(COMMUNITY_MAX), nullable=False, unique=True),
        sa.Column("n2n_key", sa.String(128), nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    T_SUBNETS = sa.Table(
        "mvc_overlay_subnets", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("mvc_clusters.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("subnet", sa.String(18), nullable=False, unique=True),
        sa.Column("first_ip", sa.BigInteger, nullable=False, unique=True),
        sa.Column("last_ip", sa.BigInteger, nullable=False),
        sa.CheckConstraint("last_ip >= first_ip", name="mvc_overlay_subnets_range"),
    )
    T_NODES = sa.Table(
        "mvc_nodes", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("mvc_clusters.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("mvc_hosts.id"), nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("disk_gb", sa.Integer, nullable=False),
        sa.Column("mac", sa.String(17), nullable=False, unique=True),
        sa.Column("overlay_ip", sa.String(15), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.UniqueConstraint("cluster_id", "role", "idx", name="mvc_nodes_cluster_role_idx"),
        sa.CheckConstraint("vcpus > 0 AND memory_mb > 0 AND disk_gb > 0", name="mvc_nodes_sizes"),
    )
    # One N2N edge per (cluster, Dom0): its TAP address comes from the top of the cluster's subnet.
    T_EDGES = sa.Table(
        "mvc_edges", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("mvc_clusters.id", ondelete="CASCADE"), nullable=False),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("mvc_hosts.id"), nullable=False),
        sa.Column("overlay_ip", sa.String(15), nullable=False, unique=True),
        sa.UniqueConstraint("cluster_id", "host_id", name="mvc_edges_cluster_host"),
    )
    # Every overlay address in use, of nodes and edges alike: one unique constraint across both.
    T_ADDRESSES = sa.Table(
        "mvc_overlay_addresses", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("mvc_clusters.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ip", sa.String(15), nullable=False, unique=True),
    )
    V1_TABLES = [T_META, T_SITES, T_HOSTS, T_CLUSTERS, T_SUBNETS, T_NODES, T_EDGES, T_ADDRESSES]


def _migrate_v1(conn):
    metadata.create_all(conn, tables=V1_TABLES)


# Forward migrations, applied in order; entry N brings the schema from version N to N+1. A later
# migration alters tables with DDL of its own; it never edits an earlier entry.
MIGRATIONS = [_migrate_v1]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def natural_key(text):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


# ---------------------------------------------------------------------------------------------------
# Connection


def make_url(database, password=None):
    """SQLAlchemy URL for ``database``: a URL, or a path of an SQLite file."""
    database = database or DEFAULT_SQLITE
    if "://" in database:
        try:
            url = sa.engine.make_url(database)
        except sa_exc.ArgumentError as exc:
            raise InputError("database", "not a database URL: %s" % _mask(str(exc), database))
        drivers = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
                   "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
        if url.drivername in drivers:
            url = url.set(drivername=drivers[url.drivername])
        if url.get_backend_name() not in ("sqlite", "postgresql", "mysql", "mariadb"):
            raise InputError("database", "unsupported database %r (sqlite, postgresql, mysql/mariadb)"
                             % url.get_backend_name())
    else:
        url = sa.engine.URL.create("sqlite", database=os.path.abspath(os.path.expanduser(database)))
    if password:
        url = url.set(password=password)
    return url


def _mask(text, *secrets_):
    for s in secrets_:
        if s:
            text = text.replace(s, "********")
    return text


def masked_url(url):
    return url.render_as_string(hide_password=True)


class Database:
    """An engine on the MVC database. ``readonly`` connections never take write locks."""

    def __init__(self, database=None, password=None, readonly=False, create=True):
        self.url = make_url(database, password)
        self.password = self.url.password
        self.safe_url = masked_url(self.url)
        self.backend = self.url.get_backend_name()
        self.readonly = readonly
        kwargs = {"poolclass": sa.pool.NullPool}
        if self.backend == "sqlite":
            path = self.url.database
            self.path = path
            if path and path != ":memory:" and not os.path.exists(path):
                if not create:
                    raise DBError("database %s does not exist" % path)
                parent = os.path.dirname(path)
                if parent and not os.path.isdir(parent):
                    os.makedirs(parent, 0o700, exist_ok=True)
                # Created 0600 up front: SQLite itself would follow the umask. Its journals copy this mode.
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                except FileExistsError:
                    pass  # another process was first
            kwargs["connect_args"] = {"timeout": 60}
        else:
            self.path = None
            kwargs["isolation_level"] = "READ COMMITTED"
            kwargs["connect_args"] = {"connect_timeout": 15}
            if self.backend in ("mysql", "mariadb"):
                kwargs["connect_args"]["charset"] = "utf8mb4"
        self.engine = sa.create_engine(self.url, **kwargs)
        if self.backend == "sqlite":
            sa.event.listen(self.engine, "connect", self._sqlite_connect)
            sa.event.listen(self.engine, "begin", self._sqlite_begin)

    @staticmethod
    def _sqlite_connect(dbapi_conn, _record):
        # pysqlite's own transaction handling is off, so that "begin" below decides how to begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    def _sqlite_begin(self, conn):
        conn.exec_driver_sql("BEGIN" if self.readonly else "BEGIN IMMEDIATE")

    def error(self, exc):
        """DBError for a driver exception, with the password masked."""
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return DBError(_mask("%s: %s" % (self.safe_url, text[0] if text else type(exc).__name__), self.password))

    def dispose(self):
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------------

    def version(self, conn):
        if not sa.inspect(conn).has_table("mvc_meta"):
            return 0
        row = conn.execute(sa.select(T_META.c.schema_version).where(T_META.c.id == 1)).first()
        return row[0] if row else 0

    def current_version(self):
        try:
            with self.engine.connect() as conn:
                return self.version(conn)
        except sa_exc.SQLAlchemyError as exc:
            raise self.error(exc)

    def migrate(self):
        """Apply the forward migrations that the database lacks. Returns (from, to)."""
        try:
            with self.engine.connect() as conn:
                got = None
                if self.backend in ("mysql", "mariadb"):
                    # DDL commits implicitly here, so a session lock serializes migrating processes.
                    got = conn.execute(sa.text("SELECT GET_LOCK('cmc_mvc_migrate', 60)")).scalar()
                    conn.commit()
                    if got != 1:
                        raise DBError("%s: timed out waiting for another process migrating the schema" % self.safe_url)
                try:
                    with conn.begin():
                        if self.backend == "postgresql":
                            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7306251)"))
                        start = self.version(conn)
                        if start > SCHEMA_VERSION:
                            raise DBError("%s has schema version %d; this collection knows up to %d"
                                          % (self.safe_url, start, SCHEMA_VERSION))
                        for version in range(start, SCHEMA_VERSION):
                            MIGRATIONS[version](conn)
                            if version == 0:
                                conn.execute(T_META.insert().values(id=1, schema_version=1))
                            else:
                                conn.execute(T_META.update().where(T_META.c.id == 1).values(schema_version=version + 1))
                finally:
                    if got == 1:
                        conn.execute(sa.text("SELECT RELEASE_LOCK('cmc_mvc_migrate')"))
                        conn.commit()
        except sa_exc.SQLAlchemyError as exc:
            raise self.error(exc)
        return start, SCHEMA_VERSION

    # -- transactions -----------------------------------------------------------------------------------

    def run(self, fn, check_mode=False, retries=RETRIES):
        """Run ``fn(conn)`` in one transaction, serialized by the meta-row lock; commit unless ``check_mode``.

        IntegrityError and deadlocks (another writer won a race) retry the whole transaction; any other
        error rolls it back and leaves the database as it was.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.engine.connect() as conn:
                    trans = conn.begin()
                    try:
                        if not self.readonly:
                            conn.execute(sa.select(T_META.c.id).where(T_META.c.id == 1).with_for_update())
                        result = fn(conn)
                        if check_mode or self.readonly:
                            trans.rollback()
                        else:
                            trans.commit()
                        return result
                    except BaseException:
                        if trans.is_active:
                            trans.rollback()
                        raise
            except (sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
                if attempt >= retries or not _retryable(exc):
                    raise self.error(exc)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
            except sa_exc.SQLAlchemyError as exc:
                raise self.error(exc)


def _retryable(exc):
    if isinstance(exc, sa_exc.IntegrityError):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "args", [None])[0]
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return (code in (1205, 1213) or sqlstate in ("40001", "40P01")
            or "deadlock" in text or "database is locked" in text or "could not serialize" in text)


# ---------------------------------------------------------------------------------------------------
# Input besides the request


def normalize_containers(containers, field="vm_containers", vcpus_per_cpu=1):
    """VM containers from Rocks inventory hostvars -> [{name, site, rocks_name, private_ip, cpus, memory_mb, disk_gb}].

    ``cpus`` is the vCPUs that domains may have there: free CPUs times ``vcpus_per_cpu``."""
    if containers is None:
        return None
    if isinstance(vcpus_per_cpu, bool) or not isinstance(vcpus_per_cpu, int) or vcpus_per_cpu < 1:
        raise InputError("vcpus_per_cpu", "must be a whole number of at least 1, got %r" % (vcpus_per_cpu,))
    if not isinstance(containers, list):
        raise InputError(field, "must be a list of hostvars of VM containers")
    out = []
    seen = set()
    for i, hv in enumerate(containers):
        where = "%s[%d]" % (field, i)
        if not isinstance(hv, dict):
            raise InputError(where, "must be a mapping (hostvars of one VM container)")
        name = hv.get("inventory_hostname") or hv.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(where, "has no inventory_hostname (or name)")
        where = "%s[%d] (%s)" % (field, i, name)
        if name in seen:
            raise InputError(where, "appears twice")
        seen.add(name)
        if hv.get("mvc_appliance") not in (None, "vm-container"):
            raise InputError(where + ".mvc_appliance", "is %r, not a VM container" % hv["mvc_appliance"])
        site = hv.get("mvc_site")
        if not isinstance(site, str) or not _request.SITE_RE.fullmatch(site):
            raise InputError(where + ".mvc_site", "must be a site name, got %r" % (site,))
        free = hv.get("mvc_free")
        if not isinstance(free, dict):
            raise InputError(where + ".mvc_free", "missing: give the hostvars of a VM container from cmc.mvc.rocks")
        item = {"name": name, "site": site, "rocks_name": hv.get("mvc_rocks_name"),
                "private_ip": hv.get("mvc_private_ip")}
        for key, attr in (("cpus", "cpus"), ("memory_mb", "memory_mb"), ("disk_gb", "disk_gb")):
            value = free.get(attr)
            if isinstance(value, str) and value.lstrip("-").isdigit():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                hint = {"memory_mb": "mvc_memory_mb", "disk_gb": "mvc_disk_gb", "cpus": "the CPUs column"}[key]
                raise InputError("%s.mvc_free.%s" % (where, attr), "unknown (%r); set the Rocks host attribute %s"
                                 % (value, hint))
            item[key] = value * vcpus_per_cpu if key == "cpus" else value
        out.append(item)
    return out


def community_for(name, taken):
    """N2N community for cluster ``name``: the name itself when it fits in 16 characters and is free."""
    if len(name) <= COMMUNITY_MAX and name not in taken:
        return name
    for _i in range(100):
        cand = "%s-%s" % (name[:COMMUNITY_MAX - 5], secrets.token_hex(2))
        if cand not in taken:
            return cand
    raise InputError("vcluster.name", "no free N2N community found")


def node_name(cluster, role, idx):
    return "%s-frontend" % cluster if role == "frontend" else "%s-compute-%d" % (cluster, idx)


# ---------------------------------------------------------------------------------------------------
# Reads


def _hosts(conn):
    rows = conn.execute(sa.select(T_HOSTS, T_SITES.c.name.label("site")).join(
        T_SITES, T_SITES.c.id == T_HOSTS.c.site_id)).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda h: (h["site"], natural_key(h["name"])))


def _cluster_row(conn, name):
    row = conn.execute(sa.select(T_CLUSTERS, T_SUBNETS.c.subnet).join(
        T_SUBNETS, T_SUBNETS.c.cluster_id == T_CLUSTERS.c.id, isouter=True).where(
        T_CLUSTERS.c.name == name)).mappings().first()
    return dict(row) if row else None


def _nodes(conn, cluster_ids=None):
    q = sa.select(T_NODES, T_HOSTS.c.name.label("dom0"), T_SITES.c.name.label("site")).join(
        T_HOSTS, T_HOSTS.c.id == T_NODES.c.host_id).join(T_SITES, T_SITES.c.id == T_HOSTS.c.site_id)
    if cluster_ids is not None:
        q = q.where(T_NODES.c.cluster_id.in_(cluster_ids))
    return [dict(r) for r in conn.execute(q).mappings()]


def _edges(conn, cluster_id):
    q = sa.select(T_EDGES, T_HOSTS.c.name.label("dom0"), T_SITES.c.name.label("site")).join(
        T_HOSTS, T_HOSTS.c.id == T_EDGES.c.host_id).join(T_SITES, T_SITES.c.id == T_HOSTS.c.site_id).where(
        T_EDGES.c.cluster_id == cluster_id)
    return [dict(r) for r in conn.execute(q).mappings()]


def _plan(cluster, nodes, edges, with_key=False):
    """The plan as returned to playbooks (the key only when asked for)."""
    req = json.loads(cluster["request_json"])
    net = addr.parse_subnet(cluster["subnet"])
    out = {
        "cluster": {
            "name": cluster["name"], "owner": cluster["owner"], "subnet": str(net.cidr),
            "netmask": str(net.netmask), "prefix": net.prefixlen, "community": cluster["community"],
            "bridge": _n2n.ifname("mvc-", cluster["name"]), "status": cluster["status"], "os": req["os"],
            "packages": req["packages"], "users": req["users"], "placement": req["placement"],
            "sites": sorted(set(n["site"] for n in nodes)), "request_digest": cluster["request_digest"],
        },
        "nodes": [dict([(k, n[k]) for k in ("name", "role", "site", "dom0", "mac", "overlay_ip", "vcpus",
                                            "memory_mb", "disk_gb", "status")], index=n["idx"],
                       overlay_prefix=net.prefixlen)
                  for n in sorted(nodes, key=lambda n: (n["role"] != "frontend", n["idx"]))],
        "edges": [{"dom0": e["dom0"], "site": e["site"], "overlay_ip": e["overlay_ip"], "overlay_prefix": net.prefixlen}
                  for e in sorted(edges, key=lambda e: natural_key(e["dom0"]))],
    }
    if with_key:
        out["n2n_key"] = cluster["n2n_key"]
    return out


def read_clusters(conn, names=None):
    """Every registered cluster's plan (never the key), for the inventory plugin."""
    q = sa.select(T_CLUSTERS.c.id, T_CLUSTERS.c.name, T_CLUSTERS.c.owner, T_CLUSTERS.c.community,
                  T_CLUSTERS.c.request_json, T_CLUSTERS.c.request_digest, T_CLUSTERS.c.status,
                  T_SUBNETS.c.subnet).join(T_SUBNETS, T_SUBNETS.c.cluster_id == T_CLUSTERS.c.id)
    if names:
        q = q.where(T_CLUSTERS.c.name.in_(list(names)))
    clusters = [dict(r, n2n_key=None) for r in conn.execute(q.order_by(T_CLUSTERS.c.name)).mappings()]
    nodes = _nodes(conn, [c["id"] for c in clusters]) if clusters else []
    out = []
    for c in clusters:
        p = _plan(c, [n for n in nodes if n["cluster_id"] == c["id"]], _edges(conn, c["id"]))
        out.append(p)
    return out


# ---------------------------------------------------------------------------------------------------
# Registration


def _upsert_hosts(conn, containers):
    """Store the VM containers and their free capacity; returns True when a row changed."""
    changed = False
    sites = dict((r.name, r.id) for r in conn.execute(sa.select(T_SITES.c.name, T_SITES.c.id)))
    current = dict((h["name"], h) for h in _hosts(conn))
    for c in containers:
        if c["site"] not in sites:
            sites[c["site"]] = conn.execute(T_SITES.insert().values(name=c["site"])).inserted_primary_key[0]
            changed = True
        values = {"site_id": sites[c["site"]], "rocks_name": c["rocks_name"], "private_ip": c["private_ip"],
                  "cpus": c["cpus"], "memory_mb": c["memory_mb"], "disk_gb": c["disk_gb"]}
        old = current.get(c["name"])
        if old is None:
            conn.execute(T_HOSTS.insert().values(name=c["name"], **values))
            changed = True
        elif any(old[k] != v for k, v in values.items()):
            conn.execute(T_HOSTS.update().where(T_HOSTS.c.id == old["id"]).values(**values))
            changed = True
    return changed


def _used_subnets(conn, exclude_cluster_id=None):
    q = sa.select(T_SUBNETS.c.subnet, T_SUBNETS.c.cluster_id)
    return [addr.netaddr.IPNetwork(r.subnet) for r in conn.execute(q) if r.cluster_id != exclude_cluster_id]


def _choose_subnet(conn, req, old, pool, prefix, needed, at_most):
    """The cluster's subnet: its registered one, the request's, or a free pool block sized for ``at_most``."""
    field = "vcluster.overlay.subnet"
    if old is not None:
        net = addr.parse_subnet(old["subnet"])
        if req["overlay"]["subnet"] is not None and addr.parse_subnet(req["overlay"]["subnet"], field) != net:
            raise _request.RequestError(field, "cluster %s is registered with %s; remove it (state=absent) to change "
                                               "its subnet" % (req["name"], net))
        if addr.usable_hosts(net) < needed:
            raise _request.RequestError("vcluster.compute.count", "subnet %s holds %d addresses; the cluster needs %d"
                                        % (net, addr.usable_hosts(net), needed))
        return net
    used = _used_subnets(conn)
    if req["overlay"]["subnet"] is not None:
        net = addr.parse_subnet(req["overlay"]["subnet"], field)
        clash = addr.overlapping(net, used)
        if clash:
            raise _request.RequestError(field, "%s overlaps %s, already allocated" % (net, ", ".join(map(str, clash))))
    else:
        try:
            net = addr.allocate_subnet(pool, min(prefix, addr.prefix_for_hosts(at_most, minimum=32)), used, "overlay_pool")
        except addr.AddressingError as exc:
            raise InputError(exc.field, str(exc).split(": ", 1)[1])
    if addr.usable_hosts(net) < needed:
        raise _request.RequestError(field, "%s holds %d addresses; the cluster needs at least %d (its nodes and an "
                                           "N2N edge)" % (net, addr.usable_hosts(net), needed))
    return net


def _capacity(conn, hosts, cluster_id):
    """Free capacity per host after the nodes of every other cluster."""
    used = {}
    q = sa.select(T_NODES.c.host_id, sa.func.sum(T_NODES.c.vcpus), sa.func.sum(T_NODES.c.memory_mb),
                  sa.func.sum(T_NODES.c.disk_gb)).group_by(T_NODES.c.host_id)
    if cluster_id is not None:
        q = q.where(T_NODES.c.cluster_id != cluster_id)
    for host_id, cpus, mem, disk in conn.execute(q):
        used[host_id] = (int(cpus or 0), int(mem or 0), int(disk or 0))
    out = []
    for h in hosts:
        u = used.get(h["id"], (0, 0, 0))
        out.append({"name": h["name"], "site": h["site"], "cpus": h["cpus"] - u[0],
                    "memory_mb": h["memory_mb"] - u[1], "disk_gb": h["disk_gb"] - u[2]})
    return out


def _comparable(plan):
    """What a change is judged on (and what diff shows): the plan without digest noise."""
    if plan is None:
        return {}
    return {"cluster": dict((k, v) for k, v in plan["cluster"].items() if k != "request_digest"),
            "nodes": plan["nodes"], "edges": plan["edges"]}


def removed_parts(before, after):
    """What a change takes away from the hosts: nodes gone or moved (at their old Dom0), and edges gone.

    ``before`` and ``after`` are plans (or empty). A deploy destroys these before it builds the new plan.
    """
    before = before or {}
    after_nodes = dict((n["name"], n) for n in (after or {}).get("nodes", []))
    after_edges = set(e["dom0"] for e in (after or {}).get("edges", []))
    nodes = [n for n in before.get("nodes", [])
             if n["name"] not in after_nodes or after_nodes[n["name"]]["dom0"] != n["dom0"]]
    edges = [e for e in before.get("edges", []) if e["dom0"] not in after_edges]
    return {"nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------------------------------------
# N2N keys at rest (docs/secrets.md): in clear, or encrypted with the sysadmin's encryption_key.


def key_cipher(encryption_key):
    """The cipher of the module option ``encryption_key``, or None without one."""
    if encryption_key is None:
        return None
    if not encryption_key:
        raise InputError("encryption_key", "is empty; leave it out to store N2N keys in clear")
    try:
        return _secrets.Cipher(encryption_key)
    except _secrets.SecretError as exc:
        raise InputError("encryption_key", str(exc))


def _key_context(name):
    return "mvc_clusters.n2n_key:%s" % name


def _seal_key(cipher, name, key):
    """The N2N key of cluster ``name`` as it is stored: encrypted with ``cipher``, or in clear without one."""
    if cipher is None:
        return key
    sealed = cipher.encrypt(key, _key_context(name))
    if len(sealed) > T_CLUSTERS.c.n2n_key.type.length:  # pragma: no cover - a 32-character key takes 110
        raise DBError("the encrypted N2N key of cluster %s does not fit its column" % name)
    return sealed


def _open_key(cipher, name, stored):
    try:
        return cipher.decrypt(stored, _key_context(name))
    except _secrets.SecretError as exc:
        raise InputError("encryption_key", "does not decrypt the N2N key of cluster %s in the database: %s. Nothing "
                                           "was changed" % (name, exc))


def _stored_key(conn, name, cipher, return_key):
    """The clear N2N key of cluster ``name`` (None for a new cluster, or when it is encrypted and not needed).

    Runs before register() writes anything: with ``cipher`` it must decrypt the cluster's key, or else any
    other encrypted key (so that one database is never encrypted under two passphrases); without it, a key
    that is encrypted cannot be returned, and a new cluster of a database holding encrypted keys is refused
    (rather than storing its key in clear by mistake).
    """
    stored = conn.execute(sa.select(T_CLUSTERS.c.n2n_key).where(T_CLUSTERS.c.name == name)).scalar()
    if stored is not None and _secrets.is_encrypted(stored):
        if cipher is not None:
            return _open_key(cipher, name, stored)
        if return_key:
            raise InputError("encryption_key", "the N2N key of cluster %s is encrypted in the database; give "
                                               "encryption_key to read it" % name)
        return None
    other = conn.execute(sa.select(T_CLUSTERS.c.name, T_CLUSTERS.c.n2n_key).where(
        T_CLUSTERS.c.n2n_key.like("enc:%")).order_by(T_CLUSTERS.c.name).limit(1)).first()
    if other is not None:
        if cipher is not None:
            _open_key(cipher, other.name, other.n2n_key)
        elif stored is None:
            raise InputError("encryption_key", "the database holds encrypted N2N keys; give encryption_key to "
                                               "register cluster %s" % name)
    return stored


def register(conn, request, containers=None, pool=DEFAULT_POOL, prefix=DEFAULT_PREFIX, node_status=None,
             return_key=False, cipher=None):
    """Validate, allocate, place and register ``request`` on ``conn`` (inside the caller's transaction).

    Returns {"changed", "plan", "before", "after"}; before/after never hold the key. Raises RequestError,
    InputError, PlacementError or AddressingError before the caller commits anything.

    With ``cipher`` (key_cipher()), a new N2N key is stored encrypted and a clear one of this cluster is
    re-written encrypted; without it, a new key is stored in clear. A missing or wrong ``cipher`` fails
    before anything is written.
    """
    req = _request.validate(request)
    clear_key = _stored_key(conn, req["name"], cipher, return_key)
    if containers:
        hosts_changed = _upsert_hosts(conn, containers)
    else:
        hosts_changed = False
    hosts = _hosts(conn)
    if not hosts:
        raise InputError("vm_containers", "no VM container is known yet: give the hostvars of the cmc.mvc.rocks "
                                          "group vm_containers")
    known_sites = sorted(set(h["site"] for h in hosts))
    _request.check_sites(req, known_sites)
    old = _cluster_row(conn, req["name"])
    if old is not None and old["owner"] != req["owner"]:
        raise _request.RequestError("vcluster.name", "cluster %s already exists, owned by %s" % (req["name"], old["owner"]))
    old_nodes = _nodes(conn, [old["id"]]) if old else []
    old_edges = _edges(conn, old["id"]) if old else []
    before = _plan(old, old_nodes, old_edges) if old else None

    count = req["compute"]["count"]
    sites = req["sites"] or known_sites
    allowed_hosts = [h for h in hosts if h["site"] in sites]
    # Every node, plus one edge per Dom0 used (at least one; at most one per node and one per host).
    net = _choose_subnet(conn, req, old, pool, prefix, count + 2, count + 1 + min(count + 1, len(allowed_hosts)))

    wanted = [dict(name=node_name(req["name"], "frontend", 0), role="frontend", idx=0, **dict(
        (k, req["frontend"][k]) for k in ("vcpus", "memory_mb", "disk_gb")))]
    wanted += [dict(name=node_name(req["name"], "compute", i), role="compute", idx=i, **dict(
        (k, req["compute"][k]) for k in ("vcpus", "memory_mb", "disk_gb"))) for i in range(count)]
    existing = dict((n["name"], n["dom0"]) for n in old_nodes)
    assignment = _placement.place(_capacity(conn, hosts, old and old["id"]), wanted, req["placement"], sites,
                                  existing, req["frontend"]["site"])

    host_by_name = dict((h["name"], h) for h in hosts)
    old_by_name = dict((n["name"], n) for n in old_nodes)
    node_status = node_status or {}
    unknown = sorted(set(node_status) - set(n["name"] for n in wanted))
    if unknown:
        raise InputError("node_status." + unknown[0], "no such node in cluster %s" % req["name"])
    taken_macs = set(r[0] for r in conn.execute(sa.select(T_NODES.c.mac)))
    new_nodes = []
    for n in wanted:
        o = old_by_name.get(n["name"])
        dom0 = assignment[n["name"]]
        moved = o is None or o["dom0"] != dom0 or any(o[k] != n[k] for k in ("vcpus", "memory_mb", "disk_gb"))
        mac = o["mac"] if o else addr.random_xen_mac(taken_macs)
        taken_macs.add(mac)
        status = "planned" if moved else o["status"]
        status = node_status.get(n["name"], status)
        if status not in NODE_STATUSES:
            raise InputError("node_status." + n["name"], "must be one of %s" % ", ".join(NODE_STATUSES))
        ip = str(addr.host_address(net, 0 if n["role"] == "frontend" else 1 + n["idx"]))
        new_nodes.append(dict(n, dom0=dom0, site=host_by_name[dom0]["site"], host_id=host_by_name[dom0]["id"],
                              mac=mac, overlay_ip=ip, status=status))
    # Edges: keep each Dom0's address; new Dom0s take the highest free ones.
    dom0s = sorted(set(n["dom0"] for n in new_nodes), key=natural_key)
    if len(new_nodes) + len(dom0s) > addr.usable_hosts(net):
        raise _request.RequestError(
            "vcluster.overlay.subnet" if req["overlay"]["subnet"] else "vcluster.compute.count",
            "%s holds %d addresses; the cluster needs %d (%d nodes and %d N2N edges, one per Dom0)"
            % (net, addr.usable_hosts(net), len(new_nodes) + len(dom0s), len(new_nodes), len(dom0s)))
    node_ips = set(n["overlay_ip"] for n in new_nodes)
    # An edge keeps its address unless a node (numbered from the bottom) now needs it.
    old_edge_ip = dict((e["dom0"], e["overlay_ip"]) for e in old_edges
                       if e["dom0"] in dom0s and e["overlay_ip"] not in node_ips)
    edge_ips = set(old_edge_ip.values())
    new_edges = []
    top = addr.usable_hosts(net) - 1
    for d in dom0s:
        ip = old_edge_ip.get(d)
        while ip is None:
            cand = str(addr.host_address(net, top))
            top -= 1
            if cand not in edge_ips and cand not in node_ips:
                ip = cand
                edge_ips.add(ip)
        new_edges.append({"dom0": d, "site": host_by_name[d]["site"], "host_id": host_by_name[d]["id"], "overlay_ip": ip})
    statuses = set(n["status"] for n in new_nodes)
    cstatus = "failed" if "failed" in statuses else ("deployed" if statuses == {"deployed"} else "planned")

    now = _now()
    request_json = _request.canonical_json(req)
    if old is None:
        taken = set(r[0] for r in conn.execute(sa.select(T_CLUSTERS.c.community)))
        clear_key = secrets.token_urlsafe(24)
        cid = conn.execute(T_CLUSTERS.insert().values(
            name=req["name"], owner=req["owner"], community=community_for(req["name"], taken),
            n2n_key=_seal_key(cipher, req["name"], clear_key),
            request_json=request_json, request_digest=_request.digest(req), status=cstatus, created_at=now,
            updated_at=now)).inserted_primary_key[0]
        conn.execute(T_SUBNETS.insert().values(cluster_id=cid, subnet=str(net.cidr), first_ip=net.first, last_ip=net.last))
    else:
        cid = old["id"]
    cluster = _cluster_row(conn, req["name"])
    cluster_vals = {"request_json": request_json, "request_digest": _request.digest(req), "status": cstatus}
    # A key stored in clear is re-written encrypted once an encryption_key is given.
    key_vals = {}
    if old is not None and cipher is not None and not _secrets.is_encrypted(old["n2n_key"]):
        key_vals["n2n_key"] = _seal_key(cipher, req["name"], clear_key)
    after_cluster = dict(cluster, n2n_key=clear_key, **cluster_vals)
    after = _plan(after_cluster, new_nodes, new_edges, with_key=return_key)
    changed = hosts_changed or bool(key_vals) or _comparable(before) != _comparable(after) or (
        old is not None and old["request_digest"] != cluster_vals["request_digest"])
    if old is not None and changed:
        if key_vals and conn.dialect.name == "sqlite":
            # Zero the freed cell of the clear key, rather than leave it in the file's free space.
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        if key_vals or any(old[k] != v for k, v in cluster_vals.items()):
            conn.execute(T_CLUSTERS.update().where(T_CLUSTERS.c.id == cid).values(
                updated_at=now, **cluster_vals, **key_vals))
        _sync_children(conn, cid, old_nodes, new_nodes, old_edges, new_edges)
    elif old is None:
        _sync_children(conn, cid, [], new_nodes, [], new_edges)
    return {"changed": bool(changed), "plan": after, "before": _comparable(before), "after": _comparable(after)}


def _sync_children(conn, cid, old_nodes, new_nodes, old_edges, new_edges):
    cols = ("role", "idx", "host_id", "vcpus", "memory_mb", "disk_gb", "mac", "overlay_ip", "status")
    new_by_name = dict((n["name"], n) for n in new_nodes)
    old_by_name = dict((n["name"], n) for n in old_nodes)
    gone = [o["id"] for o in old_nodes if o["name"] not in new_by_name]
    if gone:
        conn.execute(T_NODES.delete().where(T_NODES.c.id.in_(gone)))
    for n in new_nodes:
        o = old_by_name.get(n["name"])
        if o is None:
            continue
        vals = dict((k, n[k]) for k in cols if o[k] != n[k])
        if vals:
            conn.execute(T_NODES.update().where(T_NODES.c.id == o["id"]).values(**vals))
    fresh = [dict((k, n[k]) for k in cols + ("name",)) for n in new_nodes if n["name"] not in old_by_name]
    if fresh:
        conn.execute(T_NODES.insert(), [dict(f, cluster_id=cid) for f in fresh])
    new_edge = dict((e["dom0"], e) for e in new_edges)
    old_edge = dict((e["dom0"], e) for e in old_edges)
    gone = [e["id"] for d, e in old_edge.items() if d not in new_edge]
    if gone:
        conn.execute(T_EDGES.delete().where(T_EDGES.c.id.in_(gone)))
    fresh = [{"cluster_id": cid, "host_id": e["host_id"], "overlay_ip": e["overlay_ip"]}
             for d, e in new_edge.items() if d not in old_edge]
    if fresh:
        conn.execute(T_EDGES.insert(), fresh)
    old_ips = set(n["overlay_ip"] for n in old_nodes) | set(e["overlay_ip"] for e in old_edges)
    new_ips = set(n["overlay_ip"] for n in new_nodes) | set(e["overlay_ip"] for e in new_edges)
    if old_ips - new_ips:
        conn.execute(T_ADDRESSES.delete().where(T_ADDRESSES.c.cluster_id == cid,
                                                T_ADDRESSES.c.ip.in_(sorted(old_ips - new_ips))))
    if new_ips - old_ips:
        conn.execute(T_ADDRESSES.insert(), [{"cluster_id": cid, "ip": ip} for ip in sorted(new_ips - old_ips)])


def unregister(conn, name):
    """Remove cluster ``name`` and free its subnet, addresses, MACs and capacity. Returns its last plan or None."""
    _request.validate_name(name)
    old = _cluster_row(conn, name)
    if old is None:
        return None
    plan = _plan(old, _nodes(conn, [old["id"]]), _edges(conn, old["id"]))
    # Children first: not every server enforces ON DELETE CASCADE the same way.
    for table in (T_NODES, T_EDGES, T_ADDRESSES, T_SUBNETS):
        conn.execute(table.delete().where(table.c.cluster_id == old["id"]))
    conn.execute(T_CLUSTERS.delete().where(T_CLUSTERS.c.id == old["id"]))
    return plan


def memory_database():
    """An empty in-memory SQLite database with the current schema (check mode before the first write)."""
    db = Database("sqlite://")
    # One connection for the whole life of ``:memory:``.
    db.engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    sa.event.listen(db.engine, "connect", db._sqlite_connect)
    sa.event.listen(db.engine, "begin", db._sqlite_begin)
    db.migrate()
    return db
