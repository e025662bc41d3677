# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmc.mvc.wait_for_ssh through ansible-playbook on loopback: progress lines while it waits, in the normal
output and read as they come, and a timeout that names the node that never answered."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Wait for the nodes
      cmc.mvc.wait_for_ssh:
        nodes: %(nodes)s
        port: %(port)d
        interval: %(interval)d
        timeout: %(timeout)d
      register: waited
    - name: When each node answered
      ansible.builtin.debug:
        msg: "answered_after={{ waited.answered_after | to_json }}"
"""


def listener(address, port, greeting=b"SSH-2.0-test\r\n"):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(8)

    def serve():
        while True:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(greeting)

    threading.Thread(target=serve, daemon=True).start()
    return sock


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(tmp_path, port, timeout, nodes=("early 127.0.0.1", "late 127.0.0.2"), interval=1):
    play = tmp_path / "play.yml"
    listed = ", ".join("{name: %s, address: %s}" % tuple(n.split()) for n in nodes)
    play.write_text(PLAY % dict(port=port, timeout=timeout, interval=interval, nodes="[%s]" % listed))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    return subprocess.Popen(["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable, str(play)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def test_progress_is_printed_while_waiting_and_the_wait_ends_when_all_answer(tmp_path):
    port = free_port()
    early = listener("127.0.0.1", port)
    late = None
    proc = run(tmp_path, port, 120)
    lines, progress_seen_at, started_late_at = [], None, None
    try:
        for line in proc.stdout:
            lines.append(line)
            if progress_seen_at is None and "SSH answers on 1 of 2 nodes after" in line:
                progress_seen_at = time.monotonic()
                assert line.rstrip().endswith("waiting for late (127.0.0.2)"), line
                # Only now does the second node answer: the line came while the task was still waiting.
                late = listener("127.0.0.2", port)
                started_late_at = time.monotonic()
        assert proc.wait(timeout=60) == 0, "".join(lines)
    finally:
        early.close()
        if late:
            late.close()
    out = "".join(lines)
    assert progress_seen_at is not None and started_late_at is not None, out
    assert "ok: [localhost]" in out and "failed=0" in out, out


def test_a_node_is_seen_within_seconds_of_answering_not_at_the_next_round(tmp_path):
    # Rounds of 12 s; late starts answering 2 s after the first round's line. Seen only at the next round (as the
    # module did before it probed within a round) the wait would end about 10 s later; it ends within about a second.
    port = free_port()
    early = listener("127.0.0.1", port)
    late, timer, started = [], None, {}

    def start_late():
        late.append(listener("127.0.0.2", port))
        started["late"] = time.monotonic()

    proc = run(tmp_path, port, 120, interval=12)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if timer is None and "SSH answers on 1 of 2 nodes after" in line:
                timer = threading.Timer(2, start_late)
                timer.start()
            if "TASK [When each node answered]" in line:
                started["seen"] = time.monotonic()
        assert proc.wait(timeout=60) == 0, "".join(lines)
    finally:
        if timer:
            timer.cancel()
        for sock in [early] + late:
            sock.close()
    out = "".join(lines)
    assert "late" in started and "seen" in started, out
    waited = started["seen"] - started["late"]
    print("the wait ended %.1f s after the last node answered (rounds of 12 s)" % waited)
    assert waited < 6, out
    shown = re.search(r"answered_after=(\{[^}]*\})", out).group(1)
    after = json.loads(shown.replace('\\"', '"'))  # the debug line escapes the JSON's quotes
    assert after["early"] <= 2 and after["late"] >= 12, out


def test_nodes_that_never_greet_with_ssh_are_named_after_the_timeout(tmp_path):
    # late: nothing listens; web: something answers, but not SSH.
    port = free_port()
    early, web = listener("127.0.0.1", port), listener("127.0.0.3", port, greeting=b"HTTP/1.1 400 Bad Request\r\n")
    try:
        proc = run(tmp_path, port, 3, nodes=("early 127.0.0.1", "late 127.0.0.2", "web 127.0.0.3"))
        out = proc.communicate(timeout=120)[0]
    finally:
        early.close()
        web.close()
    assert proc.returncode != 0, out
    assert "SSH did not answer within 3 s from localhost on: late (127.0.0.2), web (127.0.0.3)" in out, out
