# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import shlex

import pytest

from ansible_collections.cmc.mvc.plugins.plugin_utils._ssh import proxy_command, proxy_option


def test_the_hops_own_tokens_are_doubled_and_only_the_forward_is_left_to_expand():
    hop = ["ssh", "-o", "ControlPath=/tmp/%C", "-o", "ProxyCommand=ssh -W [%h]:%p gw", "-l", "root", "dom0"]
    assert shlex.split(proxy_command(hop)) == [
        "ssh", "-o", "ControlPath=/tmp/%%C", "-o", "ProxyCommand=ssh -W [%%h]:%%p gw", "-l", "root",
        "-W", "[%h]:%p", "dom0"]


def test_words_with_spaces_stay_one_word_and_the_option_splits_back_into_two():
    hop = ["ssh", "-i", "/keys/my key", "host one"]
    assert shlex.split(proxy_command(hop)) == ["ssh", "-i", "/keys/my key", "-W", "[%h]:%p", "host one"]
    assert shlex.split(proxy_option(hop)) == ["-o", "ProxyCommand=" + proxy_command(hop)]


@pytest.mark.parametrize("argv", [[], ["dom0"]])
def test_an_argv_without_ssh_and_a_host_is_refused(argv):
    with pytest.raises(ValueError, match="ending with the hop's host"):
        proxy_command(argv)
