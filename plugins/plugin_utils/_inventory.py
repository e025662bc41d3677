# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: what the inventory plugins cmc.mvc.rocks and cmc.mvc.vcluster share (controller side only).

Both take a YAML source whose file name ends in a fixed suffix, and keep their last answer in the inventory
cache under one key per source. ``parse()`` here reads the source's options; the plugin then asks ``_cached``
for a usable answer, makes a new one when there is none, and hands it to ``_cache_store``."""

from __future__ import annotations

import typing as t

from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

if t.TYPE_CHECKING:
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader


class MVCInventoryBase(BaseInventoryPlugin, Constructable, Cacheable):
    """Base of the collection's inventory plugins. A subclass sets ``FILE_SUFFIXES``."""

    # Endings a source's file name must have, such as ("rocks.yml", "rocks.yaml").
    FILE_SUFFIXES: tuple[str, ...] = ()
    # BaseInventoryPlugin starts it as None; parse() sets it before any subclass reads it.
    inventory: InventoryData

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(self.FILE_SUFFIXES)

    def parse(self, inventory: InventoryData, loader: DataLoader, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._cache_key = self.get_cache_key(path)
        self._use_cache = self.get_option("cache")

    def _cached(self, cache: bool) -> t.Any:
        """The answer in the cache, or None: also when the source turns the cache off or a refresh is asked
        (``cache`` false: ``--flush-cache`` or ``meta: refresh_inventory``)."""
        if not (self._use_cache and cache):
            return None
        return self._cache_lookup(None)

    def _cache_lookup(self, default: t.Any) -> t.Any:
        """The answer in the cache even during a refresh (an earlier answer to fall back on), else ``default``."""
        try:
            return self._cache[self._cache_key]
        except KeyError:
            return default

    def _cache_store(self, value: t.Any) -> None:
        """Keeps ``value`` as the answer of this source, when the source uses the cache."""
        if self._use_cache:
            self._cache[self._cache_key] = value
