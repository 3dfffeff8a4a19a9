"""GET /openapi.json as API Gateway delivers it: the description, reachable where it was asked."""

from tests.integration.conftest import Stack


def test_the_description_names_the_stage_it_was_asked_on_as_its_server(stack: Stack) -> None:
    reply = stack.call("openapi")  # on the execute-api host: the path starts with /dev
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    document = reply.json()
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "/dev"}]
    assert "/webhooks/policy-change" in document["paths"]
    assert reply.headers["Access-Control-Allow-Origin"] == "*"  # any client's tools may read it
