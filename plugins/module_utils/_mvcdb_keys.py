# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""N2N keys at rest (docs/secrets.md): in clear, or encrypted with the sysadmin's encryption_key.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

from typing import Optional, cast

from ansible_collections.cmc.mvc.plugins.module_utils import _secrets
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import HAS_SQLALCHEMY, DBError, InputError

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


def _key_context(name: str) -> str:
    return "mvc_clusters.n2n_key:%s" % name


def seal_key(cipher: Optional[_secrets.Cipher], name: str, key: str) -> str:
    """The N2N key of cluster ``name`` as it is stored: encrypted with ``cipher``, or in clear without one."""
    if cipher is None:
        return key
    sealed = cipher.encrypt(key, _key_context(name))
    if len(sealed) > (cast(sa.String, T_CLUSTERS.c.n2n_key.type).length or 0):  # pragma: no cover - a 32-character key takes 110
        raise DBError("the encrypted N2N key of cluster %s does not fit its column" % name)
    return sealed


def open_key(cipher: _secrets.Cipher, name: str, stored: str) -> str:
    try:
        return cipher.decrypt(stored, _key_context(name))
    except _secrets.SecretError as exc:
        raise InputError("encryption_key", "does not decrypt the N2N key of cluster %s in the database: %s. Nothing "
                                           "was changed" % (name, exc))


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
