"""The watchdog of direct WireGuard paths (roles/wireguard_edge/files/mvc-wg-direct), against a fake wg."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import struct
import time

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
ANSWERED = frozenset(["10.250.0.21"])


def poll(direct, fake, paths, now, candidates=None, answered=frozenset()):
    direct.wg = fake
    return direct.step("wg-mvc", CANDIDATES if candidates is None else candidates, {HUB}, paths, now, answered)


def go_direct(direct, fake, paths):
    poll(direct, fake, paths, 1000)
    fake.peers[B1].update(handshake=1001, rx=92)
    assert poll(direct, fake, paths, 1001) == ["10.250.0.21: direct at 198.51.100.2:40001"]


def test_a_candidate_is_tried_with_no_allowed_ips_then_goes_direct_once_it_shook_hands(direct):
    fake, paths = FakeWg(), {}
    assert poll(direct, fake, paths, 1000) == ["10.250.0.21: trying a direct path to 198.51.100.2:40001"]
    assert fake.peers[B1] == {"endpoint": "198.51.100.2:40001", "allowed": "", "handshake": 0, "rx": 0}
    assert ("set", "wg-mvc", "peer", B1, "endpoint", "198.51.100.2:40001", "persistent-keepalive", "5",
            "allowed-ips", "") in fake.calls
    # No handshake yet: the hub keeps the pair, whatever else comes.
    assert poll(direct, fake, paths, 1001, answered=ANSWERED) == [] and fake.peers[B1]["allowed"] == ""
    fake.peers[B1].update(handshake=1002, rx=92)
    assert poll(direct, fake, paths, 1003) == ["10.250.0.21: direct at 198.51.100.2:40001"]
    assert fake.peers[B1]["allowed"] == "10.250.0.21/32"
    assert fake.peers[HUB]["allowed"] == "10.250.0.0/24"
    assert poll(direct, fake, paths, 1004, answered=ANSWERED) == []


def test_a_direct_path_whose_pings_stop_being_answered_goes_back_to_the_hub_until_a_new_handshake(direct):
    # Keepalives say nothing here: a Dom0 that hears the other's keepalive does not send its own, so one end of a
    # working pair may hear nothing for minutes. An echo's reply comes back only if both ends are direct.
    fake, paths = FakeWg(), {}
    go_direct(direct, fake, paths)
    for now in range(1002, 1001 + direct.STALL + 5):
        assert poll(direct, fake, paths, now, answered=ANSWERED) == [], now
    last = 1001 + direct.STALL + 4
    assert poll(direct, fake, paths, last + direct.STALL - 1) == []
    assert poll(direct, fake, paths, last + direct.STALL) == [
        "10.250.0.21: through the hub (the direct path at 198.51.100.2:40001 stopped answering)"]
    assert fake.peers[B1]["allowed"] == ""
    # Replies again, but on the old session: still the hub.
    assert poll(direct, fake, paths, last + direct.STALL + 1, answered=ANSWERED) == [] and fake.peers[B1]["allowed"] == ""
    fake.peers[B1]["handshake"] = last + direct.STALL + 2
    assert poll(direct, fake, paths, last + direct.STALL + 3) == ["10.250.0.21: direct at 198.51.100.2:40001"]


def test_just_after_going_direct_the_other_end_has_a_grace_period_to_follow(direct):
    fake, paths = FakeWg(), {}
    go_direct(direct, fake, paths)
    assert poll(direct, fake, paths, 1001 + direct.STALL - 1) == []
    assert poll(direct, fake, paths, 1001 + direct.STALL)[0].startswith("10.250.0.21: through the hub")


def test_an_expired_session_goes_back_to_the_hub_even_while_pings_are_answered(direct):
    fake, paths = FakeWg(), {}
    go_direct(direct, fake, paths)
    for now in range(1002, 1001 + direct.REJECT_AFTER, 5):
        poll(direct, fake, paths, now, answered=ANSWERED)
        assert fake.peers[B1]["allowed"] == "10.250.0.21/32", now
    assert poll(direct, fake, paths, 1001 + direct.REJECT_AFTER, answered=ANSWERED)[0].startswith("10.250.0.21: through the hub")


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
    go_direct(direct, fake, paths)
    del fake.peers[B1]
    assert poll(direct, fake, paths, 1002) == ["10.250.0.21: trying a direct path to 198.51.100.2:40001"]
    assert fake.peers[B1]["allowed"] == "" and not paths[B1].direct


def test_the_pinger_counts_its_own_echo_replies_on_loopback(direct):
    # A raw ICMP socket, as the unit gives it (CAP_NET_RAW; the tests run as root); traffic to loopback only.
    pinger = direct.Pinger()
    try:
        pinger.replies()  # what the socket saw before
        got = set()
        deadline = time.monotonic() + 5
        while "127.0.0.1" not in got and time.monotonic() < deadline:
            pinger.send("127.0.0.1")
            time.sleep(0.1)
            got |= pinger.replies()
        assert got == {"127.0.0.1"}
        # A packet that carries its own checksum sums to zero.
        header = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"x"
        assert direct.checksum(struct.pack("!BBHHH", 8, 0, direct.checksum(header), 0x1234, 1) + b"x") == 0
    finally:
        pinger.sock.close()


def test_the_state_file_and_the_candidates_file(direct, tmp_path, monkeypatch):
    monkeypatch.setattr(direct, "STATE_DIR", str(tmp_path))
    fake, paths = FakeWg(), {}
    go_direct(direct, fake, paths)
    direct.write_state("wg-mvc", direct.render_state(CANDIDATES, paths))
    state = json.loads((tmp_path / "wg-mvc.direct.json").read_text())
    assert state == {"10.250.0.21": {"path": "direct", "endpoint": "198.51.100.2:40001", "since": 1001}}
    f = tmp_path / "wg-mvc.direct"
    f.write_text(json.dumps(list(CANDIDATES.values())))
    assert direct.read_candidates(str(f)) == CANDIDATES
    assert direct.read_candidates(str(tmp_path / "none")) == {}
    conf = tmp_path / "wg-mvc.conf"
    conf.write_text("[Interface]\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.250.0.0/24\n" % HUB)
    assert direct.configured_keys(str(conf)) == {HUB}
