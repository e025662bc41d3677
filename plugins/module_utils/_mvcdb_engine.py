# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MVC database engine: URLs (with the password masked), connections, migrations, locking and retry.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Concurrency: every writing transaction first locks the single row of ``mvc_meta`` (``SELECT ... FOR UPDATE``
on PostgreSQL and MariaDB; ``BEGIN IMMEDIATE`` on SQLite), so allocations are serialized and the overlap
check of subnets (which no portable constraint can express) sees every committed cluster. The unique
constraints on names, MACs, overlay IPs, subnets and communities hold even without that lock; an
IntegrityError or a deadlock makes the whole transaction retry a bounded number of times. A ``readonly``
Database takes no lock at all (plain ``BEGIN`` on SQLite) and always rolls back.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
    DEFAULT_SQLITE, HAS_SQLALCHEMY, MIGRATIONS, RETRIES, SCHEMA_VERSION, DBError, InputError)

if HAS_SQLALCHEMY:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc

    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import T_META

T = TypeVar("T")


def make_url(database: Optional[str], password: Optional[str] = None) -> "sa.URL":
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


def _mask(text: str, *secrets_: Optional[str]) -> str:
    for s in secrets_:
        if s:
            text = text.replace(s, "********")
    return text


def masked_url(url: "sa.URL") -> str:
    return url.render_as_string(hide_password=True)


class Database:
    """An engine on the MVC database. ``readonly`` connections never take write locks."""

    def __init__(self, database: Optional[str] = None, password: Optional[str] = None, readonly: bool = False,
                 create: bool = True) -> None:
        self.url = make_url(database, password)
        self.password = self.url.password
        self.safe_url = masked_url(self.url)
        self.backend = self.url.get_backend_name()
        self.readonly = readonly
        self.path: Optional[str]
        kwargs: Dict[str, Any] = {"poolclass": sa.pool.NullPool}
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
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is off, so that "begin" below decides how to begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    def _sqlite_begin(self, conn: "sa.Connection") -> None:
        conn.exec_driver_sql("BEGIN" if self.readonly else "BEGIN IMMEDIATE")

    def error(self, exc: BaseException) -> DBError:
        """DBError for a driver exception, with the password masked."""
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return DBError(_mask("%s: %s" % (self.safe_url, text[0] if text else type(exc).__name__), self.password))

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------------

    def version(self, conn: "sa.Connection") -> int:
        if not sa.inspect(conn).has_table("mvc_meta"):
            return 0
        row = conn.execute(sa.select(T_META.c.schema_version).where(T_META.c.id == 1)).first()
        return row[0] if row else 0

    def current_version(self) -> int:
        try:
            with self.engine.connect() as conn:
                return self.version(conn)
        except sa_exc.SQLAlchemyError as exc:
            raise self.error(exc)

    def migrate(self) -> Tuple[int, int]:
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

    def run(self, fn: Callable[["sa.Connection"], T], check_mode: bool = False, retries: int = RETRIES) -> T:
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


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.IntegrityError):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "args", [None])[0]
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return (code in (1205, 1213) or sqlstate in ("40001", "40P01")
            or "deadlock" in text or "database is locked" in text or "could not serialize" in text)


def memory_database() -> Database:
    """An empty in-memory SQLite database with the current schema (check mode before the first write)."""
    db = Database("sqlite://")
    # One connection for the whole life of ``:memory:``.
    db.engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    sa.event.listen(db.engine, "connect", db._sqlite_connect)
    sa.event.listen(db.engine, "begin", db._sqlite_begin)
    db.migrate()
    return db
