"""A real STAC API for the tests: stac-fastapi-pgstac on PostgreSQL 15 + PostGIS, on 127.0.0.1.

The session fixture ``stac_api`` starts one PostgreSQL server (a temporary data folder owned by
the ``postgres`` user when the tests run as root, ``--auth=trust``, ``fsync=off``, a free port on
127.0.0.1), migrates pgstac once, copies that database as a template for each mirror, loads the
real catalogue JSON of ``../shared/data/stac`` with pypgstac and starts one
``uvicorn stac_fastapi.pgstac.app:create_app --factory`` per database (Transactions enabled):

* ``earth-search``: the Earth Search v1 collections and items recorded in the pystac-client
  cassettes (Sentinel-2 L2A/L1C/C1-L2A, Sentinel-1 GRD, Landsat C2 L2);
* ``planetary-computer``: the Planetary Computer collections and items (Sentinel-2 L2A, ASTER L1T,
  NAIP, Landsat 8 C2 L2 collection);
* ``partner``: empty, for publishing through Transactions.

Two real APIs share collection ids (``sentinel-2-l2a``), hence one database per mirror.
Everything is torn down at the end of the session, also after failures. Missing PostgreSQL/PostGIS
or server packages make the fixture FAIL with the install command (they are part of the test
setup); only a non-root user who cannot run PostgreSQL binaries gets a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["StacApi", "free_port", "real_stac_documents", "stac_api"]

PG_BIN = Path(os.environ.get("GEOSURVEY_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_SHARE = Path(os.environ.get("GEOSURVEY_PG_SHARE", "/usr/share/postgresql/15"))
INSTALL_HINT = (
    "install them with: apt-get install -y postgresql-15 postgresql-15-postgis-3 && "
    "pip install 'stac-fastapi-pgstac[server]' 'pypgstac[psycopg]'"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# the real catalogue JSON
# ---------------------------------------------------------------------------------------------


def _cassette_bodies(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import yaml

    for path in sorted(folder.rglob("*.yaml")):
        if path.name == "test_fields.yaml":
            continue  # responses limited by the `fields` extension: not whole items
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            try:
                body = json.loads(interaction["response"]["body"]["string"])
            except (TypeError, ValueError):
                continue
            if isinstance(body, dict):
                yield interaction["request"]["uri"], body


def _api_of(uri: str) -> str | None:
    if "earth-search.aws.element84.com/v1" in uri:
        return "earth-search"
    if "planetarycomputer.microsoft.com" in uri:
        return "planetary-computer"
    return None


def real_stac_documents(stac_dir: Path) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """The real collections and items in ``stac_dir``, by API: ``{api: {"collections": {id: doc},
    "items": {(collection, id): doc}}}``. Items are whole features from recorded responses and the
    stactools ASTER item; a collection that no recording holds is not invented here."""
    out: dict[str, dict[str, dict[Any, dict[str, Any]]]] = {
        api: {"collections": {}, "items": {}} for api in ("earth-search", "planetary-computer")
    }
    for uri, body in _cassette_bodies(stac_dir / "pystac_client_cassettes"):
        api = _api_of(uri)
        if api is None:
            continue
        if body.get("type") == "Collection" or ("extent" in body and "license" in body):
            out[api]["collections"][body["id"]] = {**body, "type": "Collection"}
        elif "collections" in body and isinstance(body["collections"], list):
            for coll in body["collections"]:
                out[api]["collections"][coll["id"]] = {**coll, "type": "Collection"}
        features = body.get("features") if body.get("type") == "FeatureCollection" else None
        if body.get("type") == "Feature":
            features = [body]
        for feature in features or []:
            out[api]["items"][(feature["collection"], feature["id"])] = feature
    for name in ("planetary-computer-collection.json", "planetary-computer-aster-l1t-collection.json"):
        path = stac_dir / "pystac_client_data" / name
        if path.exists():
            doc = json.loads(path.read_text())
            out["planetary-computer"]["collections"].setdefault(doc["id"], doc)
    aster = stac_dir / "stactools_aster" / "AST_L1T_00305032000040446_20150409135350_78838.json"
    if aster.exists():
        doc = json.loads(aster.read_text())
        doc["collection"] = "aster-l1t"
        out["planetary-computer"]["items"][("aster-l1t", doc["id"])] = doc
    return out


# ---------------------------------------------------------------------------------------------
# the servers
# ---------------------------------------------------------------------------------------------


@dataclass
class StacApi:
    """The running PostgreSQL and one STAC API per mirror."""

    pg_port: int
    workdir: Path
    urls: dict[str, str] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _as_postgres: list[str] = field(default_factory=list)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"

    def start_app(self, database: str, *, name: str | None = None) -> tuple[str, subprocess.Popen[bytes]]:
        """Start one more uvicorn app on ``database``; returns its URL and process (the caller
        may stop it: the session's own apps are kept in ``urls``)."""
        port = free_port()
        env = {
            **os.environ,
            "PGUSER": "postgres",
            "PGPASSWORD": "",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.pg_port),
            "PGDATABASE": database,
            "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
            "DB_MIN_CONN_SIZE": "1",
            "DB_MAX_CONN_SIZE": "4",
            "WEB_CONCURRENCY": "1",
        }
        log = open(self.workdir / f"uvicorn-{name or database}-{port}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/_mgmt/ping", proc, self.workdir / log.name)
        return url, proc

    def psql(self, database: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        for proc in self._procs.values():
            _terminate(proc)
        self._procs.clear()
        ctl = [*self._as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.workdir / "pg"), "-m", "immediate", "stop"]
        subprocess.run(ctl, capture_output=True, timeout=60, check=False)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the STAC API exited ({proc.returncode}); log:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).ok:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the STAC API did not answer {url} within {timeout} s; log:\n{log.read_text()[-3000:]}")


