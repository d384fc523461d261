"""The one rule for team names: what a name is, and when two names are the same team.

:func:`canonical_team_name` is applied to every name read from a file (the parser) and
:func:`team_key` decides which stored team a name belongs to (ingest); the prediction side's
team resolver is meant to use them too, so that a name means the same team everywhere.

* Unicode compatibility forms are folded (NFKC): full-width ``\\uff21rsenal`` is ``Arsenal``,
  a non-breaking space is a space, ``e`` with a combining accent is ``é``.
* Invisible format characters are removed: zero-width spaces and joiners, the BOM, the
  soft hyphen, and the bidirectional marks and embeddings (``U+200E``, ``U+202E``...).
* White space is stripped and inner runs become one space.
* A name that mixes letters of two alphabets that have Latin look-alikes (Latin, Greek,
  Cyrillic, Armenian, Cherokee, Coptic), such as ``\\u0410rsenal`` with a Cyrillic A, is
  refused with :class:`TeamNameError`: it is either a typo that would silently become a
  second team, or a spoof.  A name written wholly in one alphabet is kept.
* A control character (other than white space) refuses the name.

Two names are the same team when their :func:`team_key` is equal: the canonical name
without regard to case.
"""

from __future__ import annotations

import unicodedata

from core.errors import InvalidInputError

__all__ = ["TeamNameError", "canonical_team_name", "team_key"]

# alphabets whose letters are confused with Latin ones (Unicode's confusables are mostly
# between these); mixing Latin with Han or kana ("FC東京") is real and allowed
_LOOKALIKE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "CHEROKEE", "COPTIC")


class TeamNameError(InvalidInputError):
    """A team name that cannot be used: it would silently stand for a second team."""


def _script(char: str) -> str | None:
    """The look-alike alphabet of a letter (``'CYRILLIC'``), else ``None``."""
    name = unicodedata.name(char, "")
    for script in _LOOKALIKE_SCRIPTS:
        if name.startswith(script + " "):
            return script
    return None


def _describe(chars: list[str]) -> str:
    return ", ".join(f"{c!r} U+{ord(c):04X}" for c in dict.fromkeys(chars))


def canonical_team_name(name: str) -> str:
    """``name`` in its canonical form (see the module's rules); raise :class:`TeamNameError`
    for a name that mixes look-alike alphabets or holds a control character.  An empty
    result (a name of blanks or invisible characters only) is returned as ``''``."""
    folded = unicodedata.normalize("NFKC", name)
    if folded.isascii() and folded.isprintable():  # the common case: nothing to check
        return " ".join(folded.split())
    kept = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    text = " ".join(kept.split())
    controls = [c for c in text if unicodedata.category(c) == "Cc"]
    if controls:
        raise TeamNameError(f"team {text!r} contains a control character ({_describe(controls)})")
    scripts: dict[str, list[str]] = {}
    for char in text:
        if char.isalpha() and (script := _script(char)) is not None:
            scripts.setdefault(script, []).append(char)
    if len(scripts) > 1:
        names = sorted(scripts, key=lambda s: (s != "LATIN", s))  # Latin first
        minority = min(scripts.values(), key=len)
        raise TeamNameError(
            f"team {text!r} mixes {' and '.join(s.title() for s in names)} letters "
            f"({_describe(minority)}): fix the spelling"
        )
    return text


def team_key(name: str) -> str:
    """What makes two names one team: their canonical forms, ignoring case."""
    return canonical_team_name(name).casefold()
