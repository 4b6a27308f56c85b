"""A sqlite MLflow store's first open in a process: created, migrated or repaired under a file
lock (``<db>.lock``), so that independent processes started at the same moment never run
MLflow's schema migration side by side (which bricks the store), and a kill never leaves it
half-migrated.

- A new (or empty) store is built beside the real path and moved into place when complete.
- An old schema is migrated on a copy, written back only once the migration has succeeded.
- A store an earlier crash left half-migrated (a leftover ``_alembic_tmp_*`` table, or a
  migration that fails part-way) is rebuilt when it holds no runs (the broken file kept beside
  it); else a leftover partial table copy is dropped and the migration re-run, and when that
  fails too the error names the command that fixes it, the store untouched.

Only sqlite URIs take the lock; a tracking server or a file store needs none."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import filelock

if TYPE_CHECKING:
    import sqlalchemy

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 900.0  # a migration takes seconds: longer means a stuck holder
TMP_PREFIX = "_alembic_tmp_"
# Tables whose rows are somebody's work: a store with none of them can be rebuilt.
DATA_TABLES = ("runs", "registered_models", "trace_info", "logged_models")
_locks: dict[str, filelock.FileLock] = {}
_ready: set[str] = set()


class HalfMigrated(RuntimeError):
    """The store cannot be brought to the current schema without losing what it holds."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores and in-memory ones)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextlib.contextmanager
def locked(uri: str) -> Iterator[None]:
    """Hold the store's lock (re-entrant within a process); nothing for a non-sqlite store or
    one whose directory takes no lock file (a read-only store is never migrated by us)."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    lock_file = str(path.resolve()) + ".lock"
    lock = _locks.setdefault(lock_file, filelock.FileLock(lock_file))
    try:
        held = acquire(lock)
    except filelock.Timeout as error:
        raise HalfMigrated(
            f"the MLflow store lock {lock_file} has been held for {LOCK_TIMEOUT_S:.0f} s; "
            "if no imgexp process is using the store, delete that file"
        ) from error
    try:
        yield
    finally:
        if held:
            lock.release()


def acquire(lock: filelock.FileLock) -> bool:
    """Take the lock, saying so when another process holds it; False when no lock file can be
    made there (a read-only directory: nothing there can be migrated by us either)."""
    try:
        lock.acquire(timeout=2)
    except filelock.Timeout:  # an OSError too: first
        log.info("waiting for %s: another process is creating or migrating the store",
                 lock.lock_file)  # fmt: skip
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    except OSError as error:
        log.debug("no lock %s (%s): opening the store without one", lock.lock_file, error)
        return False
    return True


def ensure(uri: str) -> None:
    """Bring a sqlite store to MLflow's current schema, once per process, under its lock."""
    path = sqlite_path(uri)
    if path is None or (str(path.resolve()) in _ready and path.is_file()):
        return
    path.parent.mkdir(parents=True, exist_ok=True)  # as MLflow does for a new store
    with locked(uri):
        bring_to_head(path)
    _ready.add(str(path.resolve()))


def bring_to_head(path: Path) -> None:
    """Create, migrate or repair the store at ``path`` (the caller holds its lock)."""
    from mlflow.store.db import utils  # the functions MLflow's own store runs on first open

    tables, version = schema(path)
    if not any(not name.startswith("alembic_") for name in tables):
        build(path)  # new, empty, or killed before its first table
        return
    leftovers = [name for name in tables if name.startswith(TMP_PREFIX)]
    if version == utils._get_latest_schema_revision() and not leftovers:
        return  # current: MLflow's own first open only reads
    if leftovers and not holds_data(path):
        rebuild(path)  # nothing to keep: safer than repairing
        return
    try:
        upgrade_copy(path)
    except HalfMigrated:
        if holds_data(path):
            raise
        rebuild(path)


