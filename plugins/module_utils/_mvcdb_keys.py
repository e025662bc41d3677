# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys at rest (docs/docsite/rst/secrets.rst), the N2N key and the munge key of each cluster: in clear, or
encrypted with the sysadmin's encryption_key.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import base64
import secrets
from typing import Optional, Tuple

from ansible_collections.cmc.mvc.plugins.module_utils import _secrets
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
    HAS_SQLALCHEMY, MUNGE_KEY_BYTES, DBError, InputError, has_column)

if HAS_SQLALCHEMY:
    import sqlalchemy as sa

    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import T_CLUSTERS


def key_cipher(encryption_key: Optional[str]) -> Optional[_secrets.Cipher]:
    """The cipher of the module option ``encryption_key``, or None without one."""
    if encryption_key is None:
        return None
    if not encryption_key:
        raise InputError("encryption_key", "is empty; leave it out to store N2N keys in clear")
    try:
        return _secrets.Cipher(encryption_key)
    except _secrets.SecretError as exc:
        raise InputError("encryption_key", str(exc))


# The column of each key, and how messages name it.
KEYS = {"n2n_key": "N2N key", "munge_key": "munge key"}


def _key_context(name: str, column: str = "n2n_key") -> str:
    # The column is in the context too: a box moved from one key's column to the other's does not decrypt.
    return "mvc_clusters.%s:%s" % (column, name)


def new_munge_key() -> str:
    """A new munge key, as the slurm role's ``slurm_munge_key`` takes it: base64 of MUNGE_KEY_BYTES random bytes."""
    return base64.b64encode(secrets.token_bytes(MUNGE_KEY_BYTES)).decode("ascii")


def seal_key(cipher: Optional[_secrets.Cipher], name: str, key: str, column: str = "n2n_key") -> str:
    """The key in ``column`` of cluster ``name`` as it is stored: encrypted with ``cipher``, or in clear without one."""
    if cipher is None:
        return key
    sealed = cipher.encrypt(key, _key_context(name, column))
    length = getattr(T_CLUSTERS.c[column].type, "length", None)  # None for Text
    if length is not None and len(sealed) > length:  # pragma: no cover - a 32-character N2N key takes 110
        raise DBError("the encrypted %s of cluster %s does not fit its column" % (KEYS[column], name))
    return sealed


def open_key(cipher: _secrets.Cipher, name: str, stored: str, column: str = "n2n_key") -> str:
    try:
        return cipher.decrypt(stored, _key_context(name, column))
    except _secrets.SecretError as exc:
        raise InputError("encryption_key", "does not decrypt the %s of cluster %s in the database: %s. Nothing "
                                           "was changed" % (KEYS[column], name, exc))


def holds_encrypted_keys(conn: "sa.Connection") -> bool:
    return conn.execute(sa.select(T_CLUSTERS.c.id).where(sa.or_(
        T_CLUSTERS.c.n2n_key.like("enc:%"), T_CLUSTERS.c.munge_key.like("enc:%"))).limit(1)).first() is not None


def stored_key(conn: "sa.Connection", name: str, cipher: Optional[_secrets.Cipher], return_key: bool) -> Optional[str]:
    """The clear N2N key of cluster ``name`` (None for a new cluster, or when it is encrypted and not needed).

    Runs before register() writes anything: with ``cipher`` it must decrypt the cluster's key, or else any
    other encrypted key (so that one database is never encrypted under two passphrases); without it, a key
    that is encrypted cannot be returned, and a new cluster of a database holding encrypted keys is refused
    (rather than storing its key in clear by mistake).
    """
    stored = conn.execute(sa.select(T_CLUSTERS.c.n2n_key).where(T_CLUSTERS.c.name == name)).scalar()
    if stored is not None and _secrets.is_encrypted(stored):
        if cipher is not None:
            return open_key(cipher, name, stored)
        if return_key:
            raise InputError("encryption_key", "the N2N key of cluster %s is encrypted in the database; give "
                                               "encryption_key to read it" % name)
        return None
    other = conn.execute(sa.select(T_CLUSTERS.c.name, T_CLUSTERS.c.n2n_key).where(
        T_CLUSTERS.c.n2n_key.like("enc:%")).order_by(T_CLUSTERS.c.name).limit(1)).first()
    if other is not None:
        if cipher is not None:
            open_key(cipher, other.name, other.n2n_key)
        elif stored is None:
            raise InputError("encryption_key", "the database holds encrypted N2N keys; give encryption_key to "
                                               "register cluster %s" % name)
    return stored


