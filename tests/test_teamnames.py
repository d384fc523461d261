"""The one team-name rule: look-alike characters never make a second team silently."""

from __future__ import annotations

import pytest

from server.formats.teamnames import TeamNameError, canonical_team_name, team_key

CYRILLIC_A = "\u0410"
CYRILLIC_E = "\u0435"
GREEK_O = "\u03bf"  # omicron
SPARTAK = "\u0421\u043f\u0430\u0440\u0442\u0430\u043a"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Arsenal", "Arsenal"),
        (" Man  City ", "Man City"),
        ("Ars\u200benal", "Arsenal"),  # zero-width space
        ("\u200fArsenal", "Arsenal"),  # right-to-left mark
        ("\u202eArsenal\u202c", "Arsenal"),  # bidi override and pop
        ("\ufeffArsenal", "Arsenal"),  # BOM
        ("Ar\u00adsenal", "Arsenal"),  # soft hyphen
        ("\uff21rsenal", "Arsenal"),  # full-width A
        ("\uff21\uff52\uff53\uff45\uff4e\uff41\uff4c", "Arsenal"),  # all full-width
        ("Man\u00a0City", "Man City"),  # non-breaking space
        ("Man\u2003\u2003City", "Man City"),  # em spaces
        ("Ko\u0308ln", "K\u00f6ln"),  # combining diaeresis composed
        (
            "\u0421\u043f\u0430\u0440\u0442\u0430\u043a",
            "\u0421\u043f\u0430\u0440\u0442\u0430\u043a",
        ),
        ("\u039f\u03bb\u03c5\u03bc\u03c0\u03b9\u03b1\u03ba\u03cc\u03c2", "Ολυμπιακός"),
        ("FC\u6771\u4eac", "FC\u6771\u4eac"),  # Latin beside Han is a real name
        ("\u200b", ""),  # nothing visible: empty, which the parser reports as missing
    ],
)
def test_canonical_names(name: str, canonical: str) -> None:
    assert canonical_team_name(name) == canonical
    assert canonical_team_name(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            f"{CYRILLIC_A}rsenal",
            f"team '{CYRILLIC_A}rsenal' mixes Latin and Cyrillic letters "
            f"('{CYRILLIC_A}' U+0410): fix the spelling",
        ),
        (f"Ars{CYRILLIC_E}nal", "mixes Latin and Cyrillic letters ('\u0435' U+0435)"),
        (f"Chels{CYRILLIC_E}a\u200b", "mixes Latin and Cyrillic letters"),
        (f"Wolves F{GREEK_O}", "mixes Latin and Greek letters ('\u03bf' U+03BF)"),
        (f"{CYRILLIC_A}{GREEK_O}", "mixes Cyrillic and Greek letters"),
        ("Ars\x07enal", "contains a control character ('\\x07' U+0007)"),
    ],
)
def test_look_alike_and_control_characters_are_refused(name: str, message: str) -> None:
    with pytest.raises(TeamNameError) as raised:
        canonical_team_name(name)
    assert message in str(raised.value)


def test_team_key_is_the_canonical_name_without_case() -> None:
    spellings = [
        "Arsenal",
        "arsenal",
        " ARSENAL ",
        "Ars\u200benal",
        "\uff21rsenal",
        "\u200farsenal",
    ]
    assert {team_key(s) for s in spellings} == {"arsenal"}
    assert team_key("Man City") != team_key("Man United")
