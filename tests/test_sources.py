"""core.sources: every list of price sources is made of the vocabulary's sources."""

from __future__ import annotations

from core import sources


def test_every_listed_source_has_its_five_columns():
    lists = [
        sources.MARKET_SOURCES,
        sources.MARKET_FIT_SOURCES,
        sources.BLEND_SOURCES,
        sources.DRAW_SOURCES,
        *sources.BENCHMARK_SOURCES.values(),
    ]
    for listed in lists:
        for source in listed:
            for suffix in ("h", "d", "a", "over25", "under25"):
                assert f"{source}_{suffix}" in sources.ODDS_COLUMNS, source


def test_what_a_forecast_may_use_is_never_a_closing_price():
    for listed in (sources.BLEND_SOURCES, sources.DRAW_SOURCES, sources.BENCHMARK_SOURCES["pre"]):
        assert all(s.endswith("_pre") for s in listed)
    # the draw model, the ratings' fit and the fixtures file's market are one book's price
    for listed in (sources.DRAW_SOURCES, sources.MARKET_FIT_SOURCES):
        assert all(sources.book_name(s) != "max" for s in listed)
    assert sources.BLEND_SOURCES[: len(sources.DRAW_SOURCES)] == sources.DRAW_SOURCES


def test_the_fixtures_prefixes_are_the_files_columns_of_those_sources():
    expected = [
        c[: -len("H")] for s in sources.DRAW_SOURCES for c in sources.FILE_COLUMNS[f"{s}_h"]
    ]
    assert list(sources.FIXTURE_MARKET_PREFIXES) == expected
    assert set(sources.FIXTURE_MARKET_PREFIXES) <= set(sources.FIXTURE_BOOK_PREFIXES) | {
        "Avg",
        "BbAv",
    }


def test_the_orm_columns_are_the_vocabularys():
    from server.store.tables import MatchOdds

    columns = {c.name for c in MatchOdds.__table__.c}
    assert set(sources.ODDS_COLUMNS) <= columns


def test_the_two_market_averages_are_two_sources():
    # football-data's own average (from 2019/20) and BetBrain's (files to 2018/19)
    assert sources.FILE_COLUMNS["avg_pre_h"] == ("AvgH",)
    assert sources.FILE_COLUMNS["bbav_pre_h"] == ("BbAvH",)
    assert sources.FILE_COLUMNS["bbav_pre_over25"] == ("BbAv>2.5",)
    assert "bbav_close_h" not in sources.FILE_COLUMNS
    # migration 0006 adds its five columns last
    assert sources.ODDS_COLUMNS[-5:] == tuple(
        f"bbav_pre_{s}" for s in ("h", "d", "a", "over25", "under25")
    )
    for listed in (sources.BLEND_SOURCES, sources.DRAW_SOURCES, sources.BENCHMARK_SOURCES["pre"]):
        assert listed.index("bbav_pre") == listed.index("avg_pre") + 1
