"""SQLAlchemy 2 typed ORM of the schema in ``sql/``.

The SQL files are the source of truth; ``tests/test_tables.py`` applies them to fresh
PostgreSQL and SQLite databases, reflects them and checks that every table, column, type,
nullability, default, key, constraint, index and enum here matches.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.sources import ODDS_COLUMNS

__all__ = [
    "Base",
    "DataBatch",
    "Jackpot",
    "JackpotFixture",
    "JackpotSavedResult",
    "JackpotTemplate",
    "League",
    "Match",
    "MatchOdds",
    "Model",
    "ModelStatus",
    "SchemaMigration",
    "Team",
    "TeamAlias",
    "TrainingRun",
    "UTCDateTime",
]


class ModelStatus(enum.StrEnum):
    """The legacy ``model_status`` values, plus the run states the service needs."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    FAILED = "failed"
    TRAINING = "training"
    QUEUED = "queued"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are UTC everywhere: aware on the way in and out, on both dialects
    (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is expected")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Double: sa.Double[float] = sa.Double()
NOW = sa.func.now()


def _status(default: ModelStatus) -> Any:
    return mapped_column(
        sa.Enum(
            ModelStatus,
            name="model_status",
            values_callable=lambda e: [m.value for m in e],
            create_constraint=True,
            validate_strings=True,
        ),
        nullable=False,
        server_default=default.value,
    )


class Base(DeclarativeBase):
    __table__: ClassVar[sa.Table]  # every model here is mapped to a plain table
    # the migrations' names: a column's unique=True / index=True gets uq_/ix_<table>_<column>
    metadata = sa.MetaData(
        naming_convention={
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        date: sa.Date,
        time: sa.Time,
    }


class SchemaMigration(Base):
    __tablename__ = "schema_migrations"

    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(255))
    checksum: Mapped[str] = mapped_column(sa.String(64))
    applied_at: Mapped[datetime] = mapped_column(server_default=NOW)


class League(Base):
    __tablename__ = "leagues"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    last_ingest_at: Mapped[datetime | None]


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (sa.UniqueConstraint("country", "name", name="uq_teams_country_name"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class TeamAlias(Base):
    """Another name of a team, by country and the team's stored name (0004)."""

    __tablename__ = "team_aliases"
    __table_args__ = (
        sa.UniqueConstraint("country", "alias_key", name="uq_team_aliases_country_key"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(sa.String(100))
    alias_key: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(100))
    team_name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (
        sa.UniqueConstraint(
            "league_id", "match_date", "home_team_id", "away_team_id", name="uq_matches_fixture"
        ),
        sa.CheckConstraint("home_team_id <> away_team_id", name="ck_matches_distinct_teams"),
        sa.CheckConstraint("home_goals >= 0 AND away_goals >= 0", name="ck_matches_goals"),
        sa.CheckConstraint("result IN ('H', 'D', 'A')", name="ck_matches_result"),
        sa.Index("ix_matches_match_date", "match_date"),
        sa.Index("ix_matches_league_season", "league_id", "season"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    league_id: Mapped[int] = mapped_column(sa.ForeignKey("leagues.id"))
    season: Mapped[str] = mapped_column(sa.String(4))
    match_date: Mapped[date]
    kickoff_time: Mapped[time | None]
    home_team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    away_team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    home_goals: Mapped[int] = mapped_column(sa.SmallInteger)
    away_goals: Mapped[int] = mapped_column(sa.SmallInteger)
    result: Mapped[str] = mapped_column(sa.String(1))
    ht_home_goals: Mapped[int | None] = mapped_column(sa.SmallInteger)
    ht_away_goals: Mapped[int | None] = mapped_column(sa.SmallInteger)
    ht_result: Mapped[str | None] = mapped_column(sa.String(1))
    source: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)
    # 0008: NULL where the file has none, and in matches ingested before 0008 until their
    # file is ingested again
    home_shots_on_target: Mapped[int | None] = mapped_column(sa.SmallInteger)
    away_shots_on_target: Mapped[int | None] = mapped_column(sa.SmallInteger)

    league: Mapped[League] = relationship(lazy="raise")
    home_team: Mapped[Team] = relationship(foreign_keys=[home_team_id], lazy="raise")
    away_team: Mapped[Team] = relationship(foreign_keys=[away_team_id], lazy="raise")


class MatchOdds(Base):
    """Decimal odds per match, one column per parser canonical odds column."""

    __tablename__ = "match_odds"

    match_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("matches.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )


for _column in ODDS_COLUMNS:  # fifty nullable DOUBLE PRECISION columns
    setattr(MatchOdds, _column, mapped_column(_column, Double, nullable=True))


class Model(Base):
    """A model version in the registry (legacy table ``models``)."""

    __tablename__ = "models"
    __table_args__ = (
        sa.Index(
            "uq_models_one_active_per_scope",
            "model_type",
            "scope",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        ),
        sa.Index("ix_models_status", "status"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(64), unique=True)
    model_type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[ModelStatus] = _status(ModelStatus.TRAINING)
    training_started_at: Mapped[datetime | None]
    training_completed_at: Mapped[datetime | None]
    training_matches: Mapped[int | None] = mapped_column(sa.Integer)
    training_leagues: Mapped[Any | None] = mapped_column(JSONType)
    training_seasons: Mapped[Any | None] = mapped_column(JSONType)
    brier_score: Mapped[float | None] = mapped_column(Double)
    log_loss: Mapped[float | None] = mapped_column(Double)
    draw_accuracy: Mapped[float | None] = mapped_column(Double)
    overall_accuracy: Mapped[float | None] = mapped_column(Double)
    model_weights: Mapped[Any | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    rps: Mapped[float | None] = mapped_column(Double)
    metrics: Mapped[Any | None] = mapped_column(JSONType)
    config: Mapped[Any | None] = mapped_column(JSONType)
    # 0003: the league set it serves, and what it was fitted and validated on
    scope: Mapped[str] = mapped_column(sa.String(255), server_default=sa.text("''"))
    data_from: Mapped[date | None]
    data_to: Mapped[date | None]
    validation_from: Mapped[date | None]
    validation_to: Mapped[date | None]
    validation_matches: Mapped[int | None] = mapped_column(sa.Integer)
    validation_forecasts: Mapped[Any | None] = mapped_column(JSONType)


class TrainingRun(Base):
    """One training run (legacy table ``training_runs``)."""

    __tablename__ = "training_runs"
    __table_args__ = (
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name="ck_training_runs_progress"),
        sa.Index("ix_training_runs_status", "status"),
        sa.Index("uq_training_runs_idempotency_key", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    model_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("models.id", ondelete="SET NULL"), index=True
    )
    run_type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[ModelStatus] = _status(ModelStatus.QUEUED)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    match_count: Mapped[int | None] = mapped_column(sa.Integer)
    date_from: Mapped[date | None]
    date_to: Mapped[date | None]
    brier_score: Mapped[float | None] = mapped_column(Double)
    log_loss: Mapped[float | None] = mapped_column(Double)
    validation_accuracy: Mapped[float | None] = mapped_column(Double)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    logs: Mapped[Any | None] = mapped_column(JSONType)
    task_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    rps: Mapped[float | None] = mapped_column(Double)
    metrics: Mapped[Any | None] = mapped_column(JSONType)
    config: Mapped[Any] = mapped_column(
        JSONType,
        server_default=sa.text("'{}'"),
    )
    progress: Mapped[float] = mapped_column(Double, server_default=sa.text("0"))
    phase: Mapped[str | None] = mapped_column(sa.String(64))
    message: Mapped[str | None] = mapped_column(sa.Text)
    worker: Mapped[str | None] = mapped_column(sa.String(255))
    heartbeat_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(server_default=NOW, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    scheduled: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())

    model: Mapped[Model | None] = relationship(lazy="raise")


class Jackpot(Base):
    """A jackpot of the legacy app: fixtures whose probabilities were frozen at creation."""

    __tablename__ = "jackpots"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    model_version: Mapped[str] = mapped_column(sa.String(64))
    draw_model_version: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(32), server_default=sa.text("'calculated'"))
    warnings: Mapped[Any] = mapped_column(JSONType, server_default=sa.text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW, index=True)


class JackpotFixture(Base):
    """One fixture of a jackpot, its odds and its frozen probability sets (row order is
    ``position``)."""

    __tablename__ = "jackpot_fixtures"
    __table_args__ = (
        sa.UniqueConstraint("jackpot_id", "position", name="uq_jackpot_fixtures_position"),
        sa.UniqueConstraint("jackpot_id", "fixture_id", name="uq_jackpot_fixtures_fixture_id"),
        sa.CheckConstraint(
            "home_odds >= 1.01 AND home_odds <= 1000 AND draw_odds >= 1.01 AND draw_odds <= 1000"
            " AND away_odds >= 1.01 AND away_odds <= 1000",
            name="ck_jackpot_fixtures_odds",
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    jackpot_id: Mapped[int] = mapped_column(sa.ForeignKey("jackpots.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)
    fixture_id: Mapped[str] = mapped_column(sa.String(64))
    home_team: Mapped[str] = mapped_column(sa.String(100))
    away_team: Mapped[str] = mapped_column(sa.String(100))
    home_odds: Mapped[float] = mapped_column(Double)
    draw_odds: Mapped[float] = mapped_column(Double)
    away_odds: Mapped[float] = mapped_column(Double)
    match_date: Mapped[str | None] = mapped_column(sa.String(32))
    league: Mapped[str | None] = mapped_column(sa.String(100))
    probabilities: Mapped[Any] = mapped_column(JSONType)


class JackpotSavedResult(Base):
    """A user's picks per probability set for one jackpot, the actual results and the
    scores the server computed from them."""

    __tablename__ = "jackpot_saved_results"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    jackpot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jackpots.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    selections: Mapped[Any] = mapped_column(JSONType, server_default=sa.text("'{}'"))
    actual_results: Mapped[Any] = mapped_column(JSONType, server_default=sa.text("'{}'"))
    scores: Mapped[Any] = mapped_column(JSONType, server_default=sa.text("'{}'"))
    model_version: Mapped[str] = mapped_column(sa.String(64))
    total_fixtures: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW, index=True)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)


class JackpotTemplate(Base):
    """A saved list of fixtures with odds ("Save List" on the Jackpot Input page)."""

    __tablename__ = "jackpot_templates"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    fixtures: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)


class DataBatch(Base):
    """One data download of the Data Ingestion page, with its per-league results."""

    __tablename__ = "data_batches"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(32))
    request: Mapped[Any] = mapped_column(JSONType)
    results: Mapped[Any] = mapped_column(JSONType, server_default=sa.text("'[]'"))
    total_stats: Mapped[Any] = mapped_column(JSONType, server_default=sa.text("'{}'"))
    started_at: Mapped[datetime] = mapped_column(server_default=NOW, index=True)
    completed_at: Mapped[datetime | None]
