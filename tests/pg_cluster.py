"""A throwaway PostgreSQL + PostGIS cluster for the tests: ``initdb`` in a temporary folder, ``pg_ctl start`` on a
free port on 127.0.0.1, ``CREATE EXTENSION postgis``, removed afterwards. No mocks: the tests talk to a real server.

The binaries are Debian's (``/usr/lib/postgresql/<version>/bin``; ``.ci/run`` installs ``postgresql`` and the
PostGIS package). PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` user (made by
Debian's package) or, without it, as ``nobody``; as a normal user it runs as that user. Clients authenticate with a
password (scram-sha-256) kept in a ``pgpass`` file that :func:`start` returns, so the tests exercise the same
password route users have (``PGPASSFILE``/``~/.pgpass`` or ``PGPASSWORD``).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "kmrv_test"
DATABASE = "kmrv"


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` folder holding ``initdb`` and ``pg_ctl`` (or one on ``PATH``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def postgis_installed(bindir: Path) -> bool:
    """Whether the PostGIS extension is installed for the server in ``bindir``."""
    try:
        share = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        share = str(bindir.parent.parent.parent.parent / "share" / "postgresql" / bindir.parent.name)
    return Path(share, "extension", "postgis.control").exists()


def missing_reason() -> str | None:
    """Why a cluster cannot be started here (``None`` when it can)."""
    bindir = find_bindir()
    if bindir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)"
    if not postgis_installed(bindir):
        return f"PostGIS is not installed for {bindir} (apt-get install postgresql-postgis)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """A running throwaway cluster.

    Attributes
    ----------
    port : int
    password : str
        The superuser's password (also in :attr:`pgpass`).
    pgpass : Path
        A ``pgpass`` file (mode 600) holding the password: point ``PGPASSFILE`` at it.
    """

    bindir: Path
    root: Path
    port: int
    password: str
    pgpass: Path
    run_as: str | None

    @property
    def dsn(self) -> str:
        """``postgresql://kmrv_test@127.0.0.1:PORT/kmrv`` (no password: it comes from the pgpass file)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def url(self, database: str = DATABASE) -> str:
        """The connection URL of another database of the cluster."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120, **kwargs)

    def stop(self) -> None:
        """Stop the server and remove every file of the cluster."""
        try:
            self._run("pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "immediate", "-w")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Cluster:
    """Create and start a cluster with database ``kmrv`` and the PostGIS extension; see :class:`Cluster`.

    Raises
    ------
    RuntimeError
        If the binaries are missing (:func:`missing_reason`) or the server does not start (with its log).
    """
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    bindir = find_bindir()
    run_as = None
    if os.geteuid() == 0:
        names = {entry.pw_name for entry in pwd.getpwall()}
        run_as = "postgres" if "postgres" in names else "nobody"
    root = Path(tempfile.mkdtemp(prefix="kmrv-pg-"))  # not under pytest's tmp: the server user must reach it
    password = secrets.token_hex(12)
    cluster = Cluster(bindir=bindir, root=root, port=_free_port(), password=password, pgpass=root / "pgpass",
                      run_as=run_as)
    try:
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n", encoding="utf-8")
        (root / "data").mkdir()
        (root / "socket").mkdir()
        if run_as:
            entry = pwd.getpwnam(run_as)
            for path in (root, root / "data", root / "socket", pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cluster._run("initdb", "-D", str(root / "data"), "-U", SUPERUSER, "--pwfile", str(pwfile),
                     "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        pwfile.unlink()
        options = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -c unix_socket_directories={root / 'socket'} " \
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
        cluster._run("pg_ctl", "start", "-D", str(root / "data"), "-l", str(root / "server.log"), "-o", options,
                     "-w", "-t", "60")
        cluster.pgpass.write_text(f"127.0.0.1:{cluster.port}:*:{SUPERUSER}:{password}\n", encoding="utf-8")
        cluster.pgpass.chmod(0o600)
        env = {**os.environ, "PGPASSFILE": str(cluster.pgpass)}
        psql = str(bindir / "psql")
        base = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", SUPERUSER]
        subprocess.run([*base, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"], check=True, env=env,
                       capture_output=True, text=True, timeout=60)
        _wait_for_postgis(base, env)
    except Exception as exc:
        log = (root / "server.log").read_text(errors="replace")[-2000:] if (root / "server.log").exists() else ""
        detail = getattr(exc, "stderr", "") or ""
        cluster.stop()
        raise RuntimeError(f"the test PostgreSQL cluster did not start: {exc} {detail}\n{log}") from exc
    return cluster


def _wait_for_postgis(base: list[str], env: dict) -> None:
    for attempt in range(3):
        try:
            subprocess.run([*base, "-d", DATABASE, "-c", "CREATE EXTENSION IF NOT EXISTS postgis"], check=True,
                           env=env, capture_output=True, text=True, timeout=120)
            return
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
            time.sleep(1)
