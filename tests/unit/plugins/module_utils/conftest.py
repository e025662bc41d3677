# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the MVC database tests."""
from __future__ import annotations

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite MVC database in the test's own directory."""
    d = _mvcdb.Database(str(tmp_path / "mvc.sqlite"))
    d.migrate()
    yield d
    d.dispose()
