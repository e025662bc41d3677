# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way in to the MVC database for the modules (vcluster, vcluster_info) and the vcluster inventory plugin.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

MVCDBClient checks the libraries (SQLAlchemy, netaddr, the database driver, cryptography with an encryption
key), turns the shared options into a URL whose password is masked in every message, opens the engine as the
caller needs it (to write, migrating; to read, never creating), and disposes of it when the ``with`` block
ends, whatever the path: a persistent interpreter (mitogen) would otherwise keep its connections.
ModuleClient is the same for an AnsibleModule: the password is a no_log value and errors end in fail_json.
The inventory plugin, on the controller, imports this module_util as any plugin may.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, NoReturn, Optional, TypeVar

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr
from ansible_collections.cmc.mvc.plugins.module_utils import _secrets
from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_engine import Database, make_url, masked_url, memory_database
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_keys import key_cipher
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
    HAS_SQLALCHEMY, SCHEMA_VERSION, SQLALCHEMY_IMPORT_ERROR, DBError, InputError)

if HAS_SQLALCHEMY:
    import sqlalchemy as sa

T = TypeVar("T")


def database_argument_spec() -> Dict[str, Any]:
    """The options every module on the MVC database takes (doc fragment cmc.mvc.mvcdb)."""
    from ansible.module_utils.basic import env_fallback
    return dict(
        database=dict(type="str", fallback=(env_fallback, ["CMC_MVC_DATABASE"])),
        database_password=dict(type="str", no_log=True, fallback=(env_fallback, ["CMC_MVC_DATABASE_PASSWORD"])),
        encryption_key=dict(type="str", no_log=True, fallback=(
            env_fallback, ["CMC_MVC_DATABASE_ENCRYPTION_KEY", "MVC_DB_ENCRYPTION_KEY"])),
    )


class MissingLibrary(DBError):
    """A Python library that the database code needs is not installed where it runs."""

    def __init__(self, library: str, exception: Optional[str]) -> None:
        super().__init__("the Python library %s is needed and not installed" % library)
        self.library = library
        self.exception = exception


def check_libraries(encryption_key: Optional[str] = None) -> None:
    """Raise MissingLibrary for the first of SQLAlchemy, netaddr (and cryptography, with a key) that is missing."""
    if not HAS_SQLALCHEMY:
        raise MissingLibrary("sqlalchemy", SQLALCHEMY_IMPORT_ERROR)
    if not addr.HAS_NETADDR:
        raise MissingLibrary("netaddr", addr.NETADDR_IMPORT_ERROR)
    if encryption_key and not _secrets.HAS_CRYPTOGRAPHY:
        raise MissingLibrary("cryptography", _secrets.CRYPTOGRAPHY_IMPORT_ERROR)


class MVCDBClient:
    """The MVC database named by the shared options. Use as ``with MVCDBClient(...) as client:``.

    Nothing is opened, nor any file created, until open_for_write() or read() is called.
    """

    def __init__(self, database: Optional[str] = None, password: Optional[str] = None,
                 encryption_key: Optional[str] = None) -> None:
        self.db: Optional[Database] = None
        self.password: Optional[str] = password
        self.safe_url = ""
        check_libraries(encryption_key)
        self.database = database
        self.url = make_url(database, password)
        self.password = self.url.password
        self.safe_url = masked_url(self.url)
        self.encryption_key = encryption_key
        self._check_driver()

    def _check_driver(self) -> None:
        try:
            self.url.get_dialect().import_dbapi()
        except ImportError as exc:
            raise MissingLibrary(self.url.get_driver_name(), self.mask(repr(exc)))

    # -- what every caller needs ---------------------------------------------------------------------------

    def mask(self, text: str) -> str:
        return text.replace(self.password, "********") if self.password else text

    @property
    def is_sqlite(self) -> bool:
        return bool(self.url.get_backend_name() == "sqlite")

    def exists(self) -> bool:
        """False only for an SQLite file that is not there (a server database is taken to exist)."""
        return not (self.is_sqlite and self.url.database and not os.path.exists(self.url.database))

    def cipher(self) -> Optional[_secrets.Cipher]:
        """The cipher of ``encryption_key`` (None without one); a bad key fails naming encryption_key."""
        return key_cipher(self.encryption_key)

    def close(self) -> None:
        if self.db is not None:
            self.db.dispose()
            self.db = None

    def __enter__(self) -> "MVCDBClient":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # -- opening -------------------------------------------------------------------------------------------

    def _memory(self) -> Database:
        mem = memory_database()
        mem.safe_url = self.safe_url
        return mem

    def open_for_write(self, check_mode: bool = False) -> Database:
        """The database, migrated. In check mode nothing is created or migrated: a database with no schema yet
        is planned against an empty one in memory."""
        if self.is_sqlite and self.url.database in (None, "", ":memory:"):
            raise InputError("database", "an in-memory SQLite database would keep nothing; give a file")
        if check_mode and not self.exists():
            self.db = self._memory()
            return self.db
        self.db = Database(self.database, self.password)
        if not check_mode:
            self.db.migrate()
            return self.db
        version = self.db.current_version()
        if version == 0:
            self.close()
            self.db = self._memory()
        elif version != SCHEMA_VERSION:
            raise DBError("%s has schema version %d; run without check mode to migrate it to %d"
                          % (self.safe_url, version, SCHEMA_VERSION))
        return self.db

    def write(self, fn: Callable[["sa.Connection"], T], check_mode: bool = False) -> T:
        """Run ``fn(conn)`` in one writing transaction (rolled back in check mode)."""
        db = self.db or self.open_for_write(check_mode)
        return db.run(fn, check_mode=check_mode)

    def read(self, fn: Callable[["sa.Connection"], T], missing_ok: bool = True) -> Optional[T]:
        """Run ``fn(conn)`` in a read-only transaction: no write lock, nothing created, always rolled back.

        None when the database has no schema yet, or (``missing_ok``) when its SQLite file does not exist; a
        schema newer than this collection's fails.
        """
        if missing_ok and not self.exists():
            return None
        if self.db is None:
            self.db = Database(self.database, self.password, readonly=True, create=False)
        version = self.db.current_version()
        if version == 0:
            return None
        if version > SCHEMA_VERSION:
            raise DBError("%s has schema version %d; this collection knows up to %d"
                          % (self.safe_url, version, SCHEMA_VERSION))
        return self.db.run(fn)


# Bad input of any kind (request, module options, placement, addressing) names its field; DBError does not.
ERRORS = (FieldError, DBError)


class ModuleClient(MVCDBClient):
    """MVCDBClient for an AnsibleModule with database_argument_spec(): fails the module on missing libraries."""

    def __init__(self, module: Any) -> None:
        self.module = module
        p = module.params
        try:
            super().__init__(p["database"], p["database_password"], p.get("encryption_key"))
        except MissingLibrary as exc:
            from ansible.module_utils.basic import missing_required_lib
            module.fail_json(msg=missing_required_lib(exc.library), exception=exc.exception)
        except ERRORS as exc:
            self.fail(exc)
        if self.password:
            module.no_log_values.add(self.password)

    def fail(self, exc: Exception, **result: Any) -> NoReturn:
        """fail_json with the error's message (password masked) and the field it names, if any."""
        self.close()
        if self.safe_url:
            result["database"] = self.safe_url
        self.module.fail_json(msg=self.mask(str(exc)), field=getattr(exc, "field", None), **result)
        raise AssertionError("fail_json returned")  # pragma: no cover