def munge_key_of(conn: "sa.Connection", name: str, cipher: Optional[_secrets.Cipher],
                 return_key: bool) -> Tuple[Optional[str], bool]:
    """(the clear munge key of cluster ``name``, whether it is new), for register(); (None, False) when it is
    encrypted and not needed, or when it cannot be made now.

    Runs after stored_key(), before register() writes anything. A cluster that has none (new, or registered
    before schema version 2) gets a new one, stored as its N2N key would be: never in clear in a database
    that holds encrypted keys. There, without ``cipher``, it is made by a later registration with the key, and
    ``return_key`` fails naming encryption_key.
    """
    row = conn.execute(sa.select(T_CLUSTERS.c.munge_key).where(T_CLUSTERS.c.name == name)).first()
    stored = row.munge_key if row is not None else None
    if stored is not None:
        if not _secrets.is_encrypted(stored):
            return str(stored), False
        if cipher is not None:
            return open_key(cipher, name, stored, "munge_key"), False
        if return_key:
            raise InputError("encryption_key", "the munge key of cluster %s is encrypted in the database; give "
                                               "encryption_key to read it" % name)
        return None, False
    if cipher is None and holds_encrypted_keys(conn):
        if return_key or row is None:
            raise InputError("encryption_key", "cluster %s has no munge key yet and the database holds encrypted "
                                               "keys; give encryption_key to make one" % name)
        return None, False
    return new_munge_key(), True


def read_key(conn: "sa.Connection", name: str, cipher: Optional[_secrets.Cipher], field: str = "names") -> str:
    """The clear N2N key of the registered cluster ``name``, read without writing or locking anything.

    An encrypted key needs ``cipher`` (a wrong one fails naming ``encryption_key``); a cluster that is not
    registered fails naming ``field``.
    """
    stored = conn.execute(sa.select(T_CLUSTERS.c.n2n_key).where(T_CLUSTERS.c.name == name)).scalar()
    if stored is None:
        raise InputError(field, "cluster %s is not registered, so it has no N2N key" % name)
    if not _secrets.is_encrypted(stored):
        return str(stored)
    if cipher is None:
        raise InputError("encryption_key", "the N2N key of cluster %s is encrypted in the database; give "
                                           "encryption_key to read it" % name)
    return open_key(cipher, name, stored)


def read_munge_key(conn: "sa.Connection", name: str, cipher: Optional[_secrets.Cipher],
                   field: str = "names") -> Optional[str]:
    """The clear munge key of the registered cluster ``name``, read without writing or locking anything; None
    when it has none yet (registered before schema version 2, or in a database not migrated to it).

    Errors as read_key's.
    """
    if not has_column(conn, T_CLUSTERS, "munge_key"):
        stored = None
        if conn.execute(sa.select(T_CLUSTERS.c.id).where(T_CLUSTERS.c.name == name)).first() is None:
            raise InputError(field, "cluster %s is not registered, so it has no munge key" % name)
    else:
        row = conn.execute(sa.select(T_CLUSTERS.c.munge_key).where(T_CLUSTERS.c.name == name)).first()
        if row is None:
            raise InputError(field, "cluster %s is not registered, so it has no munge key" % name)
        stored = row.munge_key
    if stored is None or not _secrets.is_encrypted(stored):
        return None if stored is None else str(stored)
    if cipher is None:
        raise InputError("encryption_key", "the munge key of cluster %s is encrypted in the database; give "
                                           "encryption_key to read it" % name)
    return open_key(cipher, name, stored, "munge_key")
