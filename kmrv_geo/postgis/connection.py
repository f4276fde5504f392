"""PostgreSQL connections: parsed from a layer's ``path`` or ``--out``, never holding a password.

A connection is written as a libpq URI (``postgresql://user@host:5432/db``) or as GDAL writes it
(``PG:host=… port=… dbname=… user=…``). GDAL's own keys in a ``PG:`` string are understood: ``active_schema``
(and the first of ``schemas``) is the schema of a ``layer:`` without one, ``tables`` names the table when there is
no ``layer:``. ``--out`` takes the target schema as ``?schema=NAME``.

Passwords are refused in both places: a project file is shared and recorded in ``manifest.json``, a command line
lands in the shell history and the manifest. libpq takes the password from ``PGPASSWORD`` or from ``~/.pgpass``
(``PGPASSFILE``) itself; kmrv never sees or records it. Every message names the connection as :attr:`Connection.label`
(user, host, port, database — no secrets).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigError, DatabaseError

URI_SCHEMES = ("postgresql://", "postgres://")
GDAL_PREFIX = "PG:"
GDAL_KEYS = ("active_schema", "schemas", "tables")
"""Keys of a GDAL ``PG:`` string that are GDAL's, not libpq's."""
CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a server that does not answer (unless the connection or ``PGCONNECT_TIMEOUT`` says)."""
PASSWORD_FIX = ("put the password in the environment (PGPASSWORD) or in ~/.pgpass (one line "
                "host:port:database:user:password, chmod 600; PGPASSFILE names another file)")


def is_database(path) -> bool:
    """Whether a layer ``path`` or ``--out`` names a PostgreSQL database rather than a file or folder."""
    text = str(path).strip()
    return text.lower().startswith(URI_SCHEMES) or text.startswith(GDAL_PREFIX)


