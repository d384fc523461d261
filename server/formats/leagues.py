"""football-data.co.uk division codes: the league names and countries we know."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["KNOWN_LEAGUES", "LeagueInfo", "league_info", "league_tier"]


class LeagueInfo(NamedTuple):
    code: str
    name: str
    country: str


KNOWN_LEAGUES: dict[str, LeagueInfo] = {
    info.code: info
    for info in (
        LeagueInfo("E0", "Premier League", "England"),
        LeagueInfo("E1", "Championship", "England"),
        LeagueInfo("E2", "League One", "England"),
        LeagueInfo("E3", "League Two", "England"),
        LeagueInfo("EC", "National League", "England"),
        LeagueInfo("SC0", "Premiership", "Scotland"),
        LeagueInfo("SC1", "Championship", "Scotland"),
        LeagueInfo("SC2", "League One", "Scotland"),
        LeagueInfo("SC3", "League Two", "Scotland"),
        LeagueInfo("D1", "Bundesliga", "Germany"),
        LeagueInfo("D2", "2. Bundesliga", "Germany"),
        LeagueInfo("I1", "Serie A", "Italy"),
        LeagueInfo("I2", "Serie B", "Italy"),
        LeagueInfo("SP1", "La Liga", "Spain"),
        LeagueInfo("SP2", "Segunda Division", "Spain"),
        LeagueInfo("F1", "Ligue 1", "France"),
        LeagueInfo("F2", "Ligue 2", "France"),
        LeagueInfo("N1", "Eredivisie", "Netherlands"),
        LeagueInfo("B1", "Pro League", "Belgium"),
        LeagueInfo("P1", "Primeira Liga", "Portugal"),
        LeagueInfo("T1", "Super Lig", "Turkey"),
        LeagueInfo("G1", "Super League", "Greece"),
    )
}


def league_info(code: str) -> LeagueInfo:
    """Name and country of a division code; an unknown code is its own league and country
    (so its teams never merge with another country's)."""
    return KNOWN_LEAGUES.get(code, LeagueInfo(code, code, code))


# football-data.co.uk numbers divisions from 0 (England, Scotland) or 1 (elsewhere)
_TIERS = {"EC": 5}
_FIRST_DIVISION = {"E": 0, "SC": 0}


def league_tier(code: str) -> int | None:
    """1 for a top division, 2 for the second, ...; None for a country we do not know."""
    if code in _TIERS:
        return _TIERS[code]
    prefix, number = code.rstrip("0123456789"), code[len(code.rstrip("0123456789")) :]
    if not prefix or not number or not any(k.startswith(prefix) for k in KNOWN_LEAGUES):
        return None
    return int(number) - _FIRST_DIVISION.get(prefix, 1) + 1
