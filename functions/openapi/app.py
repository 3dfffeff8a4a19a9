"""GET /openapi.json: the OpenAPI 3.1 description of every route (built by `optout.web.openapi`).

Its server is where this request came in (the stage prefix on the execute-api host), so a
client or fuzzer pointed at the document reaches the same API."""

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core.observability import logger
from optout.web import openapi, public

app = APIGatewayRestResolver()


@app.get("/openapi.json")
def describe() -> Response[str]:
    described = openapi.document(public.stage_prefix(app.current_event) or "/")
    # A public, unchanging document: caches may keep it for a while, unlike every other answer.
    headers = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
    return Response(200, "application/json", json.dumps(described), headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