@dataclass(frozen=True)
class Connection:
    """A parsed PostgreSQL connection without password.

    Attributes
    ----------
    params : dict of str to str
        libpq connection parameters (host, port, dbname, user, sslmode …), never ``password``.
    label : str
        ``postgresql://user@host:port/db`` for messages and the manifest.
    schema : str or None
        ``?schema=`` of an ``--out`` URI, or GDAL's ``active_schema``/``schemas``.
    table : str or None
        GDAL's ``tables=`` (the layer when the config gives no ``layer:``).
    """

    params: dict = field(hash=False)
    label: str
    schema: str | None = None
    table: str | None = None

    @property
    def conninfo(self) -> str:
        """The libpq connection string (no password: libpq reads ``PGPASSWORD`` or ``~/.pgpass``)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.params)

    @property
    def user(self) -> str:
        """The user name libpq logs in as (from the connection, ``PGUSER`` or the login name)."""
        return self.params.get("user") or os.environ.get("PGUSER") or _login_name()


def _login_name() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no login name (containers): libpq would fail the same way
        return "?"


_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")


def _gdal_tokens(text: str) -> list[tuple[str, str]]:
    """``key=value`` pairs of a ``PG:`` string (values may be quoted as libpq allows)."""
    body, pos, out = text[len(GDAL_PREFIX):], 0, []
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        match = _TOKEN.match(body, pos)
        if not match:
            raise ValueError(f"cannot read the connection after {body[:pos]!r}; write it as "
                             "PG:host=HOST port=5432 dbname=DB user=USER")
        value = match.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((match.group(1), value))
        pos = match.end()
    return out


def _label(params: dict) -> str:
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host', '')}{port}/{params.get('dbname', '')}"


def password_given(text: str) -> bool:
    """Whether a connection written in a project file or on the command line holds a password."""
    try:
        _parse(text)
    except _PasswordGiven:
        return True
    except ValueError:
        return False
    return False


class _PasswordGiven(ValueError):
    pass


def _parse(text: str) -> Connection:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    text = text.strip()
    schema = table = None
    if text.startswith(GDAL_PREFIX):
        tokens = _gdal_tokens(text)
        gdal = {k: v for k, v in tokens if k in GDAL_KEYS}
        libpq = [(k, v) for k, v in tokens if k not in GDAL_KEYS]
        schema = gdal.get("active_schema") or (gdal.get("schemas", "").split(",")[0] or None)
        tables = [t for t in gdal.get("tables", "").split(",") if t]
        table = tables[0] if len(tables) == 1 else None
        conninfo = " ".join(f"{k}='{_quote(v)}'" for k, v in libpq)
    else:
        parts = urlsplit(text)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), None)
        conninfo = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "schema"])))
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}
    except ProgrammingError as exc:
        raise ValueError(f"not a valid PostgreSQL connection ({str(exc).strip()}); write it as "
                         "postgresql://USER@HOST:5432/DATABASE or PG:host=HOST port=5432 dbname=DATABASE "
                         "user=USER") from None
    if "password" in params:
        raise _PasswordGiven()
    return Connection(params=params, label=_label(params), schema=schema, table=table)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def redact(text: str) -> str:
    """A connection as text without any password in it (for messages about connections that hold one)."""
    text = re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", str(text))
    return re.sub(r"(?i)^((?:postgres|postgresql)://[^:/@?#]*):[^@/?#]*@", r"\1:***@", text)


def parse(text: str, *, where: str = "the connection") -> Connection:
    """Parse a connection written as ``postgresql://…`` or ``PG:…``.

    Parameters
    ----------
    text : str
        The connection (a layer's ``path`` or ``--out``).
    where : str
        What holds it, for messages (e.g. ``layers.pbf.path``).

    Returns
    -------
    Connection

    Raises
    ------
    ConfigError
        The text holds a password (refused: the message says where passwords go and never repeats the
        password), or it is not a connection libpq can read.
    """
    try:
        return _parse(text)
    except _PasswordGiven:
        raise ConfigError(f"{where}: the connection {redact(text)} holds a password; passwords are never taken from "
                          f"a project file or the command line (they are shared and recorded in manifest.json): "
                          f"remove it and {PASSWORD_FIX}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {redact(text)} is {exc}") from None


def _with_defaults(conn: Connection) -> str:
    params = dict(conn.params)
    if "connect_timeout" not in params and not os.environ.get("PGCONNECT_TIMEOUT"):
        params["connect_timeout"] = str(CONNECT_TIMEOUT_S)
    params.setdefault("application_name", "kmrv-geo")
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**params)


def connection_error(conn: Connection, exc: Exception) -> DatabaseError:
    """The :class:`~kmrv_geo.errors.DatabaseError` for a failed connection: what failed, where, and the fix."""
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
    lower = detail.lower()
    if "password authentication failed" in lower or "no password supplied" in lower or \
            "password is required" in lower or "authentication failed" in lower:
        return DatabaseError(f"the PostgreSQL server of {conn.label} refused the login of user {conn.user} (server "
                             f"said: {detail}); {PASSWORD_FIX} — the project file never holds passwords")
    if "database" in lower and "does not exist" in lower:
        return DatabaseError(f"{conn.label}: the database {conn.params.get('dbname', '?')!r} does not exist on that "
                             f"server (server said: {detail}); check the database name (postgresql://USER@HOST:PORT/"
                             "DATABASE)")
    if "pg_hba.conf" in lower:
        return DatabaseError(f"the PostgreSQL server of {conn.label} does not accept connections from this machine "
                             f"for user {conn.user} (server said: {detail}); ask its administrator to allow it in "
                             "pg_hba.conf")
    return DatabaseError(f"cannot reach the PostgreSQL server of {conn.label} ({detail}); check the host and port in "
                         "the connection, that the server is running and that it accepts TCP connections from this "
                         "machine (listen_addresses, pg_hba.conf, firewall)")


def connect(conn: Connection, *, autocommit: bool = False):
    """Open a psycopg connection.

    Returns
    -------
    psycopg.Connection

    Raises
    ------
    DatabaseError
        Unreachable server, refused login (wrong or missing password), unknown database, not allowed by
        ``pg_hba.conf``: the message names :attr:`Connection.label` and the fix.
    """
    import psycopg

    try:
        return psycopg.connect(_with_defaults(conn), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise connection_error(conn, exc) from None


def engine(conn: Connection):
    """A SQLAlchemy engine on ``conn`` (psycopg 3 driver; no pooling: kmrv opens few, short connections).

    The connection is opened here once, so that a bad connection fails with a :class:`DatabaseError` before
    any SQL is sent.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    connect(conn).close()
    return create_engine("postgresql+psycopg://", creator=lambda: connect(conn), poolclass=NullPool)


def quoted_name(schema: str | None, table: str) -> str:
    """``schema.table`` as written in messages and SQL hints (quoted only where needed)."""
    def one(name: str) -> str:
        return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'

    return f"{one(schema)}.{one(table)}" if schema else one(table)
