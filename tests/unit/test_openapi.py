"""openapi.json describes exactly the routes that template.yaml and the local stack serve."""

import json
from importlib import resources

from openapi_spec_validator import validate

from local import template
from local.stack import Frontend
from optout.domain import watches
from optout.watching import terms
from optout.web import openapi

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi.document("https://api.example.org/Prod")
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "https://api.example.org/Prod"}]


def test_its_operations_are_template_yamls_api_events_and_the_local_routes() -> None:
    document = openapi.document("/")
    served = {(route.method, route.path) for route in template.routes()}
    local = {
        (method, path) for path, methods in Frontend.LOCAL_ROUTES.items() for method in methods
    }
    assert all(route.method != "ANY" for route in template.routes()), "ANY cannot be described"
    assert operations(document) == served | local


def test_local_only_operations_are_marked_and_no_other() -> None:
    document = openapi.document("/")
    marked = {
        path
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("x-local-only")
    }
    assert marked == set(Frontend.LOCAL_ROUTES)
    for path in marked:
        for method in Frontend.LOCAL_ROUTES[path]:
            assert "local-only" in document["paths"][path][method.lower()]["tags"]


def test_the_webhook_body_is_the_published_schema_by_reference() -> None:
    document = openapi.document("/")
    operation = document["paths"]["/webhooks/policy-change"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PolicyChange"}
    published = json.loads(
        resources.files("optout.schemas").joinpath("policy-change.schema.json").read_text()
    )
    assert document["components"]["schemas"]["PolicyChange"] == published


def test_every_admin_operation_needs_the_token_or_the_session_but_signing_in() -> None:
    document = openapi.document("/")
    for path, item in document["paths"].items():
        if not path.startswith("/admin"):
            continue
        for method, operation in item.items():
            if method not in HTTP_METHODS or path == "/admin/sign-in":
                continue
            assert {"adminToken": []} in operation["security"], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_every_429_says_when_to_retry() -> None:
    document = openapi.document("/")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and "429" in operation["responses"]:
                headers = operation["responses"]["429"]["headers"]
                assert "Retry-After" in headers, (method, path)


def test_a_watch_s_limits_are_the_server_s() -> None:
    request = openapi.document("/")["components"]["schemas"]["WatchRequest"]["properties"]
    assert request["terms"]["maxItems"] == terms.MAX_TERMS
    assert request["allies"]["maxItems"] == watches.MAX_ALLIES
