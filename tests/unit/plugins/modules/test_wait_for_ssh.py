# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import socket
import threading

from ansible_collections.cmc.mvc.plugins.modules import wait_for_ssh


def server(greeting):
    """A listener on loopback that sends greeting to each connection; returns its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

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


def test_only_an_ssh_greeting_counts():
    ssh, http = server(b"SSH-2.0-OpenSSH_9.2\r\n"), server(b"HTTP/1.1 400\r\n")
    try:
        assert wait_for_ssh.greets("127.0.0.1", ssh.getsockname()[1], 2)
        assert not wait_for_ssh.greets("127.0.0.1", http.getsockname()[1], 2)
    finally:
        ssh.close()
        http.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert not wait_for_ssh.greets("127.0.0.1", port, 1)
