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
        assert all(sources.book_name(s) not in sources.MAX_BOOKS for s in listed)
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
    # migration 0006 adds its five columns after the forty of 0001
    assert sources.ODDS_COLUMNS[40:45] == tuple(
        f"bbav_pre_{s}" for s in ("h", "d", "a", "over25", "under25")
    )
    for listed in (sources.BLEND_SOURCES, sources.DRAW_SOURCES, sources.BENCHMARK_SOURCES["pre"]):
        assert listed.index("bbav_pre") == listed.index("avg_pre") + 1


def test_the_two_maxima_are_two_sources():
    # football-data's own maximum (from 2019/20) and BetBrain's (files to 2018/19): maxima
    # over two different sets of books
    assert sources.FILE_COLUMNS["max_pre_h"] == ("MaxH",)
    assert sources.FILE_COLUMNS["max_pre_under25"] == ("Max<2.5",)
    assert sources.FILE_COLUMNS["max_close_h"] == ("MaxCH",)
    assert sources.FILE_COLUMNS["bbmax_pre_h"] == ("BbMxH",)
    assert sources.FILE_COLUMNS["bbmax_pre_over25"] == ("BbMx>2.5",)
    assert "bbmax_close_h" not in sources.FILE_COLUMNS
    # no column reads both eras' names
    assert all(len(tried) == 1 for tried in sources.FILE_COLUMNS.values())
    # migration 0007 adds its five columns last
    assert len(sources.ODDS_COLUMNS) == 50
    assert sources.ODDS_COLUMNS[-5:] == tuple(
        f"bbmax_pre_{s}" for s in ("h", "d", "a", "over25", "under25")
    )
    assert set(sources.MAX_BOOKS) <= set(sources.BOOKS)
    # each is bet at and reported on its own; a fallback names which one it used
    assert {"max_pre", "bbmax_pre"} <= set(sources.BET_SOURCES)
    for listed in (sources.MARKET_SOURCES, sources.BLEND_SOURCES):
        assert listed.index("bbmax_pre") == listed.index("max_pre") + 1
