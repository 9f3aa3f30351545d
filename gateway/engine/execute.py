"""Execution of a prepared document: by its compiled plan when it has one (``planner``), else
by graphql-core's executor with the plain-attribute fast path (``fastpath``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from graphql.pyutils import is_awaitable

from gateway.engine import planner
from gateway.engine.fastpath import FastExecutor


def is_mutation(operation: OperationDefinitionNode | None) -> bool:
    return operation is not None and operation.operation == OperationType.MUTATION


def stray_cancellation() -> bool:
    """Whether the ``CancelledError`` being handled is not this task's own cancellation.

    Awaiting a future that someone else cancelled raises ``CancelledError`` in a task nobody
    is cancelling (``cancelling() == 0``). Loader futures are shared and shielded
    (``reads.loaders.shared``), so this should never happen; if it does, the request still
    gets a GraphQL answer (an internal error with its request id) instead of losing its
    connection to a ``BaseException``. A task that is being cancelled (a client gone, a
    deadline, shutdown) must let it through.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


async def run(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    context: Any,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    hide_suggestions: bool = False,
) -> ExecutionResult:
    """Execute a prepared document: by its compiled plan when it has one (``gateway.planner``),
    else by graphql-core's executor; awaits only when some resolver is asynchronous.

    ``hide_suggestions`` keeps "Did you mean …?" out of the errors of variables that do not
    coerce (an input field, an enum value), as validation does with introspection off."""
    plan = planner.plan_for(schema, document)
    if plan is not None and (
        operation_name is None
        or (plan.operation.name is not None and plan.operation.name.value == operation_name)
    ):
        try:
            planned = await planner.execute_plan(
                plan, context, variables, hide_suggestions=hide_suggestions
            )
        except planner.Irregular:
            planned = None
        if planned is not None:
            return planned
    result = execute(
        schema,
        document,
        context_value=context,
        variable_values=dict(variables) if variables else None,
        operation_name=operation_name,
        executor_class=FastExecutor,
        hide_suggestions=hide_suggestions,
    )
    if is_awaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult)
    return result
