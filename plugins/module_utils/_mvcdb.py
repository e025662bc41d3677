# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MVC database (SQLAlchemy Core 2), by its public names: one import for its callers and tests.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

The code lives in files by concern:
- ``_mvcdb_schema``: constants, tables, SCHEMA_VERSION and MIGRATIONS, DBError and InputError;
- ``_mvcdb_engine``: URLs with the password masked, the engine, migrating, the write lock and retry;
- ``_mvcdb_keys``: N2N and munge keys at rest (in clear or encrypted), and reading them without the write lock;
- ``_mvcdb_read``: rows and plans, read-only;
- ``_mvcdb_register``: registration, allocation in named steps;
- ``_mvcdb_write``: child rows, marking nodes deployed, unregistering;
- ``_mvcdb_client``: the client that modules and the inventory plugin open the database with.
- ``_mvcdb_wireguard``: the wireguard backend's Dom0 rows (transport addresses, public keys), used by the module
  ``wireguard_peers`` directly.
"""

from __future__ import annotations

# The names below are this file's whole content: they are imported to be used from here.
# pylint: disable=unused-import

from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_client import (  # noqa: F401
    ERRORS, MissingLibrary, ModuleClient, MVCDBClient, check_libraries, database_argument_spec)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_engine import (  # noqa: F401
    Database, make_url, masked_url, memory_database)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_keys import (  # noqa: F401
    key_cipher, new_munge_key, read_key, read_munge_key)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_read import (  # noqa: F401
    comparable, make_plan, read_clusters, removed_parts)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_register import (  # noqa: F401
    community_for, node_name, normalize_containers, register)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (  # noqa: F401
    COMMUNITY_MAX, DEFAULT_POOL, DEFAULT_PREFIX, DEFAULT_SQLITE, HAS_SQLALCHEMY, MIGRATIONS, MUNGE_KEY_BYTES,
    NODE_STATUSES, RETRIES, SCHEMA_VERSION, DBError, InputError)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_write import mark_deployed, unregister  # noqa: F401

if HAS_SQLALCHEMY:
    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (  # noqa: F401
        T_ADDRESSES, T_CLUSTERS, T_EDGES, T_HOSTS, T_META, T_NODES, T_SITES, T_SUBNETS, V1_TABLES, metadata)
