"""server.runs.selection: the matches' frame read from the database carries the shots on
target stored by ingestion (migration 0008), NULL as <NA>, on PostgreSQL and SQLite."""

from __future__ import annotations

import sqlalchemy as sa

from core.forecast import shots_targets
from server.runs import selection
from server.store.ingest import ingest_file
from server.store.tables import Match
from tests.test_ingest import csv_shots

SHOTS = ["home_shots_on_target", "away_shots_on_target"]
E0_2324 = selection.Selection(leagues=("E0",), seasons=("2324",))


async def test_the_frame_has_each_matchs_shots_on_target(engine, football_data_dir):
    path = football_data_dir / "2324" / "E0.csv"
    assert (await ingest_file(engine, path)).ok
    frame = await selection.load_matches(engine, E0_2324)
    assert len(frame) == 380
    assert [str(frame[c].dtype) for c in SHOTS] == ["Int64", "Int64"]
    names = await selection.team_names(engine, sorted({*frame["home_team"], *frame["away_team"]}))
    got = {
        (d.date(), names[h], names[a]): (hs, as_)
        for d, h, a, hs, as_ in zip(
            frame["date"],
            frame["home_team"],
            frame["away_team"],
            *(frame[c] for c in SHOTS),
            strict=True,
        )
    }
    assert got == csv_shots(path)


async def test_shots_stored_before_0008_are_missing_values(engine, football_data_dir):
    """A match ingested before migration 0008 has NULL shots: <NA> in the frame, and the
    shots-mixed targets fall back to its goals there."""
    await ingest_file(engine, football_data_dir / "2324" / "E0.csv")
    async with engine.begin() as conn:
        first = (await conn.execute(sa.select(sa.func.min(Match.id)))).scalar_one()
        await conn.execute(
            sa.update(Match)
            .where(Match.id == first)
            .values(home_shots_on_target=None, away_shots_on_target=None)
        )
    frame = await selection.load_matches(engine, E0_2324)
    missing = frame[SHOTS[0]].isna()
    assert missing.sum() == 1 and frame[SHOTS[1]].isna().equals(missing)
    assert [str(frame[c].dtype) for c in SHOTS] == ["Int64", "Int64"]
    x, y = shots_targets(frame)
    row = int(missing.to_numpy().nonzero()[0][0])
    assert (x[row], y[row]) == (frame["home_goals"][row], frame["away_goals"][row])
    assert (x[~missing.to_numpy()] != frame["home_goals"][~missing]).any()


async def test_an_empty_selection_still_has_the_columns(engine):
    frame = await selection.load_matches(engine, E0_2324)
    assert frame.empty and [str(frame[c].dtype) for c in SHOTS] == ["Int64", "Int64"]
