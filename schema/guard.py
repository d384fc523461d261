"""The shape of a query, checked before validation: how many selections it expands to and
how often it asks for the same field at the same place.

Validation rules that follow fragment spreads (Strawberry's depth and alias limits, our
cost estimate) walk the query with every fragment expanded: fragments that each spread the
next one twice make a 1 KB query expand to millions of selections. And graphql-core's
``OverlappingFieldsCanBeMergedRule`` compares every pair of fields that answer at the same
place (the same response path): ``{ leagues { code } }`` repeated 495 times is 245,000
pairs, over a second of CPU. :func:`shape_errors` walks the expanded query once, without
recursion, and stops at the first bound passed, so its work is bounded whatever the query:
over :data:`MAX_SELECTIONS` selections, or over :data:`MAX_REPEATED_PAIRS` pairs of fields
at one place, the query is refused with ``QUERY_TOO_COMPLEX`` before any validation rule
runs. So is a chain of fragments spread one inside another over :data:`MAX_FRAGMENT_NESTING`
deep (240 of them exhausted the recursion of the validation rules: "Validation aborted.",
with no code). Legitimate queries are far below these bounds (the page's largest query has
30 selections and no repeated field).
"""

from __future__ import annotations

from collections import Counter

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = [
    "MAX_FRAGMENT_NESTING",
    "MAX_REPEATED_PAIRS",
    "MAX_SELECTIONS",
    "fragments_of",
    "shape_errors",
]

MAX_SELECTIONS = 2_000  # fields, fragment spreads and inline fragments, fragments expanded
MAX_REPEATED_PAIRS = 1_000  # pairs of fields answering at the same response path
MAX_FRAGMENT_NESTING = 50  # fragments spread inside fragments spread inside ...

_Path = tuple[str, ...]


def _too_many_selections() -> GraphQLError:
    return GraphQLError(
        f"this query expands to more than {MAX_SELECTIONS:,} selections (fragments are "
        "counted each time they are spread): ask for fewer fields or spread fragments fewer "
        "times",
        extensions={"code": "QUERY_TOO_COMPLEX", "maxSelections": MAX_SELECTIONS},
    )


def _nested_too_deeply() -> GraphQLError:
    return GraphQLError(
        f"this query spreads fragments inside one another more than {MAX_FRAGMENT_NESTING} "
        "deep: use fewer levels of fragments",
        extensions={"code": "QUERY_TOO_COMPLEX", "maxFragmentNesting": MAX_FRAGMENT_NESTING},
    )


def _repeated(path: _Path, times: int) -> GraphQLError:
    where = ".".join(path)
    return GraphQLError(
        f"this query asks for {where!r} {times} times at the same place, and fields "
        f"repeated at one place are compared in pairs (at most {MAX_REPEATED_PAIRS:,} pairs "
        "in a query): ask for each field once",
        extensions={
            "code": "QUERY_TOO_COMPLEX",
            "path": where,
            "repeated": times,
            "maxRepeatedPairs": MAX_REPEATED_PAIRS,
        },
    )


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The fragments ``document`` defines, by name."""
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def shape_errors(document: DocumentNode) -> list[GraphQLError]:
    """``[QUERY_TOO_COMPLEX error]`` when the operations of ``document``, fragments
    expanded, have over :data:`MAX_SELECTIONS` selections, over
    :data:`MAX_REPEATED_PAIRS` pairs of fields at one response path or fragments nested
    over :data:`MAX_FRAGMENT_NESTING` deep; else ``[]``. The walk stops at the first bound
    passed: it visits at most :data:`MAX_SELECTIONS` selections."""
    fragments = fragments_of(document)
    stack: list[tuple[SelectionSetNode, _Path, frozenset[str]]] = [
        (d.selection_set, (), frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    seen: Counter[_Path] = Counter()
    selections = pairs = 0
    while stack:
        selection_set, path, spread = stack.pop()
        for selection in selection_set.selections:
            selections += 1
            if selections > MAX_SELECTIONS:
                return [_too_many_selections()]
            if isinstance(selection, FieldNode):
                key = (*path, (selection.alias or selection.name).value)
                pairs += seen[key]  # this field pairs with each one already at its place
                seen[key] += 1
                if pairs > MAX_REPEATED_PAIRS:
                    return [_repeated(key, seen[key])]
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, key, spread))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, path, spread))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in spread:  # unknown, or a cycle: validation's
                    continue
                if len(spread) >= MAX_FRAGMENT_NESTING:
                    return [_nested_too_deeply()]
                stack.append((fragment.selection_set, path, spread | {name}))
    return []
