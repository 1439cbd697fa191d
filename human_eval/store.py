"""The rating database: tables (SQLAlchemy 2 ORM) and engines.

A SQLite file by default (WAL journal, a busy timeout and ``BEGIN IMMEDIATE`` for writes, so several
raters can save at once), or any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) for a shared
deployment. Every rating keeps its rater, its time and its edit history (``rating_history``).

Reading commands (``human stats``, ``human export``, ``report --study``) open it with ``create=False``:
a SQLite file then read-only (``mode=ro``: no journal-mode change, no table or column added, no file
created; its bytes stay as they were). An empty, foreign or corrupt file is one line, never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import StaticPool

from ibench.errors import IbenchError, one_line

DB_ENV = "IBENCH_HUMAN_DB"
DEFAULT_DB = "ibench-human.db"
STATUSES = ("rated", "skipped", "flagged")
KINDS = ("absolute", "pairwise")  # SC/PQ per output (ImagenHub) | which of two outputs is better
#: What an item is for: ``main`` items are the study; the others check or train raters and never count
#: in scores, agreement or exports: ``practice`` (first, with feedback when the answer is known),
#: ``gold`` (known answers, hidden among the main items), ``attention`` (an instructed response).
ROLES = ("main", "practice", "gold", "attention")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def token_hash(token: str) -> str:
    """Tokens are stored hashed: the database alone does not let anyone sign in."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[float]: JSON}


class Study(Base):
    """A set of items (model outputs) rated by a set of raters."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    raters_per_item: Mapped[int] = mapped_column(Integer, default=3)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="absolute", server_default="absolute")
    instructions: Mapped[Optional[str]] = mapped_column(Text, nullable=True)  # shown before consent (markdown)
    items: Mapped[list["Item"]] = relationship(back_populates="study")
    raters: Mapped[list["Rater"]] = relationship(back_populates="study")


class Item(Base):
    """One model output for one instance. ``model`` and ``run_id`` are never shown to raters."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("study_id", "task", "model", "uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    task: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[str] = mapped_column(String(200))
    sample: Mapped[int] = mapped_column(Integer, default=0)
    uid: Mapped[str] = mapped_column(String(300))  # the row key of ImagenHub TSVs
    image: Mapped[Optional[str]] = mapped_column(Text, nullable=True)  # absolute path; None: imported
    instance: Mapped[Optional[dict[str, Any]]] = mapped_column(nullable=True)  # Instance as JSON
    data_root: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    derived_dir: Mapped[Optional[str]] = mapped_column(Text, nullable=True)  # where the control maps are
    role: Mapped[str] = mapped_column(String(16), default="main", server_default="main")  # see ROLES
    expected: Mapped[Optional[dict[str, Any]]] = mapped_column(nullable=True)  # a known answer (gold, ...)
    notice: Mapped[Optional[str]] = mapped_column(Text, nullable=True)  # shown above the item (attention checks)
    # pairwise studies: the second output (``model``/``run_id``/``image`` are the first's)
    model_b: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    run_b: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    image_b: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    study: Mapped[Study] = relationship(back_populates="items")


