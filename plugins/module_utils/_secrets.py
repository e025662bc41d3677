# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Encryption of secrets (N2N keys) at rest in the MVC database, with a passphrase the sysadmin gives.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

A stored value is either the secret in clear (as databases written without a passphrase hold it), or
``enc:v1:<salt>:<box>``: ``salt`` is 16 random bytes, ``box`` is nonce (12 bytes) + ciphertext + tag (16 bytes)
of AES-256-GCM, both base64url without padding. The AES key is PBKDF2-HMAC-SHA256 (600000 iterations) of the
passphrase and the salt. The associated data binds the box to its place (for example the cluster's name), so a
value copied to another row does not decrypt. A 32-character N2N key takes 110 characters.

AES-GCM rather than Fernet: a Fernet token of a 32-character key alone is 140 characters, more than the
``mvc_clusters.n2n_key`` column holds; both are authenticated, so a wrong passphrase is detected, never
decrypted into garbage. Both come from ``cryptography``, which ansible-core itself requires.
"""

from __future__ import annotations

import base64
import os
import traceback

CRYPTOGRAPHY_IMPORT_ERROR: str | None
try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
except ImportError:  # pragma: no cover - reported by the caller through missing_required_lib
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

PREFIX = "enc:v1:"
ITERATIONS = 600000
SALT_BYTES = 16
NONCE_BYTES = 12


class SecretError(ValueError):
    """A stored secret that cannot be decrypted (no passphrase, a wrong one, or a damaged value)."""


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith("enc:")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cipher:
    """Encrypts and decrypts values with one passphrase. Derived keys are cached per salt; new values of one
    Cipher share one random salt (and one derivation), each with its own random nonce."""

    def __init__(self, passphrase: str) -> None:
        if not HAS_CRYPTOGRAPHY:
            raise SecretError("the Python library cryptography is needed to encrypt keys at rest")
        if not passphrase:
            raise SecretError("the passphrase is empty")
        self._passphrase = passphrase.encode("utf-8")
        self._keys: dict[bytes, AESGCM] = {}
        self._salt = os.urandom(SALT_BYTES)

    def __repr__(self) -> str:
        return "Cipher(********)"

    def _key(self, salt: bytes) -> AESGCM:
        if salt not in self._keys:
            kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=ITERATIONS)
            self._keys[salt] = AESGCM(kdf.derive(self._passphrase))
        return self._keys[salt]

    def encrypt(self, value: str, context: str = "") -> str:
        nonce = os.urandom(NONCE_BYTES)
        salt = _b64(self._salt)
        box = self._key(self._salt).encrypt(nonce, value.encode("utf-8"),
                                            (PREFIX + salt + ":" + context).encode("utf-8"))
        return "%s%s:%s" % (PREFIX, salt, _b64(nonce + box))

    def decrypt(self, value: str, context: str = "") -> str:
        """The clear text of ``value``; a value that is not encrypted is returned as it is."""
        if not is_encrypted(value):
            return value
        if not value.startswith(PREFIX):
            raise SecretError("unknown encryption format %r" % value.split(":", 2)[1])
        try:
            salt_text, box_text = value[len(PREFIX):].split(":")
            salt, box = _unb64(salt_text), _unb64(box_text)
        except (ValueError, TypeError):
            raise SecretError("damaged encrypted value") from None
        if len(salt) != SALT_BYTES or len(box) < NONCE_BYTES + 16:
            raise SecretError("damaged encrypted value")
        try:
            clear = self._key(salt).decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:],
                                            (PREFIX + salt_text + ":" + context).encode("utf-8"))
        except InvalidTag:
            raise SecretError("wrong passphrase (or a damaged value)") from None
        return clear.decode("utf-8")
