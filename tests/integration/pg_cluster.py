"""A real PostgreSQL 15 cluster for the tests: initdb in a temporary folder, the
postmaster a child process of this one, stopped on exit.

PostgreSQL refuses to run as root, so the cluster belongs to Debian's
unprivileged `postgres` user. Clients reach it two ways: the tests' own admin
connections over a Unix socket in the cluster's folder (trust: only root and
`postgres` can enter the folder), and the relays over TCP on 127.0.0.1 with
scram-sha-256 and a generated password, read from a 0600 file, as a real
deployment would. fsync stays on: durability across a crash is what the tests
check; the cluster is only made small (shared_buffers) and quick to start.

    with PgCluster() as pg:
        pg.start()
        uri = pg.create_database("relay_a")   # postgresql://relay@127.0.0.1:PORT/relay_a
        ... qa.database = uri, qa.database_password_file = pg.password_file ...
        pg.restart()      # fast shutdown and start again
        pg.stop(); ...; pg.start()   # down for a while
        pg.kill()         # immediate shutdown (no checkpoint: crash recovery on start)

As a command: `pg_cluster.py run -- COMMAND...` starts a cluster, runs COMMAND
with RELAY_TEST_POSTGRES (the URI of database `relay`),
RELAY_TEST_POSTGRES_PASSWORD_FILE and RELAY_TEST_POSTGRES_SOCKET (the admin
socket folder) in its environment, stops the cluster and exits with COMMAND's
status.
"""
import atexit
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("RELAY_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # the system account the server runs as
SUPERUSER = "relay"   # the database role the relays and tests connect as
DEFAULT_DB = "relay"

_PR_SET_PDEATHSIG = 1
_running = set()  # clusters whose server is up, for the exit handler


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_all():
    for cluster in list(_running):
        cluster.stop()


atexit.register(_stop_all)


class PgError(Exception):
    pass


class PgCluster:
    def __init__(self, workdir=None, max_connections=64):
        self.account = pwd.getpwnam(PG_USER)
        self.max_connections = max_connections
        self.dir = self._make_dir(workdir)
        self.data = os.path.join(self.dir, "data")
        self.socket_dir = os.path.join(self.dir, "sock")
        self.log_file = os.path.join(self.dir, "postgres.log")
        self.password_file = os.path.join(self.dir, "password")
        self.port = _free_port()
        self.password = secrets.token_hex(16)
        self.proc = None
        self.initialised = False
        self.databases = set()

    def _make_dir(self, workdir):
        # The server must be able to reach its folder: a test's own temporary
        # folder (mkdtemp, 0700) gets search permission for others (not read:
        # nothing in it can be listed), and a Unix socket path has at most 107
        # bytes, so a deep workdir falls back to the system's temp folder.
        if workdir is not None and len(os.path.abspath(workdir)) > 60:
            workdir = None
        if workdir is not None:
            path = os.path.abspath(workdir)
            while path != "/":
                mode = os.stat(path).st_mode
                if not mode & 0o001:
                    os.chmod(path, (mode & 0o7777) | 0o001)
                path = os.path.dirname(path)
        folder = tempfile.mkdtemp(prefix="relay-pg-", dir=workdir)
        os.chmod(folder, 0o711)
        return folder

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # The URI of database `name` (default: `relay`), without the password.
    def uri_of(self, name=DEFAULT_DB):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    @property
    def uri(self):
        return self.uri_of(DEFAULT_DB)

    def _as_postgres(self):
        uid, gid = self.account.pw_uid, self.account.pw_gid

        def demote():
            os.setgid(gid)
            os.setgroups([])
            os.setuid(uid)

        return demote

    def _initdb(self):
        for sub in (self.data, self.socket_dir):
            os.mkdir(sub, 0o700)
            os.chown(sub, self.account.pw_uid, self.account.pw_gid)
        # initdb reads the superuser's password from a file the server's account
        # can read; that copy is gone once it has.
        init_pw = os.path.join(self.socket_dir, "initdb-password")
        fd = os.open(init_pw, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        os.chown(init_pw, self.account.pw_uid, self.account.pw_gid)
        try:
            # --no-sync: flushing the fresh cluster to disk is not under test and
            # costs seconds; the server itself runs with fsync on.
            result = subprocess.run(
                [os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", SUPERUSER, "-E", "UTF8",
                 "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                 f"--pwfile={init_pw}", "--no-sync", "--no-instructions"],
                preexec_fn=self._as_postgres(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, timeout=120)
        finally:
            os.unlink(init_pw)
        if result.returncode != 0:
            raise PgError(f"initdb failed ({result.returncode}):\n{result.stdout[-2000:]}")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"""
# pg_cluster.py: a small test cluster on loopback
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.socket_dir}'
max_connections = {self.max_connections}
shared_buffers = 16MB
fsync = on
synchronous_commit = on
password_encryption = scram-sha-256
logging_collector = off
log_min_messages = warning
log_connections = off
""")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        self.initialised = True

    def start(self, timeout=30):
        """Starts the server (initdb the first time) and waits until it accepts connections."""
        if self.proc is not None and self.proc.poll() is None:
            return
        first = not self.initialised
        if first:
            self._initdb()
        log = open(self.log_file, "ab")
        libc = ctypes.CDLL(None, use_errno=True)
        demote = self._as_postgres()

        def child():
            demote()
            # A test killed outright (SIGKILL, a CI timeout) takes the server
            # with it: fast shutdown when this process's starting thread dies.
            # Set after the uid change, which would clear it.
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)
            os.setsid()  # a Ctrl-C at the terminal is for the test, which then stops the server

        try:
            self.proc = subprocess.Popen([os.path.join(PG_BIN, "postgres"), "-D", self.data],
                                         preexec_fn=child, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        _running.add(self)
        self._wait_ready(timeout)
        if first:
            self.create_database(DEFAULT_DB)

    def _wait_ready(self, timeout):
        # The postmaster writes "ready" on the 8th line of postmaster.pid once it
        # accepts connections (what pg_ctl -w and pg_isready rely on).
        pid_file = os.path.join(self.data, "postmaster.pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                _running.discard(self)
                raise PgError(f"postgres exited at start: {self.log_tail()}")
            try:
                with open(pid_file) as f:
                    lines = f.read().split("\n")
                if len(lines) > 7 and lines[0].strip() == str(self.proc.pid) and lines[7].strip() == "ready":
                    return
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        raise PgError(f"postgres did not accept connections within {timeout} s: {self.log_tail()}")

    def _shutdown(self, sig, timeout):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGQUIT)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None
        _running.discard(self)

    def stop(self, timeout=30):
        """Fast shutdown (pg_ctl stop -m fast): clients are disconnected, a checkpoint is written."""
        self._shutdown(signal.SIGINT, timeout)

    def kill(self):
        """Immediate shutdown (pg_ctl stop -m immediate): no checkpoint; the next start recovers from the WAL."""
        self._shutdown(signal.SIGQUIT, 10)

    def restart(self, timeout=30):
        """pg_ctl restart -m fast: every client loses its connection; the server is back at once."""
        self.stop()
        self.start(timeout)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def admin(self, dbname="postgres"):
        """A psycopg2 connection as the superuser over the Unix socket (autocommit)."""
        import psycopg2
        conn = psycopg2.connect(host=self.socket_dir, port=self.port, user=SUPERUSER, dbname=dbname,
                                connect_timeout=10)
        conn.autocommit = True
        return conn

    def sql(self, statement, params=None, dbname=DEFAULT_DB):
        """Runs one statement as the superuser; returns its rows (or None)."""
        conn = self.admin(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def create_database(self, name):
        """A new empty database; returns its URI (no password)."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits and _ only")
        self.sql(f'CREATE DATABASE "{name}"', dbname="postgres")
        self.databases.add(name)
        return self.uri_of(name)

    def log_tail(self, lines=30):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def cleanup(self):
        """Stops the server and deletes the cluster's folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _run(command):
    with PgCluster() as pg:
        pg.start()
        env = dict(os.environ)
        env["RELAY_TEST_POSTGRES"] = pg.uri
        env["RELAY_TEST_POSTGRES_PASSWORD_FILE"] = pg.password_file
        env["RELAY_TEST_POSTGRES_SOCKET"] = pg.socket_dir
        proc = subprocess.Popen(command, env=env)

        # ctest's timeout or a Ctrl-C: pass it on, then stop the cluster as usual.
        def forward(signum, _frame):
            if proc.poll() is None:
                proc.send_signal(signum)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, forward)
        status = proc.wait()
    return status if status >= 0 else 128 - status


def main(argv):
    if len(argv) >= 3 and argv[1] == "run" and argv[2] == "--" and len(argv) > 3:
        return _run(argv[3:])
    print(f"usage: {argv[0]} run -- COMMAND [ARGS...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
