"""The command line explains itself: help on every option, examples that parse, and
where the database and the data live."""

from __future__ import annotations

import argparse
import shlex

import pytest

from server.base.config import Settings
from server.cli import build_parser, main
from server.cli.whereabouts import data_dir, database
from server.store.db import describe


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = _commands()


def test_the_command_list_is_complete():
    assert set(COMMANDS) >= {"backtest", "fit", "train", "predict", "serve", "worker"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help(name):
    for action in COMMANDS[name]._actions:
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"fpe {name} {label}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_shows_examples_that_parse(name):
    text = COMMANDS[name].format_help()
    assert "\nexamples:\n" in text, name
    examples = [
        line.strip() for line in text.split("\nexamples:\n", 1)[1].splitlines() if line.strip()
    ]
    assert examples
    for example in examples:
        words = shlex.split(example.split("#")[0].split(">")[0])
        while "=" in words[0]:  # FPE_REDIS_URL=... fpe worker
            words.pop(0)
        assert words[:2] == ["fpe", name], example
        build_parser().parse_args(words[1:])  # SystemExit (a usage error) fails the test


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"XDG_DATA_HOME": "/srv/xdg"},
        {"FPE_DATA_DIR": "~/fpe-data"},
        {"FPE_DATABASE_URL": "postgresql://fpe:s3cr%40t@db:5432/fpe?ssl=require"},
        {"FPE_DATABASE_URL": "postgres://postgres@127.0.0.1/test"},
        {"FPE_DATABASE_URL": "sqlite:////var/lib/fpe.sqlite3", "FPE_DATA_DIR": "/data"},
    ],
)
def test_help_says_where_things_live_as_the_configuration_does(env):
    """``fpe --help`` works this out without importing the configuration (it pulls in
    numpy, pandas and SQLAlchemy); both must agree."""
    settings = Settings.from_env(env)
    assert data_dir(env) == settings.data_dir
    assert database(env) == describe(settings.database_url)


def test_help_names_the_database_without_its_password(monkeypatch, capsys):
    monkeypatch.setenv("FPE_DATABASE_URL", "postgresql+asyncpg://fpe:hunter2@db:5432/fpe")
    monkeypatch.setenv("FPE_DATA_DIR", "/srv/fpe-data")
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "postgresql+asyncpg://fpe:***@db:5432/fpe" in out and "hunter2" not in out
    assert "/srv/fpe-data" in out