def rebuild(path: Path) -> None:
    """Replace a half-migrated store that holds no runs by a new one, the old file kept."""
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    log.warning("MLflow store %s was half-migrated and held no runs: rebuilt (the broken "
                "file is %s)", path, aside)  # fmt: skip
    build(path)


def build(path: Path) -> None:
    """A new store at the current schema, moved into place only once complete."""
    aside = path.with_name(f"{path.name}.creating")
    remove_db(aside)
    migrate(aside)
    for suffix in ("-journal", "-wal", "-shm"):  # a journal of the empty file it replaces
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(aside, path)


def upgrade_copy(path: Path) -> None:
    """Migrate a copy of the store (a leftover partial table copy dropped first) and write it
    back: the store is never left half-way. HalfMigrated when the migration fails."""
    copy = path.with_name(f"{path.name}.upgrading")
    remove_db(copy)
    try:
        copy_db(path, copy)
        drop_leftovers(copy)
        migrate(copy)
        log.info("MLflow store %s migrated to the current schema", path)
        copy_db(copy, path)  # one transaction: a kill leaves the old store or the new one
    except Exception as error:  # noqa: BLE001 - any failure: the store stays as it was
        reason = str(error).splitlines()[0]
        raise HalfMigrated(
            f"MLflow store {path} is half-migrated: an earlier migration was interrupted "
            f"({reason}); {fix_hint(path)}"
        ) from None
    finally:
        remove_db(copy)


def drop_leftovers(path: Path) -> None:
    """Drop each ``_alembic_tmp_<table>`` left by a killed batch migration while ``<table>``
    still exists (it is then a partial copy); with ``<table>`` gone it holds the only data."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = set(table_names(db))
        for name in sorted(tables):
            if not name.startswith(TMP_PREFIX):
                continue
            if name.removeprefix(TMP_PREFIX) not in tables:
                raise HalfMigrated(
                    f"table {name.removeprefix(TMP_PREFIX)!r} is gone, killed after being "
                    f"dropped: its rows are only in {name!r}"
                )
            log.warning("dropping %s, left by an interrupted migration", name)
            db.execute(f'DROP TABLE "{name}"')
        db.commit()


def fix_hint(path: Path) -> str:
    """What the user can do with a store we will not repair."""
    return f"it is left as it was: restore it from a backup, or start anew: mv {path} {path}.old"


def migrate(path: Path) -> None:
    """MLflow's first-open initialisation (initial tables, then every migration) on ``path``."""
    from mlflow.store.db import utils

    engine = engine_of(path)
    try:
        utils._initialize_tables(engine)
    finally:
        engine.dispose()


def engine_of(path: Path) -> sqlalchemy.engine.Engine:
    """A SQLAlchemy engine on the file (closed by the caller)."""
    import sqlalchemy

    return sqlalchemy.create_engine(f"sqlite:///{path}", poolclass=sqlalchemy.pool.NullPool)


def schema(path: Path) -> tuple[list[str], str | None]:
    """The store's table names and alembic revision (none for a missing or new file)."""
    if not path.is_file() or path.stat().st_size == 0:
        return [], None
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = table_names(db)
        if "alembic_version" not in tables:
            return tables, None
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return tables, row[0] if row else None


def table_names(db: sqlite3.Connection) -> list[str]:
    """The names of a database's tables."""
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def holds_data(path: Path) -> bool:
    """Whether the store holds runs, models, traces or an experiment of its own."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = set(table_names(db))
        for table in DATA_TABLES:
            if table in tables and db.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
                return True
        if "experiments" in tables:
            query = "SELECT 1 FROM experiments WHERE experiment_id != 0 LIMIT 1"
            return db.execute(query).fetchone() is not None
    return False


def copy_db(source: Path, target: Path) -> None:
    """Copy a database into another with sqlite's backup API (a consistent snapshot)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as reading,
        contextlib.closing(sqlite3.connect(target)) as writing,
    ):
        reading.backup(writing)


def remove_db(path: Path) -> None:
    """Delete a sqlite file and its journals."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
