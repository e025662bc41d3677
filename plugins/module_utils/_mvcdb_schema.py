# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MVC database: its constants, tables, forward migrations and errors (SQLAlchemy Core 2).

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

The rest of the database code imports from here: ``_mvcdb_engine`` (connections, locking, retry),
``_mvcdb_keys`` (N2N keys at rest), ``_mvcdb_read`` (plans and read-only queries), ``_mvcdb_register``
(allocation), ``_mvcdb_write`` (child rows, unregister, node status), ``_mvcdb_client`` (what modules and the
inventory plugin open). ``_mvcdb`` re-exports their public names.
"""

from __future__ import annotations

import datetime
import re
import traceback
from typing import Callable, List, Optional, Union

try:
    import sqlalchemy as sa
except ImportError:  # pragma: no cover - reported by the caller through missing_required_lib
    HAS_SQLALCHEMY = False
    SQLALCHEMY_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_SQLALCHEMY = True
    SQLALCHEMY_IMPORT_ERROR = None

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

SCHEMA_VERSION = 4
DEFAULT_SQLITE = "~/.local/share/cmc-mvc/mvc.sqlite"
DEFAULT_POOL = "10.200.0.0/16"
DEFAULT_PREFIX = 24
NODE_STATUSES = ("planned", "deployed", "failed")
RETRIES = 8
COMMUNITY_MAX = 16  # N2N v1 COMMUNITY_SIZE
# Random bytes of a munge key: what Debian's ``mungekey -c`` writes; munge's minimum is 32.
MUNGE_KEY_BYTES = 128
# A cluster's MTU: IPv4's minimum datagram, and the largest an IP packet can say.
MTU_RANGE = (576, 65535)


class DBError(Exception):
    """A database problem, with any password already masked."""


# Bad module input that is not part of the request (vm_containers, overlay_pool ...).
InputError = FieldError


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
        # Slurm's munge key (base64), kept as n2n_key is; NULL for a cluster registered before schema version 2
        # until it is registered again. Text: sealed, 128 bytes take 297 characters, and the envelope grows with
        # the key (1892 for munge's largest, 1024 bytes), so no later size change needs a migration.
        sa.Column("munge_key", sa.Text, nullable=True),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        # Version 4. The MTU of the cluster's bridges and its guests' NICs, fixed when the guests are installed;
        # NULL for a cluster registered before, until it is registered again.
        sa.Column("mtu", sa.Integer, nullable=True),
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
    # Version 3. A Dom0 on the WireGuard overlay: its transport address and public key (the private key never
    # leaves the Dom0). The hub has one peer per row.
    T_WG_PEERS = sa.Table(
        "mvc_wireguard_peers", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("mvc_hosts.id"), nullable=False, unique=True),
        sa.Column("transport_ip", sa.String(15), nullable=False, unique=True),
        sa.Column("public_key", sa.String(44), nullable=False),
    )


def has_column(conn: "sa.Connection", table: "sa.Table", column: str) -> bool:
    """Whether the database's ``table`` has ``column`` (a later version's column in a database not yet migrated)."""
    return column in set(c["name"] for c in sa.inspect(conn).get_columns(table.name))


def _add_column(conn: "sa.Connection", table: "sa.Table", column: str) -> None:
    # _migrate_v1 creates the tables as declared, later columns included: checked rather than assumed, also because
    # MariaDB commits DDL before the version is written.
    if not has_column(conn, table, column):
        conn.execute(sa.text("ALTER TABLE %s ADD COLUMN %s %s NULL"
                             % (table.name, column, table.c[column].type.compile(dialect=conn.dialect))))


def _migrate_v1(conn: "sa.Connection") -> None:
    metadata.create_all(conn, tables=V1_TABLES)


def _migrate_v2(conn: "sa.Connection") -> None:
    _add_column(conn, T_CLUSTERS, "munge_key")


def _migrate_v3(conn: "sa.Connection") -> None:
    metadata.create_all(conn, tables=[T_WG_PEERS])


def _migrate_v4(conn: "sa.Connection") -> None:
    _add_column(conn, T_CLUSTERS, "mtu")


# Forward migrations, applied in order; entry N brings the schema from version N to N+1. A later
# migration alters tables with DDL of its own; it never edits an earlier entry.
MIGRATIONS: List[Callable[["sa.Connection"], None]] = [_migrate_v1, _migrate_v2, _migrate_v3, _migrate_v4]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def natural_key(text: str) -> List[Union[int, str]]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]
