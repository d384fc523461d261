"""GraphQL for keeping the service in order: model files (export, import), team aliases and
the scheduled refresh.  :class:`UpkeepQuery` and :class:`UpkeepMutation` are bases of the
schema's ``Query`` and ``Mutation``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import strawberry

from schema.context import read_engine, write_engine
from schema.errors import graphql_errors
from server.runs import modelfiles, refresh, teams

__all__ = ["ModelImport", "RefreshSchedule", "TeamAlias", "UpkeepMutation", "UpkeepQuery"]


@strawberry.type(description="Another name of a team (Spurs for Tottenham).")
class TeamAlias:
    alias: str
    team: str
    country: str


@strawberry.type(description="What importModel did.")
class ModelImport:
    version: str
    model_type: str
    status: str
    teams: int
    created_teams: list[str]
    created_leagues: list[str]


@strawberry.type(description="The scheduled refresh (FPE_REFRESH): when it is next due.")
class RefreshSchedule:
    enabled: bool
    every: str
    at: str
    description: str
    next_due: datetime | None
    last_run_at: datetime | None
    last_task_id: str | None


@strawberry.type
class UpkeepQuery:
    @strawberry.field(description="The model file of a version (versioned JSON, checksummed).")
    @graphql_errors
    async def export_model(self, info: strawberry.Info, version: str) -> str:
        file = await modelfiles.export_model(read_engine(info), version)
        return await asyncio.to_thread(modelfiles.dumps, file)

    @strawberry.field(description="Every team alias, by country.")
    @graphql_errors
    async def team_aliases(
        self, info: strawberry.Info, country: str | None = None
    ) -> list[TeamAlias]:
        rows = await teams.list_aliases(read_engine(info), country)
        return [TeamAlias(alias=r["alias"], team=r["team"], country=r["country"]) for r in rows]

    @strawberry.field
    @graphql_errors
    async def refresh_schedule(self, info: strawberry.Info) -> RefreshSchedule:
        schedule = refresh.Schedule.from_settings(info.context.services.settings)
        out = await refresh.status(read_engine(info), schedule, datetime.now(UTC))
        return RefreshSchedule(**out)


@strawberry.type
class UpkeepMutation:
    @strawberry.mutation(
        description="Import a model file (the text exportModel gives) as a new version; "
        "teams and leagues this database lacks are created unless createTeams is false."
    )
    @graphql_errors
    async def import_model(
        self,
        info: strawberry.Info,
        file: str,
        activate: bool = False,
        create_teams: bool = True,
    ) -> ModelImport:
        out = await modelfiles.import_model(
            write_engine(info), file, create_teams=create_teams, activate=activate
        )
        return ModelImport(**out)

    @strawberry.mutation(description="Make alias another name of team.")
    @graphql_errors
    async def add_team_alias(
        self, info: strawberry.Info, alias: str, team: str, league: str | None = None
    ) -> TeamAlias:
        return TeamAlias(**await teams.add_alias(write_engine(info), alias, team, league))

    @strawberry.mutation(description="Remove an alias; the number removed.")
    @graphql_errors
    async def remove_team_alias(
        self, info: strawberry.Info, alias: str, league: str | None = None
    ) -> int:
        return await teams.remove_alias(write_engine(info), alias, league)
