"""The query cost estimate: list sizes from ``limit`` and known bounds, multiplied through
nesting; every list field of the schema has a bound; the page's own queries fit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, parse

from schema import build_schema
from schema.cost import (
    JSON_COST,
    LIST_ARGUMENTS,
    LIST_BOUNDS,
    MAX_COST,
    MAX_LIMIT,
    query_cost,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = build_schema()._schema


def cost(query: str, variables: dict | None = None, operation: str | None = None) -> int:
    return query_cost(SCHEMA, parse(query), variables, operation)


def test_scalars_count_one_each_and_lists_multiply():
    assert cost("{ leagues { code name } }") == 30 * (1 + 2)
    assert cost("{ models(limit: 10) { id version } }") == 10 * 3
    assert cost("{ models(limit: 10) { teamStrengths { attack team { name } } } }") == 10 * (
        1 + 300 * (1 + 1 + 1 + 1)
    )
    assert cost("{ models(limit: 1) { metrics config } }") == 1 + 2 * JSON_COST
    assert cost('{ predict(home: "a", away: "b") { scoreGrid } }') == 1 + 30 * 30


def test_limits_come_from_literals_variables_and_defaults():
    assert cost("{ trainingRuns { id } }") == 50 * 2  # the schema's default limit
    assert cost("query($n: Int!) { trainingRuns(limit: $n) { id } }", {"n": 7}) == 7 * 2
    assert cost("{ trainingRuns(limit: 100000) { id } }") == MAX_LIMIT * 2  # refused anyway
    assert cost("{ trainingRuns(limit: -5) { id } }") == 0


def test_aliases_fragments_and_operations():
    one = cost("{ models(limit: 200) { teamStrengths { team { name } } } }")
    aliased = cost(
        "{ a: models(limit: 200) { teamStrengths { team { name } } } "
        "b: models(limit: 200) { teamStrengths { team { name } } } }"
    )
    assert aliased == 2 * one > MAX_COST
    fragment = cost(
        "query { models(limit: 200) { ...F } } "
        "fragment F on ModelVersion { teamStrengths { ... on TeamStrength { team { name } } } }"
    )
    assert fragment == one
    looped = "query { models(limit: 1) { ...F } } fragment F on ModelVersion { id ...F }"
    assert cost(looped) == 2  # a fragment cycle (refused by validation) cannot hang it
    two = "query A { leagues { code } } query B { models(limit: 3) { id } }"
    assert cost(two, operation="B") == 6


def test_every_list_field_has_a_bound():
    unbounded = []
    for type_ in SCHEMA.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            bounded = (
                "limit" in field.args
                or (type_.name, name) in LIST_BOUNDS
                or (type_.name, name) in LIST_ARGUMENTS
            )
            if isinstance(inner, GraphQLList) and not bounded:
                unbounded.append(f"{type_.name}.{name}")
    assert unbounded == []
    for type_name, field_name in LIST_BOUNDS:
        assert field_name in SCHEMA.type_map[type_name].fields, (type_name, field_name)


def _page_queries() -> list[str]:
    text = (ROOT / "server" / "static" / "app" / "app.js").read_text()
    found = re.findall(r"gql\(\s*`([^`]*)`", text) + re.findall(r'gql\(\s*"([^"]*)"', text)
    found += re.findall(r"^const [A-Z_]+ = `([^`]*)`", text, re.M)  # named queries
    return [q for q in found if "${" not in q]


def test_predictions_cost_one_answer_per_fixture():
    query = """query($f: [FixtureInput!]!) { predictions(fixtures: $f) { homeWin draw } }"""
    one = {"f": [{"home": "A", "away": "B"}]}
    assert query_cost(SCHEMA, parse(query), one) == 3
    assert query_cost(SCHEMA, parse(query), {"f": one["f"] * 40}) == 120


def test_the_page_queries_fit_the_budget_five_times():
    """The page's queries, variables at their most (one fixture per prediction form)."""
    queries = _page_queries()
    assert len(queries) >= 6
    for query in queries:
        variables = {"f": [{"home": "A", "away": "B"}]} if "$f" in query else None
        assert cost(query, variables) * 5 <= MAX_COST, query


@pytest.mark.parametrize("aliases", [1, 20])
def test_the_fan_out_attack_is_over_budget(aliases):
    query = (
        "{ "
        + " ".join(
            f"a{i}: models(limit: 200) {{ teamStrengths {{ team {{ name }} }} "
            "trainingRuns { logs config } }"
            for i in range(aliases)
        )
        + " }"
    )
    assert cost(query) > MAX_COST * aliases * 10


def fragment_bomb(levels: int) -> str:
    """Fragments that each spread the next one twice: ``2**levels`` copies of the last."""
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ leagues {{ code }} }}"


def test_a_fragment_is_costed_once_and_multiplied():
    """40 levels expand to 2**40 copies: only a cost per fragment, multiplied, finishes."""
    assert cost(fragment_bomb(3)) == 2**3 * cost("{ leagues { code } }")
    assert cost(fragment_bomb(40)) == 2**40 * cost("{ leagues { code } }")
    shared = "fragment T on League { teams { name } }"
    assert cost(f"{{ leagues {{ ...T }} }} {shared}") == 30 * (1 + 60 * 2)
    assert cost(f"{{ models(limit: 1) {{ id }} leagues {{ ...T ...T }} }} {shared}") == (
        2 + 30 * (1 + 2 * 60 * 2)
    )
