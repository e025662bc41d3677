# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The MVC database options of the modules that use it (plugins/module_utils/_mvcdb_client.py database_argument_spec).
    DOCUMENTATION = r"""
requirements:
  - sqlalchemy >= 2.0
  - netaddr
  - psycopg (3) for PostgreSQL, pymysql for MariaDB/MySQL
  - cryptography, only with O(encryption_key) (ansible-core already requires it)
attributes:
  action_group:
    description: Use C(group/cmc.mvc.mvcdb) in C(module_defaults) to set the database options once for every module of the group.
    support: full
    membership:
      - cmc.mvc.mvcdb
options:
  database:
    description:
      - A database URL (C(postgresql+psycopg://user@host/db), C(mysql+pymysql://user@host/db); C(postgresql://)
        and C(mysql://) pick those drivers), or the path of an SQLite file.
      - The default SQLite file is C(~/.local/share/cmc-mvc/mvc.sqlite) of the user running the module on the
        controller.
      - Give the password in O(database_password), not in the URL. A password in the URL is masked in
        everything the module returns, but Ansible may log module arguments to the controller's journal.
      - When not set, the environment variable C(CMC_MVC_DATABASE) is used.
    type: str
  database_password:
    description: Password for the database URL. When not set, the environment variable C(CMC_MVC_DATABASE_PASSWORD) is used.
    type: str
  encryption_key:
    description:
      - A passphrase that encrypts the N2N keys and munge keys at rest in the database (AES-256-GCM, with a key
        derived from it by PBKDF2-HMAC-SHA256 and a random salt), so that readers of a shared database do not get
        them. Keep it in Ansible Vault or an environment variable; it is never logged or returned.
      - Only M(cmc.mvc.vcluster) with C(state=present) and M(cmc.mvc.vcluster_info) with C(return_key=true)
        read or write keys; otherwise it is accepted and ignored.
      - Without it, new keys are stored in clear, and keys stored in clear stay readable with or without it. With
        it, new keys are stored encrypted and a clear key of a cluster that is registered again is re-written
        encrypted.
      - An encrypted key cannot be read without it, and a wrong one fails naming O(encryption_key) before
        anything is written. Without it, a new cluster is refused in a database that holds encrypted keys.
      - When not set, the environment variable C(CMC_MVC_DATABASE_ENCRYPTION_KEY) (or C(MVC_DB_ENCRYPTION_KEY)) is
        used. See R(the secrets guide,ansible_collections.cmc.mvc.docsite.secrets) (C(docs/docsite/rst/secrets.rst)).
    type: str
"""
