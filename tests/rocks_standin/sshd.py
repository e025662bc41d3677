# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper (never shipped): a private sshd on a loopback address that serves the rocks stand-in.

Each StandinFrontend has its own host key, a temporary authorized key, and ``rocks`` (the stand-in) first on
the PATH of the login (``SetEnv``), answering from its own data file. It is started by the test and stopped by
its recorded PID. Must run as root (sshd privilege separation).
"""
import json
import os
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port(address):
    s = socket.socket()
    s.bind((address, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def client_key(workdir):
    """Create (once) a client key pair in workdir; return (private key path, public key text)."""
    key = os.path.join(workdir, "client_ed25519")
    if not os.path.exists(key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cmc-mvc-test", "-f", key], check=True)
    with open(key + ".pub") as f:
        return key, f.read()


class StandinFrontend:
    def __init__(self, workdir, name, address, data=None, version="7", pubkey="", port=None, netns=None,
                 ready_from_log=False):
        """``port``/``netns``: a fixed port inside network namespace ``netns`` (the lab's frontends), where
        ``address`` must still be reachable from the caller's namespace, unless ``ready_from_log``: then
        start() waits for sshd's "Server listening" line instead of connecting (private addresses)."""
        self.dir = os.path.join(workdir, "sshd-" + name)
        os.makedirs(os.path.join(self.dir, "bin"), exist_ok=True)
        self.name = name
        self.address = address
        self.port = port or free_port(address)
        self.netns = netns
        self.ready_from_log = ready_from_log
        self.proc = None
        self.datafile = os.path.join(self.dir, "rocks-standin.json")
        if data is not None:
            self.write_data(data)
        shutil.copy(os.path.join(HERE, "rocks"), os.path.join(self.dir, "bin", "rocks"))
        os.chmod(os.path.join(self.dir, "bin", "rocks"), 0o755)
        self.hostkey = os.path.join(self.dir, "hostkey")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.hostkey], check=True)
        with open(os.path.join(self.dir, "authorized_keys"), "w") as f:
            f.write(pubkey)
        self.log = os.path.join(self.dir, "sshd.log")
        path = "%s:/usr/local/bin:/usr/bin:/bin" % os.path.join(self.dir, "bin")
        with open(os.path.join(self.dir, "sshd_config"), "w") as f:
            f.write("\n".join([
                "Port %d" % self.port,
                "ListenAddress %s" % address,
                "HostKey %s" % self.hostkey,
                "PidFile none",
                "AuthorizedKeysFile %s" % os.path.join(self.dir, "authorized_keys"),
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "AllowTcpForwarding yes",
                "LogLevel VERBOSE",
                "MaxStartups 100:30:200",
                "SetEnv PATH=%s ROCKS_STANDIN_DATA=%s ROCKS_STANDIN_VERSION=%s" % (path, self.datafile, version),
                "",
            ]))

    def write_data(self, data):
        tmp = self.datafile + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.datafile)

    def start(self):
        os.makedirs("/run/sshd", exist_ok=True)
        argv = [SSHD, "-D", "-e", "-f", os.path.join(self.dir, "sshd_config")]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv  # ip execs sshd: the PID stays sshd's
        with open(self.log, "ab") as log:
            logged = log.tell()
            # Own session: a lab sshd outlives the command that started it (and its terminal).
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        listening = "Server listening on %s port %d." % (self.address, self.port)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                with open(self.log) as f:
                    raise RuntimeError("sshd %s exited: %s" % (self.name, f.read()[-2000:]))
            if self.ready_from_log:
                with open(self.log) as f:
                    f.seek(logged)
                    if listening in f.read():
                        return self
                time.sleep(0.05)
                continue
            try:
                socket.create_connection((self.address, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd %s did not listen on %s:%d" % (self.name, self.address, self.port))

    def stop(self):
        """Stop this sshd by its recorded PID (and only it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        with open(self.log) as f:
            return f.read()
