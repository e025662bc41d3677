"""Throw-away PostgreSQL 15 and MariaDB servers for tests: a temporary data directory, loopback only (a free
port on 127.0.0.1, plus a unix socket in the data directory), password authentication, stopped by the PID
they recorded, directory removed afterwards.

``acquire(kind)`` starts the server on first use and returns its details; ``release(kind)`` stops it after
the last user (the system tests and the benchmark share one server per pytest session).
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
_servers = {}
_users = {}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as(user, argv):
    """Run ``argv`` as ``user`` when we are root (both servers refuse to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--"] + argv
    return argv


def _wait_pidfile(path, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                first = f.readline().strip()
            if first.isdigit():
                return int(first)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        time.sleep(0.1)
    raise RuntimeError("%s wrote no PID file %s in %ss" % (what, path, timeout))


def _stop_pid(pid, sig=signal.SIGTERM, timeout=60):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _start_postgres():
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    top = tempfile.mkdtemp(prefix="cmc-mvc-pg-")
    os.chmod(top, 0o755)
    data = os.path.join(top, "data")
    password = secrets.token_urlsafe(16)
    pwfile = os.path.join(top, "pw")
    with open(pwfile, "w") as f:
        f.write(password + "\n")
    if os.geteuid() == 0:
        pw = pwd.getpwnam(user)
        os.chown(top, pw.pw_uid, pw.pw_gid)
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    os.chmod(pwfile, 0o600)
    subprocess.run(_as(user, [PG_BIN + "/initdb", "-D", data, "-U", "mvcadmin", "--pwfile", pwfile,
                              "--auth=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True, text=True)
    os.unlink(pwfile)
    port = free_port()
    log = open(os.path.join(top, "server.log"), "w")
    proc = subprocess.Popen(_as(user, [PG_BIN + "/postgres", "-D", data, "-p", str(port), "-k", top,
                                       "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                       "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                       "-c", "max_connections=100"]),
                            stdout=log, stderr=subprocess.STDOUT)
    pid = _wait_pidfile(os.path.join(data, "postmaster.pid"), proc, "postgres")
    info = {"kind": "postgresql", "top": top, "pid": pid, "proc": proc, "port": port, "user": "mvcadmin",
            "password": password, "log": log,
            "url": "postgresql+psycopg://mvcadmin@127.0.0.1:%d/%%s" % port}
    _wait_ready(info)
    return info


def _start_mariadb():
    user = "mysql" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    top = tempfile.mkdtemp(prefix="cmc-mvc-maria-")
    os.chmod(top, 0o755)
    data = os.path.join(top, "data")
    if os.geteuid() == 0:
        pw = pwd.getpwnam(user)
        os.chown(top, pw.pw_uid, pw.pw_gid)
    subprocess.run(_as(user, ["mariadb-install-db", "--no-defaults", "--datadir=" + data, "--skip-test-db",
                              "--auth-root-authentication-method=socket", "--skip-name-resolve"]),
                   check=True, capture_output=True, text=True)
    port = free_port()
    sock = os.path.join(top, "mysqld.sock")
    pidfile = os.path.join(top, "mariadbd.pid")
    log = open(os.path.join(top, "server.log"), "w")
    proc = subprocess.Popen(_as(user, ["mariadbd", "--no-defaults", "--datadir=" + data, "--socket=" + sock,
                                       "--port=%d" % port, "--bind-address=127.0.0.1", "--pid-file=" + pidfile,
                                       "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
                                       "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                                       "--max-connections=100"]),
                            stdout=log, stderr=subprocess.STDOUT)
    pid = _wait_pidfile(pidfile, proc, "mariadbd")
    password = secrets.token_urlsafe(16)
    info = {"kind": "mariadb", "top": top, "pid": pid, "proc": proc, "port": port, "user": "mvcadmin",
            "password": password, "log": log, "socket": sock,
            "url": "mysql+pymysql://mvcadmin@127.0.0.1:%d/%%s" % port}
    # root logs in through the socket as the OS user it runs as: make a password user for the tests.
    import pymysql
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = pymysql.connect(unix_socket=sock, user=user if os.geteuid() else "root")
            break
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.2)
    with conn.cursor() as cur:
        cur.execute("CREATE USER 'mvcadmin'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'mvcadmin'@'127.0.0.1' WITH GRANT OPTION")
    conn.close()
    _wait_ready(info)
    return info


def admin_engine(info, database=None):
    import sqlalchemy as sa
    url = sa.engine.make_url(info["url"] % (database or ("postgres" if info["kind"] == "postgresql" else "mysql")))
    return sa.create_engine(url.set(password=info["password"]), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)


def _wait_ready(info, timeout=60):
    import sqlalchemy as sa
    deadline = time.monotonic() + timeout
    engine = admin_engine(info)
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return
        except sa.exc.OperationalError:
            if time.monotonic() > deadline or info["proc"].poll() is not None:
                raise
            time.sleep(0.2)
        finally:
            engine.dispose()


def create_database(info, name):
    import sqlalchemy as sa
    engine = admin_engine(info)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE %s" % name))
    engine.dispose()
    return info["url"] % name


def drop_database(info, name):
    import sqlalchemy as sa
    engine = admin_engine(info)
    with engine.connect() as conn:
        conn.execute(sa.text("DROP DATABASE %s" % name))
    engine.dispose()


def acquire(kind):
    if kind not in _servers:
        _servers[kind] = {"postgresql": _start_postgres, "mariadb": _start_mariadb}[kind]()
    _users[kind] = _users.get(kind, 0) + 1
    return _servers[kind]


def release(kind):
    _users[kind] -= 1
    if _users[kind] > 0:
        return
    info = _servers.pop(kind)
    # postgres: SIGINT is its "fast" shutdown; mariadbd shuts down cleanly on SIGTERM.
    _stop_pid(info["pid"], signal.SIGINT if kind == "postgresql" else signal.SIGTERM)
    try:
        info["proc"].wait(timeout=30)  # the runuser parent, if any, exits with it
    except subprocess.TimeoutExpired:
        info["proc"].kill()
        info["proc"].wait()
    info["log"].close()
    shutil.rmtree(info["top"], ignore_errors=True)