def _require_tools() -> list[str]:
    """Check the server's parts are installed; return the command prefix to run as postgres."""
    missing = []
    if not (PG_BIN / "initdb").exists():
        missing.append(f"PostgreSQL 15 ({PG_BIN / 'initdb'})")
    if not (PG_SHARE / "extension" / "postgis.control").exists():
        missing.append(f"PostGIS 3 ({PG_SHARE / 'extension' / 'postgis.control'})")
    for module in ("stac_fastapi.pgstac", "pypgstac", "uvicorn", "psycopg", "yaml"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"Python package {module}")
    if missing:
        pytest.fail(f"the test STAC API needs {', '.join(missing)}; {INSTALL_HINT}", pytrace=False)
    if os.geteuid() != 0:
        return []  # PostgreSQL runs as this user
    runuser = shutil.which("runuser") or shutil.which("su")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root needs a 'postgres' user to run PostgreSQL; " + INSTALL_HINT, pytrace=False)
    if runuser is None:
        pytest.fail("running as root needs runuser (util-linux) to start PostgreSQL as 'postgres'", pytrace=False)
    return [runuser, "-u", "postgres", "--"]


def _start_postgres(workdir: Path, as_postgres: list[str]) -> int:
    pgdata = workdir / "pg"
    sockets = workdir / "sock"
    sockets.mkdir()
    if as_postgres:
        import pwd

        pw = pwd.getpwnam("postgres")
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        os.chown(sockets, pw.pw_uid, pw.pw_gid)
    try:
        subprocess.run(
            [*as_postgres, str(PG_BIN / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync", "--locale=C"],
            check=True, capture_output=True, timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        if not as_postgres and os.geteuid() != 0:
            pytest.skip(f"cannot run PostgreSQL as this user: {exc.stderr.decode()[-300:]}")
        raise RuntimeError(f"initdb failed: {exc.stderr.decode()[-2000:]}") from exc
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c fsync=off -c synchronous_commit=off "
        f"-c full_page_writes=off -c unix_socket_directories={sockets} -c max_connections=60"
    )
    subprocess.run(
        [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-o", options, "-l",
         str(workdir / "postgres.log"), "-w", "-t", "60", "start"],
        check=True, capture_output=True, timeout=90,
    )
    return port


def _prepare_databases(api: StacApi, names: list[str]) -> None:
    from pypgstac.db import PgstacDB
    from pypgstac.migrate import Migrate

    api.psql("postgres", "CREATE DATABASE pgstac_template")
    api.psql("pgstac_template", "CREATE EXTENSION postgis; CREATE EXTENSION btree_gist;")
    with PgstacDB(dsn=api.dsn("pgstac_template")) as db:
        Migrate(db).run_migration()
    api.psql(
        "pgstac_template",
        "INSERT INTO pgstac.pgstac_settings (name, value) VALUES ('context', 'on') "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    for name in names:
        api.psql("postgres", f'CREATE DATABASE "{name}" TEMPLATE pgstac_template')


def _load_documents(api: StacApi, database: str, docs: dict[str, dict[Any, dict[str, Any]]]) -> None:
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    collections = dict(docs["collections"])
    needed = {cid for cid, _ in docs["items"]}
    missing = needed - set(collections)
    if missing:
        raise RuntimeError(f"no real collection JSON for {sorted(missing)} in the recordings")
    with PgstacDB(dsn=api.dsn(database)) as db:
        loader = Loader(db)
        loader.load_collections(iter(collections.values()), insert_mode=Methods.upsert)
        loader.load_items(iter(docs["items"].values()), insert_mode=Methods.upsert)


@pytest.fixture(scope="session")
def stac_api() -> Iterator[StacApi]:
    """The running STAC APIs (see the module docstring); ``stac_api.urls[name]``."""
    stac_dir = Path(os.environ.get("GEOSURVEY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "stac"
    if not stac_dir.exists():
        pytest.skip(f"real data not available: {stac_dir} is missing (it ships beside the repo as ../shared/data)")
    as_postgres = _require_tools()
    workdir = Path(tempfile.mkdtemp(prefix="geosurvey-stac-api-"))
    api = StacApi(pg_port=0, workdir=workdir, _as_postgres=as_postgres)
    try:
        api.pg_port = _start_postgres(workdir, as_postgres)
        documents = real_stac_documents(stac_dir)
        api.documents = documents
        _prepare_databases(api, ["earth_search", "planetary_computer", "partner"])
        _load_documents(api, "earth_search", documents["earth-search"])
        _load_documents(api, "planetary_computer", documents["planetary-computer"])
        for name, database in (("earth-search", "earth_search"), ("planetary-computer", "planetary_computer"),
                               ("partner", "partner")):
            url, proc = api.start_app(database, name=name)
            api.urls[name] = url
            api._procs[name] = proc
        yield api
    finally:
        api.stop()
        shutil.rmtree(workdir, ignore_errors=True)