class Rater(Base):
    """A person with a token; ``is_admin`` marks the study's admin token."""

    __tablename__ = "raters"
    __table_args__ = (UniqueConstraint("study_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    consented: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    study: Mapped[Study] = relationship(back_populates="raters")


class Assignment(Base):
    """An item to be rated by a rater, at a position in that rater's (shuffled) order."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("rater_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    pair_order: Mapped[Optional[str]] = mapped_column(String(2), nullable=True)  # pairwise: "ab" shows model A left


class Rating(Base):
    """The current rating of an assignment (one per assignment: never duplicated)."""

    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), unique=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # rated | skipped | flagged
    conditions: Mapped[Optional[list[float]]] = mapped_column(nullable=True)  # one value per SC condition
    sc: Mapped[Optional[float]] = mapped_column(Float, nullable=True)  # min over the conditions
    pq: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    reason: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    preference: Mapped[Optional[dict[str, Any]]] = mapped_column(nullable=True)  # pairwise: {aspect: a|b|tie}
    seconds: Mapped[Optional[float]] = mapped_column(Float, nullable=True)  # time on the item before this save
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RatingHistory(Base):
    """Every version of every rating, appended on each save (the first save included)."""

    __tablename__ = "rating_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    conditions: Mapped[Optional[list[float]]] = mapped_column(nullable=True)
    sc: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    pq: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    reason: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    preference: Mapped[Optional[dict[str, Any]]] = mapped_column(nullable=True)
    seconds: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def history_row(rating: Rating, at: datetime) -> RatingHistory:
    """The history record of a rating's current version (appended on every save)."""
    return RatingHistory(rating_id=rating.id, rater_id=rating.rater_id, item_id=rating.item_id, version=rating.version,
                         status=rating.status, conditions=rating.conditions, sc=rating.sc, pq=rating.pq,
                         reason=rating.reason, preference=rating.preference, seconds=rating.seconds, at=at)


def _add_missing_columns(engine: Engine) -> None:
    """A database made by an older ibench gets the columns added since (each nullable or with a default)."""
    from sqlalchemy import inspect, text

    for table, column in _lacking(engine):
        kind = column.type.compile(dialect=engine.dialect)
        default = f" DEFAULT {column.server_default.arg!r}" if column.server_default is not None else ""
        with engine.begin() as conn:
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{default}'))


def _lacking(engine: Engine) -> list:
    """(table, column) pairs of our tables that the database has without the column."""
    found = inspect(engine)
    out = []
    for table in Base.metadata.sorted_tables:
        if found.has_table(table.name):
            have = {c["name"] for c in found.get_columns(table.name)}
            out += [(table, c) for c in table.columns if c.name not in have]
    return out


def _missing_columns(engine: Engine) -> list[str]:
    return [f"{t.name}.{c.name}" for t, c in _lacking(engine)]


# -- engines ----------------------------------------------------------------------------------
_ENGINES: dict[tuple[str, bool], Engine] = {}
_LOCK = threading.Lock()


def db_url(db: str | Path | None = None) -> str:
    """A SQLAlchemy URL from a URL, a file path, ``$IBENCH_HUMAN_DB`` or the default file."""
    db = str(db or os.environ.get(DB_ENV) or DEFAULT_DB)
    if "://" in db:
        try:
            make_url(db)
        except (ArgumentError, ValueError):
            raise IbenchError(f"--db {db!r} is not a valid SQLAlchemy URL") from None
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _sqlite_setup(engine: Engine, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        if not read_only:  # journal mode and sync level are the writer's choice; a reader changes nothing
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # a write takes the write lock at BEGIN, so it waits (busy timeout) instead of failing later
        immediate = conn.get_execution_options().get("ibench_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def new_engine(db: str | Path | None = None, create: bool = True) -> Engine:
    """A new (uncached) engine for a database, with its tables created (``create=False``: the database
    must exist already and is never written to here). A foreign or corrupt database is one line."""
    url = db_url(db)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        read_only = not create and not memory
        if not memory:
            folder = Path(parsed.database).parent
            if not folder.is_dir():
                raise IbenchError(f"database folder {folder} does not exist")
            if not create and not Path(parsed.database).is_file():
                raise IbenchError(f"{parsed.database}: no such rating database (make one with "
                                  f"`ibench human create-study`, or check the path)")
            if Path(parsed.database).is_file():  # read it before anything (WAL mode, tables) is written to it
                tables = _sqlite_tables(Path(parsed.database))
                check_schema(tables, parsed.database, sqlite=True)
                if read_only and not set(tables) & set(Base.metadata.tables):
                    raise IbenchError(f"--db {parsed.database}: an empty file, not a rating database (no ibench "
                                      f"tables; make one with `ibench human create-study`, or check the path)")
        if read_only:  # the file as it is: SQLite's read-only mode writes nothing (no journal, no WAL switch)
            url = f"sqlite:///file:{Path(parsed.database).resolve().as_posix()}?mode=ro&uri=true"
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               poolclass=StaticPool if memory else None)
        _sqlite_setup(engine, read_only)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ImportError, ArgumentError) as exc:
            raise IbenchError(f"cannot open database {parsed.render_as_string()}: {exc}") from None
    try:
        if parsed.get_backend_name() != "sqlite":
            found = inspect(engine)
            check_schema({t: {c["name"] for c in found.get_columns(t)} for t in found.get_table_names()},
                         parsed.render_as_string())
        if create:
            Base.metadata.create_all(engine)
            _add_missing_columns(engine)  # an older ibench's database: the columns added since
        elif (lacking := _missing_columns(engine)):
            raise IbenchError(f"database {parsed.render_as_string()} was made by an older ibench (no column "
                              f"{lacking[0]}); open it once with a writing command (`ibench human serve`) to add it")
    except DBAPIError as exc:  # "file is not a database", unreachable servers, permissions
        raise IbenchError(f"cannot open database {parsed.render_as_string()}: {one_line(exc.orig)}") from None
    return engine


def _sqlite_tables(path: Path) -> dict[str, set[str]]:
    """Tables and their columns of a SQLite file, read through a read-only connection."""
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {n: {r[1] for r in con.execute(f"PRAGMA table_info({_quote(n)})")} for n in names}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise IbenchError(f"--db {path}: not a readable SQLite database ({exc})") from None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_schema(tables: dict[str, set[str]], name: str, sqlite: bool = False) -> None:
    """Refuse, in one line, a database that is not ibench's: our tables that are there must have the
    columns no migration can add, and a SQLite file holding only other tables belongs to something else."""
    ours = Base.metadata.tables
    for table in sorted(set(tables) & set(ours)):  # columns an older ibench lacked are added (nullable or defaulted)
        needed = {c.name for c in ours[table].columns if not c.nullable and c.server_default is None}
        lacking = sorted(needed - tables[table])
        if lacking:
            raise IbenchError(f"database {name} is not an ibench rating database: table {table!r} has no column "
                              f"{lacking[0]!r}")
    if sqlite and tables and not set(tables) & set(ours):
        raise IbenchError(f"database {name} is not an ibench rating database (its tables: "
                          f"{', '.join(sorted(tables)[:5])}); use another --db")


def get_engine(db: str | Path | Engine | None = None, create: bool = True) -> Engine:
    """An engine for a database (created with its tables on first use; cached per URL). Read-only
    commands pass ``create=False``: a missing SQLite file is then an error, not a new empty database."""
    if isinstance(db, Engine):
        return db
    url = db_url(db)
    with _LOCK:
        if (url, create) not in _ENGINES:  # a reader's engine is read-only: never handed to a writer
            _ENGINES[(url, create)] = new_engine(url, create)
        return _ENGINES[(url, create)]


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only session; a database that turns out corrupt while it is read is one line."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    except DBAPIError as exc:  # "database disk image is malformed", "file is not a database"
        raise IbenchError(f"cannot read database {engine.url.render_as_string()}: {one_line(exc.orig)} (a corrupt "
                          f"file? restore it from a backup)") from None


def write(engine: Engine, fn, *args, retries: int = 20, **kwargs):  # noqa: ANN001, ANN201
    """Run ``fn(session, *args)`` in one write transaction; retry when the database is busy.

    A failed attempt is rolled back whole, so a retry never writes a rating twice.
    """
    writer = engine.execution_options(ibench_write=True)
    for attempt in range(retries):
        try:
            with Session(writer, expire_on_commit=False) as session, session.begin():
                return fn(session, *args, **kwargs)
        except OperationalError as exc:
            if "locked" not in str(exc.orig).lower() and "busy" not in str(exc.orig).lower():
                raise
        except IntegrityError:  # a concurrent writer inserted the same key first: read it and retry
            if attempt == retries - 1:
                raise
        time.sleep(min(0.05 * (attempt + 1), 0.5))
    raise IbenchError("the rating database stayed busy; nothing was lost, try again")


def find_study(session: Session, study: str | int | None) -> Study:
    """A study by name or id; without one, the only (or latest) study."""
    if study is None:
        found = session.scalars(select(Study).order_by(Study.id.desc())).first()
        if found is None:
            raise IbenchError("the database holds no study: run `ibench human create-study` first")
        return found
    query = select(Study).where(Study.id == study if isinstance(study, int) else Study.name == study)
    found = session.scalars(query).first()
    if found is None:
        names = ", ".join(session.scalars(select(Study.name))) or "none"
        raise IbenchError(f"no study {study!r} in the database (studies: {names})")
    return found
