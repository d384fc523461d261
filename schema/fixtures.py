"""Predictions per request: at most :data:`MAX_PREDICTIONS`, however they are asked for.

``predictions(fixtures:)`` refuses more than ``MAX_FIXTURES`` fixtures in one call, but
twenty aliases of it made 10,000 predictions in one request (8.6 s of work). Before
execution, :func:`predictions_requested` adds up what the operation will compute: each
response key of ``predictions`` (aliases, fragments and inline fragments included; fields
that merge into one key count once, as they run once) counts its fixtures, from the list
literal or the variable's value, and each ``predict`` counts one. An ``evaluation`` (a
model's forecasts of hundreds of matches and thousands of bootstrap resamples: seconds of
work) counts the whole budget, so a request carries one and nothing else that predicts. Over
the bound the request is refused with ``TOO_MANY_PREDICTIONS``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from schema.guard import fragments_of
from server.runs.predictions import MAX_FIXTURES

__all__ = ["MAX_PREDICTIONS", "PredictionLimit", "predictions_requested"]

MAX_PREDICTIONS = MAX_FIXTURES


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == name]
    return operations[0] if len(operations) == 1 else None


def _root_fields(document: DocumentNode, selection_set: SelectionSetNode) -> dict[str, FieldNode]:
    """The operation's top-level fields by response key, fragments flattened (each once:
    spreading a fragment twice adds no field)."""
    fragments = fragments_of(document)
    fields: dict[str, FieldNode] = {}
    spread: set[str] = set()
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                fields.setdefault((selection.alias or selection.name).value, selection)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in spread:
                    spread.add(name)
                    stack.append(fragments[name].selection_set)
    return fields


def _length(value: Any) -> int:
    """Items of a list input: a single value is a list of one (input coercion)."""
    if value is None or isinstance(value, NullValueNode):
        return 0
    if isinstance(value, ListValueNode):
        return len(value.values)
    if isinstance(value, list | tuple):
        return len(value)
    return 1


def _fixtures(
    field: FieldNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> int:
    value: ValueNode | None = next(
        (a.value for a in field.arguments or () if a.name.value == "fixtures"), None
    )
    if isinstance(value, VariableNode):
        name = value.name.value
        if name in variables:
            return _length(variables[name])
        defaults = [
            d.default_value
            for d in operation.variable_definitions or ()
            if d.variable.name.value == name
        ]
        return _length(defaults[0]) if defaults else 0
    return _length(value)


def predictions_requested(
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """How many predictions the operation would compute (0 when none can be chosen)."""
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return 0
    total = 0
    for field in _root_fields(document, operation.selection_set).values():
        if field.name.value == "predict":
            total += 1
        elif field.name.value == "predictions":
            total += _fixtures(field, operation, variables or {})
        elif field.name.value == "evaluation":
            total += MAX_PREDICTIONS
    return total


class PredictionLimit(SchemaExtension):
    """Refuse, before execution, a request for more than :data:`MAX_PREDICTIONS`
    predictions in all."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and not context.pre_execution_errors:
            count = predictions_requested(
                context.graphql_document, context.variables, context.operation_name
            )
            if count > MAX_PREDICTIONS:
                error = GraphQLError(
                    f"this request asks for {count:,} predictions; at most "
                    f"{MAX_PREDICTIONS:,} in one request (every alias and fixture counts, "
                    f"an evaluation {MAX_PREDICTIONS:,}): split them across requests",
                    extensions={
                        "code": "TOO_MANY_PREDICTIONS",
                        "predictions": count,
                        "maxPredictions": MAX_PREDICTIONS,
                    },
                )
                context.pre_execution_errors = [error]
        yield
