"""Query cost, estimated before execution: a query whose answer could hold more than
:data:`MAX_COST` values is refused with ``extensions.code`` ``QUERY_TOO_COMPLEX``.

The cost of a field is the number of values it can put in the answer: one per parent
object, times the size of its list when it returns one. A list's size is its ``limit``
argument (what the resolver would serve: at most ``MAX_LIMIT``), the length of the list
argument named in :data:`LIST_ARGUMENTS`, or the field's known bound in :data:`LIST_BOUNDS`;
sizes multiply through nesting, so ``models(limit: 200) { teamStrengths { team { name } }
}`` costs 200 models x 300 strengths x 3 values. A ``JSON`` value counts as
:data:`JSON_COST`. Introspection fields count 1 each (the depth limit bounds them).

The budget, 20,000 values, is seven times the largest query the training page sends (its
model list: 100 versions with their metrics, 2,800) and far below the fan-out attack (20
aliases of ``models(limit: 200)`` with strengths and runs: about 5.4 million).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

from server.runs.predictions import MAX_FIXTURES

__all__ = ["JSON_COST", "LIST_ARGUMENTS", "LIST_BOUNDS", "MAX_COST", "QueryCost", "query_cost"]

MAX_COST = 20_000
JSON_COST = 20
MAX_LIMIT = 200  # the resolvers refuse a larger ``limit``

# The most items each list field can hold (fields with a ``limit`` argument are bounded by
# it). A test checks that every list field of the schema is here or takes a ``limit``.
LIST_BOUNDS: dict[tuple[str, str], tuple[int, ...]] = {
    ("Query", "leagues"): (30,),  # football-data.co.uk has 22 divisions
    ("Query", "teams"): (600,),
    ("Query", "teamAliases"): (1000,),
    ("ModelImport", "createdTeams"): (300,),
    ("ModelImport", "createdLeagues"): (30,),
    ("League", "teams"): (60,),  # clubs seen in one division over ten seasons: about 50
    ("League", "seasons"): (40,),
    ("ModelVersion", "trainingLeagues"): (30,),
    ("ModelVersion", "trainingSeasons"): (40,),
    ("ModelVersion", "trainingRuns"): (2,),  # the run that made it
    ("ModelVersion", "teamStrengths"): (300,),  # all seven leagues pooled: 210 teams
    ("CalibrationCurves", "home"): (20, 2),  # reliability points [predicted, observed]
    ("CalibrationCurves", "draw"): (20, 2),
    ("CalibrationCurves", "away"): (20, 2),
    ("Prediction", "scoreGrid"): (30, 30),  # exact grids: 23 goals a side for a 4-goal rate
    ("Prediction", "totals"): (5,),
    ("Prediction", "asianHandicap"): (9,),
    ("Prediction", "notes"): (20,),  # at most one per price source of a fixture
    ("TrainingRun", "logs"): (200,),
    ("Jackpot", "fixtures"): (30,),  # server.runs.jackpots.MAX_JACKPOT_FIXTURES
    ("Jackpot", "warnings"): (5,),
    ("JackpotFixture", "sets"): (6,),  # A-E and G
    ("ModelDetail", "perLeague"): (30,),
    ("ModelDetail", "logs"): (200,),
    ("Calibration", "home"): (20,),  # equal-count bins
    ("Calibration", "draw"): (20,),
    ("Calibration", "away"): (20,),
    ("ModelComparison", "leagues"): (30,),
    ("ModelComparison", "hyperparameters"): (20,),
    ("ModelComparison", "windows"): (20,),
    ("Betting", "sources"): (4,),  # core.sources.BET_SOURCES
    ("BetSource", "leagues"): (30,),
    ("EvaluationSelection", "leagues"): (30,),
    ("EvaluationSelection", "seasons"): (40,),
}


# List fields as long as one of their list arguments (at most the bound the resolver
# enforces): ``predictions(fixtures: [...])`` answers one prediction per fixture.
LIST_ARGUMENTS: dict[tuple[str, str], tuple[str, int]] = {
    ("Query", "predictions"): ("fixtures", MAX_FIXTURES),
}


def _unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


class _Estimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = dict(variables)  # graphql-core wants a dict
        self.memo: dict[tuple[str, str], int] = {}  # (fragment, parent type): unit cost
        self.active: set[tuple[str, str]] = set()  # fragments being costed (cycles)

    def limit(self, node: FieldNode, field: Any) -> int | None:
        arg = field.args.get("limit")
        if arg is None:
            return None
        value = arg.default_value
        for given in node.arguments or ():
            if given.name.value == "limit":
                value = value_from_ast(given.value, arg.type, self.variables)
        if not isinstance(value, int):
            return MAX_LIMIT
        return max(0, min(value, MAX_LIMIT))

    def argument_length(self, node: FieldNode, field: Any, name: str, bound: int) -> int:
        arg = field.args.get(name)
        for given in node.arguments or ():
            if arg is not None and given.name.value == name:
                value = value_from_ast(given.value, arg.type, self.variables)
                if isinstance(value, list):
                    return min(len(value), bound)
        return bound

    def cost(self, selection_set: SelectionSetNode, parent: GraphQLObjectType, n: int) -> int:
        """Values that ``selection_set`` adds for ``n`` objects of type ``parent``."""
        return n * self.unit(selection_set, parent)

    def unit(self, selection_set: SelectionSetNode, parent: GraphQLObjectType) -> int:
        """Values that ``selection_set`` adds for one object of type ``parent``: a cost is
        proportional to the number of objects, so a fragment's is computed once per parent
        type and multiplied (fragments that spread one another twice cost milliseconds)."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                total += self.unit(selection.selection_set, parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, parent)
        return total

    def fragment(self, name: str, parent: GraphQLObjectType) -> int:
        key = (name, parent.name)
        if key not in self.memo:
            fragment = self.fragments.get(name)
            if fragment is None or key in self.active:  # a cycle: refused by validation
                return 0
            self.active.add(key)
            self.memo[key] = self.unit(fragment.selection_set, parent)
            self.active.discard(key)
        return self.memo[key]

    def field(self, node: FieldNode, parent: GraphQLObjectType) -> int:
        """Values that field ``node`` adds for one object of type ``parent``."""
        name = node.name.value
        field = parent.fields.get(name)
        if name.startswith("__") or field is None:
            return 1
        bounds = list(LIST_BOUNDS.get((parent.name, name), ()))
        limit = self.limit(node, field)
        if limit is not None:
            bounds = [limit]
        if (parent.name, name) in LIST_ARGUMENTS:
            bounds = [self.argument_length(node, field, *LIST_ARGUMENTS[parent.name, name])]
        items, type_ = 1, _unwrap(field.type)
        while isinstance(type_, GraphQLList):
            items *= bounds.pop(0) if bounds else MAX_LIMIT
            type_ = _unwrap(type_.of_type)
        if isinstance(type_, GraphQLScalarType) and type_.name == "JSON":
            return items * JSON_COST
        if isinstance(type_, GraphQLObjectType) and node.selection_set is not None:
            return items + self.cost(node.selection_set, type_, items)
        return items


def query_cost(
    schema: GraphQLSchema,
    document: Any,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The estimated number of values in the answer to ``document``'s operation."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    estimator = _Estimator(schema, fragments, variables or {})
    total = 0
    for operation in operations:
        root = schema.get_root_type(operation.operation)
        if root is not None:
            total += estimator.cost(operation.selection_set, root, 1)
    return total


class QueryCost(SchemaExtension):
    """Refuse, before execution, an operation whose estimated cost is over :data:`MAX_COST`
    (queries, mutations and subscriptions alike; after the validation cache, whose errors
    it keeps)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            schema = context.schema._schema
            cost = query_cost(
                schema, context.graphql_document, context.variables, context.operation_name
            )
            if cost > MAX_COST:
                error = GraphQLError(
                    f"this query could return about {cost:,} values, more than the budget "
                    f"of {MAX_COST:,}: ask for fewer items (a smaller limit), fewer aliases "
                    "or fewer nested lists",
                    extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": MAX_COST},
                )
                context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield
