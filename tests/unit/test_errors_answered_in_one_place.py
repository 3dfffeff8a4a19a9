"""A domain error becomes an answer in one place only, `optout/web/problems.py`: no other module of
the layer or of a handler reads an error's `status` or `retry_after`, defines a function that
makes a Response out of an error, or answers in an exception handler other than by calling
`problems`. Read from the source, so that a second mapping anywhere fails here, naming the line.

An error is a name the source says holds one: a parameter annotated with `OptoutError` or one of
its subclasses (the layer is typed strictly, so such parameters are annotated), or the name of
an `except <error> as name`."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/optout/python/optout"
PROBLEMS = LAYER / "web/problems.py"
# What an error carries only for its answer: the HTTP status and the Retry-After seconds.
ANSWER_FIELDS = {"status", "retry_after"}


def sources() -> list[Path]:
    return sorted([*LAYER.rglob("*.py"), *(ROOT / "functions").rglob("*.py")])


def error_classes(trees: Iterable[ast.AST]) -> frozenset[str]:
    """`OptoutError` and the name of every class that derives from it, wherever it is defined."""
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    found = {"OptoutError"}
    while True:
        more = {cls.name for cls in classes if any(_name(base) in found for base in cls.bases)}
        if more <= found:
            return frozenset(found)
        found |= more


def answers_made_from_errors(tree: ast.AST, errors: frozenset[str]) -> Iterator[tuple[int, str]]:
    """(line, what) for each place `tree` turns an error into an answer by itself."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.name and _names_an_error(node.type, errors):
            yield from _field_reads(node.body, {node.name})
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        held = {arg.arg for arg in arguments if _names_an_error(arg.annotation, errors)}
        yield from _field_reads(node.body, held)
        if _is_error_handler(node, errors):
            for returned in _returns(node):
                if not _calls_problems(returned.value):
                    yield returned.lineno, f"{node.name} answers an error itself"
        elif held and _names_a_response(node.returns):
            yield node.lineno, f"{node.name} makes a Response out of an error"


def _field_reads(body: list[ast.stmt], held: set[str]) -> Iterator[tuple[int, str]]:
    for statement in body:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and node.attr in ANSWER_FIELDS
                and isinstance(node.value, ast.Name)
                and node.value.id in held
            ):
                yield node.lineno, f"{node.value.id}.{node.attr} read"


def _name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _names_an_error(node: ast.expr | None, errors: frozenset[str]) -> bool:
    """`OptoutError`, `errors.NotFound`, `TokenError | None`, `(NotFound, Conflict)`; not
    `Callable[[], OptoutError]` or `type[OptoutError]`, which hold no error."""
    if isinstance(node, ast.BinOp):
        return _names_an_error(node.left, errors) or _names_an_error(node.right, errors)
    if isinstance(node, ast.Tuple):
        return any(_names_an_error(element, errors) for element in node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
        return _names_an_error(ast.parse(node.value, mode="eval").body, errors)
    return _name(node) in errors


def _names_a_response(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Subscript):
        node = node.value
    return _name(node) == "Response"


def _is_error_handler(node: ast.FunctionDef | ast.AsyncFunctionDef, errors: frozenset[str]) -> bool:
    """Decorated `@<resolver>.exception_handler(<an error class>)`."""
    return any(
        isinstance(decorator, ast.Call)
        and _name(decorator.func) == "exception_handler"
        and any(_names_an_error(arg, errors) for arg in decorator.args)
        for decorator in node.decorator_list
    )


def _returns(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Return]:
    for statement in node.body:
        for inner in ast.walk(statement):
            if isinstance(inner, ast.Return):
                yield inner


def _calls_problems(value: ast.expr | None) -> bool:
    """`problems.<anything>(...)`."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id == "problems"
    )


TREES = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sources()}
ERRORS = error_classes(TREES.values())


def test_the_check_knows_the_errors_wherever_they_are_defined() -> None:
    # Given the layer's sources, when its error classes are collected, then the base, its
    # subclasses in core/errors.py and those defined beside their feature are all known.
    assert {"OptoutError", "TokenExpired", "TooManyRequests", "Unauthorized"} <= ERRORS
    assert {"WebhookUnauthorized", "SnsMessageRefused", "ServiceUnavailable"} <= ERRORS


@pytest.mark.parametrize(
    "source",
    [path for path in TREES if path != PROBLEMS],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_module_but_web_problems_makes_an_answer_of_an_error(source: Path) -> None:
    found = list(answers_made_from_errors(TREES[source], ERRORS))
    assert not found, "\n".join(
        f"{source.relative_to(ROOT)}:{line}: {what}: answer through optout.web.problems"
        for line, what in found
    )


def test_every_http_function_answers_its_refusals_through_problems() -> None:
    # Given each handler, then it has an exception handler for domain errors (the check above
    # holds it to `problems`), so that no function of ours answers a refusal another way.
    handlers = {
        path.parent.name
        for path, tree in TREES.items()
        if path.name == "app.py"
        and any(
            isinstance(node, ast.FunctionDef) and _is_error_handler(node, ERRORS)
            for node in ast.walk(tree)
        )
    }
    assert handlers == {"admin", "feedback_http", "links", "subscriptions", "webhooks"}


@pytest.mark.parametrize(
    "code",
    [
        # The JSON body and the Retry-After header, made outside problems (as web/public.py did).
        "def json_problem(error: OptoutError) -> Response[str]:\n"
        "    return json_response(400, {'message': error.message})",
        "def with_retry_after(error: OptoutError, response: Response[str]) -> Response[str]:\n"
        "    return response",
        # A page whose status is read from the error, in a helper typed loosely.
        "def problem(error: errors.TokenError | None, event: Event) -> str:\n"
        "    return page(error.status, 'problem')",
        # An exception handler that answers by itself, or through another module's builder.
        "@app.exception_handler(OptoutError)\n"
        "def refused(error: OptoutError) -> Response[str]:\n"
        "    return public.json_problem(error)",
        "@app.exception_handler(OptoutError)\n"
        "def refused(error: OptoutError) -> Response[str]:\n"
        "    if isinstance(error, Unauthorized):\n"
        "        return admin.page(401, 'sign_in', {}, app.current_event)\n"
        "    return problems.for_organisers(error, app.current_event)",
        # An error caught and answered on the spot.
        "try:\n    go()\nexcept (NotFound, TooManyRequests) as refused:\n"
        "    headers = {'Retry-After': str(refused.retry_after)}",
        # A feature's own error is an error too.
        "def answer(error: WebhookUnauthorized) -> Response[str]:\n    return json_response(401, {})",
    ],
)
def test_the_check_sees_an_error_made_an_answer_by_hand(code: str) -> None:
    assert list(answers_made_from_errors(ast.parse(code), ERRORS))


@pytest.mark.parametrize(
    "code",
    [
        "@app.exception_handler(OptoutError)\n"
        "def refused(error: OptoutError) -> Response[str]:\n"
        "    logger.info('refused', extra={'error': type(error).__name__})\n"
        "    return problems.for_public(error, app.current_event, form=form)",
        "if subscriber.status is not Status.ACTIVE:\n    return reply.status",
        "raise TooManyRequests('too many', retry_after=seconds_left_in_window(window, now))",
        "try:\n    check(row)\nexcept InvalidInput as error:\n    problems.update(error.problems)",
        "def refuse_unmatched_paths(app: App, error: Callable[[], OptoutError]) -> None:\n"
        "    app.not_found(lambda _: error())",
    ],
)
def test_the_check_leaves_other_statuses_and_errors_raised_alone(code: str) -> None:
    assert list(answers_made_from_errors(ast.parse(code), ERRORS)) == []
