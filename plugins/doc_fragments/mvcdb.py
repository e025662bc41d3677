# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The MVC database options of the modules that use it (plugins/module_utils/_mvcdb.py database_argument_spec).
    DOCUMENTATION = r"""
requirements:
  - sqlalchemy >= 2.0
  - netaddr
  - psycopg (3) for PostgreSQL, pymysql for MariaDB/MySQL
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
"""
