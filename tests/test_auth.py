"""The bearer token helper shared by REST, GraphQL over HTTP and WebSockets."""

from __future__ import annotations

import pytest

from server.base.auth import bearer_token, token_matches


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("  Bearer abc", "abc"),
        ("abc", None),  # a raw token without the scheme
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearerabc", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


def test_token_matches_any_text():
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3creT", "s3cret")
    assert not token_matches(None, "s3cret")
    assert not token_matches("t\u00f6ken", "token")  # non-ASCII: a wrong token, not an error
    assert token_matches("t\u00f6ken", "t\u00f6ken")
    assert not token_matches("\ud800", "token")  # a lone surrogate from JSON
