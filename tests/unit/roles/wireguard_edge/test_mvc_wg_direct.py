"""The watchdog of direct WireGuard paths (roles/wireguard_edge/files/mvc-wg-direct), against a fake wg."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os

import pytest

HERE = os.path.dirname(__file__)
SCRIPT = os.path.join(HERE, "..", "..", "..", "..", "roles", "wireguard_edge", "files", "mvc-wg-direct")
HUB, B1, B2 = "H" * 43 + "=", "B" * 43 + "=", "C" * 43 + "="
PRIVATE = "P" * 43 + "="


@pytest.fixture
def direct():
    loader = importlib.machinery.SourceFileLoader("mvc_wg_direct", SCRIPT)
    spec = importlib.util.spec_from_loader("mvc_wg_direct", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class FakeWg:
    """Peers as wg holds them; 'set' calls change them as wg would."""

    def __init__(self):
        self.peers = {HUB: {"endpoint": "198.51.100.10:51820", "allowed": "10.250.0.0/24", "handshake": 0, "rx": 0}}
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)
        if args[:2] == ("show", "wg-mvc") and args[2] == "dump":
            lines = ["%s\tPUBLIC\t51820\toff" % PRIVATE]
            for key, p in self.peers.items():
                lines.append("\t".join([key, "(none)", p["endpoint"], p["allowed"] or "(none)", str(p["handshake"]),
                                        str(p["rx"]), "0", "5"]))
            return "\n".join(lines) + "\n"
        assert args[:3] == ("set", "wg-mvc", "peer"), args
        key, rest = args[3], list(args[4:])
        if rest == ["remove"]:
            del self.peers[key]
            return ""
        peer = self.peers.setdefault(key, {"endpoint": "(none)", "allowed": "", "handshake": 0, "rx": 0})
        while rest:
            name, value = rest.pop(0), rest.pop(0)
            if name == "endpoint":
                peer["endpoint"] = value
            elif name == "allowed-ips":
                peer["allowed"] = value
        return ""


CANDIDATES = {B1: {"public_key": B1, "endpoint": "198.51.100.2:40001", "address": "10.250.0.21"}}


def poll(direct, fake, paths, now, candidates=None):
    direct.wg = fake
    return direct.step("wg-mvc", CANDIDATES if candidates is None else candidates, {HUB}, paths, now)


def test_a_candidate_is_tried_with_no_allowed_ips_then_goes_direct_once_it_shook_hands_and_is_heard(direct):
    fake, paths = FakeWg(), {}
    assert poll(direct, fake, paths, 1000) == ["10.250.0.21: trying a direct path to 198.51.100.2:40001"]
    assert fake.peers[B1] == {"endpoint": "198.51.100.2:40001", "allowed": "", "handshake": 0, "rx": 0}
    assert ("set", "wg-mvc", "peer", B1, "endpoint", "198.51.100.2:40001", "persistent-keepalive", "5",
            "allowed-ips", "") in fake.calls
    # No handshake yet: the hub keeps the pair.
    assert poll(direct, fake, paths, 1001) == [] and fake.peers[B1]["allowed"] == ""
    fake.peers[B1].update(handshake=1002, rx=92)
    assert poll(direct, fake, paths, 1003) == ["10.250.0.21: direct at 198.51.100.2:40001"]
    assert fake.peers[B1]["allowed"] == "10.250.0.21/32"
    assert fake.peers[HUB]["allowed"] == "10.250.0.0/24"
    assert poll(direct, fake, paths, 1004) == []


def test_a_silent_direct_path_goes_back_to_the_hub_and_needs_a_new_handshake_to_come_back(direct):
    fake, paths = FakeWg(), {}
    poll(direct, fake, paths, 1000)
    fake.peers[B1].update(handshake=1001, rx=92)
    poll(direct, fake, paths, 1001)
    assert fake.peers[B1]["allowed"] == "10.250.0.21/32"
    # Keepalives every 5 s keep it; 16 s without a byte from the other Dom0 end it.
    fake.peers[B1]["rx"] = 124
    poll(direct, fake, paths, 1005)
    assert poll(direct, fake, paths, 1005 + direct.STALL - 1) == []
    assert poll(direct, fake, paths, 1005 + direct.STALL) == [
        "10.250.0.21: through the hub (the direct path at 198.51.100.2:40001 went silent)"]
    assert fake.peers[B1]["allowed"] == ""
    # Bytes again, but on the old session: still the hub.
    fake.peers[B1]["rx"] = 156
    assert poll(direct, fake, paths, 1030) == [] and fake.peers[B1]["allowed"] == ""
    fake.peers[B1].update(handshake=1031, rx=300)
    assert poll(direct, fake, paths, 1032) == ["10.250.0.21: direct at 198.51.100.2:40001"]


def test_an_expired_session_goes_back_to_the_hub_even_while_bytes_come(direct):
    fake, paths = FakeWg(), {}
    poll(direct, fake, paths, 1000)
    fake.peers[B1].update(handshake=1001, rx=92)
    poll(direct, fake, paths, 1001)
    for now in range(1002, 1001 + direct.REJECT_AFTER, 5):
        fake.peers[B1]["rx"] += 32
        poll(direct, fake, paths, now)
        assert fake.peers[B1]["allowed"] == "10.250.0.21/32", now
    fake.peers[B1]["rx"] += 32
    assert poll(direct, fake, paths, 1001 + direct.REJECT_AFTER)[0].startswith("10.250.0.21: through the hub")


def test_peers_that_are_no_longer_candidates_go_but_the_interface_s_own_peers_stay(direct):
    fake, paths = FakeWg(), {}
    two = dict(CANDIDATES, **{B2: {"public_key": B2, "endpoint": "198.51.100.3:40002", "address": "10.250.0.22"}})
    poll(direct, fake, paths, 1000, two)
    assert set(fake.peers) == {HUB, B1, B2}
    assert sorted(poll(direct, fake, paths, 1001, {})) == ["peer %s: no longer a candidate, removed" % k for k in sorted([B1, B2])]
    assert set(fake.peers) == {HUB} and paths == {}


def test_a_new_endpoint_is_given_to_wg_while_the_pair_is_on_the_hub(direct):
    fake, paths = FakeWg(), {}
    poll(direct, fake, paths, 1000)
    moved = {B1: dict(CANDIDATES[B1], endpoint="198.51.100.2:40999")}
    assert poll(direct, fake, paths, 1001, moved) == ["10.250.0.21: trying a direct path to 198.51.100.2:40999, its new endpoint"]
    assert fake.peers[B1]["endpoint"] == "198.51.100.2:40999"
    # wg's own roaming is not undone at the next poll.
    fake.peers[B1]["endpoint"] = "198.51.100.2:41000"
    assert poll(direct, fake, paths, 1002, moved) == [] and fake.peers[B1]["endpoint"] == "198.51.100.2:41000"


def test_a_peer_that_wg_lost_is_tried_again(direct):
    # wg syncconf (a reload of the unit for new hub peers) removes the peers that are not in the file.
    fake, paths = FakeWg(), {}
    poll(direct, fake, paths, 1000)
    fake.peers[B1].update(handshake=1001, rx=92)
    poll(direct, fake, paths, 1001)
    del fake.peers[B1]
    assert poll(direct, fake, paths, 1002) == ["10.250.0.21: trying a direct path to 198.51.100.2:40001"]
    assert fake.peers[B1]["allowed"] == "" and not paths[B1].direct


def test_the_state_file_and_the_candidates_file(direct, tmp_path, monkeypatch):
    monkeypatch.setattr(direct, "STATE_DIR", str(tmp_path))
    fake, paths = FakeWg(), {}
    poll(direct, fake, paths, 1000)
    fake.peers[B1].update(handshake=1001, rx=92)
    poll(direct, fake, paths, 1001)
    direct.write_state("wg-mvc", CANDIDATES, paths, 1001)
    state = json.loads((tmp_path / "wg-mvc.direct.json").read_text())
    assert state == {"10.250.0.21": {"path": "direct", "endpoint": "198.51.100.2:40001", "since": 1001}}
    f = tmp_path / "wg-mvc.direct"
    f.write_text(json.dumps(list(CANDIDATES.values())))
    assert direct.read_candidates(str(f)) == CANDIDATES
    assert direct.read_candidates(str(tmp_path / "none")) == {}
    conf = tmp_path / "wg-mvc.conf"
    conf.write_text("[Interface]\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.250.0.0/24\n" % HUB)
    assert direct.configured_keys(str(conf)) == {HUB}
