"""The OpenAPI 3.1 description of every HTTP route, served at ``GET /openapi.json``.

Written once, here, in code: its lists of regions, languages and reminder kinds come from the
modules that define them, and the webhook's body is the published JSON schema
(``schemas/policy-change.schema.json``) placed under ``components`` as it is, never copied.
template.yaml stays the source of paths and methods: ``tests/unit/test_openapi.py`` fails when
this document and template.yaml's API events (and the local stack's own routes) differ.
schemathesis fuzzes every operation described here against the local stack
(``tests/e2e/test_openapi_fuzz.py``, ``make fuzz-api``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from optout.core.event_types import EVENT_TYPES
from optout.core.tokens import SESSION_COOKIE

# Only modules that make no AWS client and render nothing: the function serving this document
# starts without boto3, Jinja2 or Babel.
from optout.domain import ab, locales, plan, regions
from optout.domain.endpoints import MAX_DESCRIPTION
from optout.domain.models import CampaignStatus
from optout.domain.policy import EDITABLE_TEXT
from optout.domain.watches import ABOUT, MAX_ALLIES, OTA, PAGE

JsonObject = dict[str, Any]

_REGION_CODES = sorted(
    [
        *regions.PUBLIC_GROUPS,
        *{c for group in regions.PUBLIC_GROUPS.values() for c in group.countries},
    ]
)
_KINDS = [plan.kind(days) for days in plan.DEFAULT_OFFSETS] + [
    plan.ANNOUNCEMENT_KIND,
    plan.DEADLINE_LATER,
    plan.DEADLINE_EARLIER,
    plan.GOOD_NEWS,
]
_KIND = {
    "type": "string",
    "description": "A reminder of a plan (`N-days-left` for a day other than these), an "
    "organiser's ad-hoc send, or a deadline notice (the region's deadline moved after its "
    "reminders went out)",
    "examples": _KINDS,
}


def _ref(kind: str, name: str) -> JsonObject:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> JsonObject:
    return _ref("schemas", name)


def _json(schema: JsonObject) -> JsonObject:
    return {"application/json": {"schema": schema}}


def _html() -> JsonObject:
    return {"text/html": {"schema": {"type": "string"}}}


def _json_or_page(schema: JsonObject) -> JsonObject:
    """What the admin routes answer: JSON for the API, the page for the dashboard."""
    return {**_json(schema), **_html()}


def _no_store() -> JsonObject:
    return {"Cache-Control": _ref("headers", "CacheControl")}


def _answer(description: str, content: JsonObject, **headers: JsonObject) -> JsonObject:
    return {"description": description, "content": content, "headers": {**_no_store(), **headers}}


def _redirect(description: str, **headers: JsonObject) -> JsonObject:
    location = {"Location": _ref("headers", "Location")}
    return {"description": description, "headers": {**location, **_no_store(), **headers}}


# Why each refusal happens, per status; an operation lists the ones it can answer.
_REFUSALS = {
    "400": "The request is malformed or a field is invalid; `problems` names every field",
    "401": "No valid admin token or session",
    "403": "A dashboard form sent from another origin, or an organiser refused what only the "
    "coalition owner (or the organisation that runs a campaign) may do",
    "404": "No such thing, or a link that is not one of ours",
    "409": "The thing named is in the wrong state for this",
    "410": "The link has expired",
    "413": "The body is larger than this route accepts",
    "429": "Too many requests; `Retry-After` says when to try again",
}


def _refusals(*statuses: str, pages: bool = True) -> dict[str, JsonObject]:
    """Error answers: JSON for API clients (a JSON body, or `Accept: application/json`), and a
    page that says what to do for people, when the route has pages."""
    content = {**_json(_schema("Problem")), **(_html() if pages else {})}
    answers = {}
    for status in statuses:
        extra = {"Retry-After": _ref("headers", "RetryAfter")} if status == "429" else {}
        answers[status] = _answer(_REFUSALS[status], content, **extra)
    return answers


def _operation(
    summary: str,
    tag: str,
    responses: dict[str, JsonObject],
    *,
    operation_id: str,
    parameters: list[JsonObject] | None = None,
    body: JsonObject | None = None,
    description: str = "",
    open_to_all: bool = False,
) -> JsonObject:
    operation: JsonObject = {"tags": [tag], "summary": summary, "operationId": operation_id}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    if tag == "organisers" and not open_to_all:
        operation["security"] = [{"adminToken": []}, {"adminSession": []}]
        responses = {**responses, **_refusals("401", "403", "429")}
    elif tag == "local-only":
        operation["x-local-only"] = True
    operation["responses"] = responses
    return operation


def _path_parameter(name: str, description: str) -> JsonObject:
    schema = {"type": "string", "minLength": 1}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query(name: str, description: str, schema: JsonObject) -> JsonObject:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_TOKEN = _path_parameter("token", "The signed token of a link in a message")
_CAMPAIGN = _path_parameter("campaign_id", "A campaign's id, the policy id it was made from")
_WATCH = _path_parameter("watch_id", "A watch's id")
_FETCHED_AT = _path_parameter(
    "fetched_at", "When the version was read (ISO 8601 in UTC, `2025-10-27T09:00:00Z`): its id"
)
MAX_TERMS = 200  # `optout.watching.terms.MAX_TERMS` (tests/unit/test_openapi.py checks)
_ORGANISATION = _path_parameter(
    "organisation", "An organisation's id (`default`: the deployment's own, as /subscribe)"
)
# An organisation's import or export: the owner names one (none: the default organisation's
# import, everyone's export, with an `organisations` column once the coalition has some); an
# organiser's is their own (another: 403). An organisation's export lists its members only,
# with `membership_status` and `joined_at` after the other columns.
_ORGANISATION_ASKED = _query(
    "organisation",
    "The organisation whose import or export it is (the owner's choice; an unknown one: 404)",
    {"type": "string"},
)
_CHANGE = _path_parameter("change_id", "A change's id: when it was found, then its watch's id")
_LANG = _query(
    "lang",
    "The page's language; an unknown one falls back to Accept-Language, then English",
    {"type": "string"},
)


def _form_or_json(schema: JsonObject, required: bool = True) -> JsonObject:
    return {
        "required": required,
        "content": {"application/x-www-form-urlencoded": {"schema": schema}, **_json(schema)},
    }


def _status(*values: str) -> JsonObject:
    return {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": list(values)}},
    }


def _link_routes() -> dict[str, JsonObject]:
    """The links in reminders: a GET never changes anything but a click count."""
    refused = _refusals("404", "410")
    page = {
        "200": _answer(
            "The page", _html(), **{"Content-Language": _ref("headers", "ContentLanguage")}
        )
    }

    def page_then_post(noun: str, done: JsonObject, post_summary: str, **extra: Any) -> JsonObject:
        return {
            "get": _operation(
                f"The {noun} page, with a button",
                "subscribers",
                {**page, **refused},
                operation_id=f"show{noun.title().replace(' ', '')}Page",
                parameters=[_TOKEN],
            ),
            "post": _operation(
                post_summary,
                "subscribers",
                {"200": _answer("Done", {**_json(done), **_html()}), **refused, **extra},
                operation_id=f"post{noun.title().replace(' ', '')}",
                parameters=[_TOKEN],
                body={"required": False, "content": {"*/*": {"schema": {}}}},
            ),
        }

    return {
        "/r/{token}": {
            "get": _operation(
                "A tracked link: counts the click, then redirects",
                "subscribers",
                {"302": _redirect("To the destination stored with the link"), **refused},
                operation_id="followLink",
                parameters=[_TOKEN],
            )
        },
        "/s/{code}": {
            "get": _operation(
                "A text message's short link: redirects to that person's done page",
                "subscribers",
                {"302": _redirect("To the person's done page"), **_refusals("404", "410")},
                operation_id="followShortLink",
                parameters=[_path_parameter("code", "The short code in a text message")],
            )
        },
        "/done/{token}": page_then_post(
            "done", _status("done"), "\"I've switched it off\": ends this campaign's reminders"
        ),
        "/unsubscribe/{token}": page_then_post(
            "unsubscribe",
            _status("unsubscribed"),
            "Unsubscribe (RFC 8058 one-click: any body, `List-Unsubscribe=One-Click`); never redirects",
        ),
        "/privacy/{token}": {
            "get": _operation(
                "What is kept about the person: a page, or JSON",
                "subscribers",
                {
                    "200": _answer("What is kept", {**_json(_schema("StoredData")), **_html()}),
                    **refused,
                },
                operation_id="showStoredData",
                parameters=[_TOKEN],
            ),
            "post": _operation(
                "Erase everything kept about the person (a member of several organisations: "
                "from those chosen, every one by default)",
                "subscribers",
                {
                    "200": _answer("Erased", {**_json(_schema("Erased")), **_html()}),
                    **refused,
                    **_refusals("400"),
                },
                operation_id="erase",
                parameters=[_TOKEN],
                body={"required": False, "content": {"*/*": {"schema": {}}}},
            ),
        },
    }


def _public_routes() -> dict[str, JsonObject]:
    page = {"Content-Language": _ref("headers", "ContentLanguage")}
    return {
        "/subscribe": {
            "get": _operation(
                "The subscribe form",
                "subscribers",
                {"200": _answer("The form, in the page's language", _html(), **page)},
                operation_id="showSubscribeForm",
                parameters=[_LANG],
            ),
            "post": _operation(
                "Subscribe: a confirmation goes to the contact (double opt-in)",
                "subscribers",
                {
                    "202": _answer(
                        "The same answer whether or not the contact was known",
                        {**_json(_schema("SubscribeAccepted")), **_html()},
                    ),
                    **_refusals("400", "413", "429"),
                },
                operation_id="subscribe",
                parameters=[_LANG],
                body=_form_or_json(_schema("SubscribeRequest")),
            ),
        },
        # A path per organisation of a coalition: the same form, answers and fields.
        "/o/{organisation}/subscribe": {
            "get": _operation(
                "One organisation's subscribe form: its name and privacy notice",
                "subscribers",
                {
                    "200": _answer("The form, in the page's language", _html(), **page),
                    **_refusals("404"),
                },
                operation_id="showOrganisationSubscribeForm",
                parameters=[_ORGANISATION, _LANG],
            ),
            "post": _operation(
                "Subscribe to one organisation's reminders: a confirmation from it goes to "
                "the contact (double opt-in)",
                "subscribers",
                {
                    "202": _answer(
                        "The same answer whether or not the contact was known",
                        {**_json(_schema("SubscribeAccepted")), **_html()},
                    ),
                    **_refusals("400", "404", "413", "429"),
                },
                operation_id="subscribeToOrganisation",
                parameters=[_ORGANISATION, _LANG],
                body=_form_or_json(_schema("SubscribeRequest")),
            ),
        },
        "/confirm/{token}": {
            "get": _operation(
                "The confirmation page: only a button, so link scanners confirm nobody",
                "subscribers",
                {"200": _answer("The page", _html(), **page), **_refusals("404", "410")},
                operation_id="showConfirmPage",
                parameters=[_TOKEN],
            ),
            "post": _operation(
                "Confirm the subscription",
                "subscribers",
                {
                    "200": _answer("Active", {**_json(_status("active")), **_html()}),
                    **_refusals("404", "410"),
                },
                operation_id="confirm",
                parameters=[_TOKEN],
                body={"required": False, "content": {"*/*": {"schema": {}}}},
            ),
        },
        **_link_routes(),
        "/webhooks/policy-change": {
            "post": _operation(
                "A policy monitor reports a change (Standard Webhooks signed)",
                "policy monitors",
                {
                    "200": _answer(
                        "Applied, or a duplicate delivery", _json(_schema("CampaignSummary"))
                    ),
                    **_refusals("400", "401", "409", "413", pages=False),
                },
                operation_id="policyChanged",
                parameters=[
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for name, text in (
                        ("webhook-id", "The delivery's id: a retry carries the same one"),
                        ("webhook-timestamp", "Unix seconds; within five minutes of real time"),
                        ("webhook-signature", "`v1,<base64 HMAC-SHA256>` with the whsec_ secret"),
                    )
                ],
                body={"required": True, "content": _json(_schema("PolicyChange"))},
            )
        },
        "/feedback/sns": {
            "post": _operation(
                "Amazon SNS delivers bounces, complaints and texts received",
                "AWS",
                {
                    "200": _answer(
                        "Handled (or a subscription confirmed)", _json(_schema("SnsOutcome"))
                    ),
                    **_refusals("400", "403", "413", pages=False),
                },
                operation_id="snsDelivery",
                description="Only messages signed by SNS for an accepted topic are acted on. "
                "SNS sends `Content-Type: text/plain` with a JSON body.",
                body={
                    "required": True,
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        **_json(_schema("SnsMessage")),
                    },
                },
            )
        },
        "/openapi.json": {
            "get": _operation(
                "This document",
                "meta",
                {
                    "200": {
                        "description": "OpenAPI 3.1; public, cached for five minutes",
                        "content": _json({"type": "object", "required": ["openapi", "paths"]}),
                        "headers": {"Cache-Control": {"schema": {"const": "public, max-age=300"}}},
                    }
                },
                operation_id="describeApi",
            )
        },
    }


def _campaign_links() -> JsonObject:
    """What a client can do next with the campaign it created (schemathesis' stateful phase
    follows these links from one operation to the next)."""
    following = (
        "showCampaign",
        "campaignStats",
        "launchCheck",
        "previewReminder",
        "editCampaignText",
        "sendTest",
        "launchCampaign",
        "pauseCampaign",
        "resumeCampaign",
        "cancelCampaign",
    )
    return {
        name: {"operationId": name, "parameters": {"campaign_id": "$response.body#/campaign_id"}}
        for name in following
    }


def _admin_routes() -> dict[str, JsonObject]:
    def action(verb: str, summary: str) -> JsonObject:
        return {
            "post": _operation(
                summary,
                "organisers",
                {
                    "200": _answer("The campaign's new status", _json(_schema("CampaignStatus"))),
                    "303": _redirect("A dashboard form: back to the campaign's page"),
                    **_refusals("404", "409"),
                },
                operation_id=f"{verb}Campaign",
                parameters=[_CAMPAIGN],
            )
        }

    return {
        "/admin": {
            "get": _operation(
                "The dashboard",
                "organisers",
                {"200": _answer("The dashboard page", _html())},
                operation_id="dashboard",
            )
        },
        "/admin/sign-in": {
            "post": _operation(
                "Sign in to the dashboard with the admin token",
                "organisers",
                {
                    "303": _redirect(
                        "To the dashboard, with the session cookie",
                        **{"Set-Cookie": _ref("headers", "SetCookie")},
                    ),
                    **_refusals("400", "401", "413", "429"),
                },
                operation_id="signIn",
                open_to_all=True,
                body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["token"],
                                "properties": {"token": {"type": "string"}},
                            }
                        }
                    },
                },
            )
        },
        "/admin/sign-out": {
            "post": _operation(
                "End this dashboard session",
                "organisers",
                {
                    "303": _redirect(
                        "To the sign-in form; the cookie cleared",
                        **{"Set-Cookie": _ref("headers", "SetCookie")},
                    )
                },
                operation_id="signOut",
            )
        },
        "/admin/campaigns": {
            "get": _operation(
                "Every campaign",
                "organisers",
                {"200": _answer("The campaigns", _json(_schema("CampaignList")))},
                operation_id="listCampaigns",
            ),
            "post": _operation(
                "Create a campaign from a policy-change body, as the webhook would",
                "organisers",
                {
                    "201": {
                        **_answer("Created and planned", _json(_schema("CampaignSummary"))),
                        "links": _campaign_links(),
                    },
                    **_refusals("400", "409", "413", pages=False),
                },
                operation_id="createCampaign",
                parameters=[
                    _query(
                        "draft", "`yes`: a draft, sent only once launched", {"enum": ["yes", "no"]}
                    )
                ],
                body={"required": True, "content": _json(_schema("PolicyChange"))},
            ),
        },
        "/admin/sends": {
            "post": _operation(
                "An ad-hoc message to a segment, at a time",
                "organisers",
                {
                    "201": {
                        **_answer("Planned", _json(_schema("PlannedSend"))),
                        "links": _campaign_links(),
                    },
                    **_refusals("400", "409", "413", pages=False),
                },
                operation_id="createSend",
                body={"required": True, "content": _json(_schema("AdHocSend"))},
            )
        },
        "/admin/campaigns/{campaign_id}": {
            "get": _operation(
                "One campaign: JSON for the API, its page for the dashboard",
                "organisers",
                {
                    "200": _answer("The campaign", _json_or_page(_schema("Campaign"))),
                    **_refusals("404"),
                },
                operation_id="showCampaign",
                parameters=[_CAMPAIGN],
            )
        },
        "/admin/campaigns/{campaign_id}/text": {
            "post": _operation(
                "Edit what reminders say, until the first has gone out",
                "organisers",
                {
                    "200": _answer("The campaign's new text", _json({"type": "object"})),
                    **_refusals("400", "404", "409", "413", pages=False),
                },
                operation_id="editCampaignText",
                parameters=[_CAMPAIGN],
                body=_form_or_json(_schema("TextChanges")),
            )
        },
        "/admin/campaigns/{campaign_id}/draft": {
            "post": _operation(
                "Complete a draft: its regions and deadlines, steps, text, links or plan",
                "organisers",
                {
                    "200": _answer("The draft, planned again", _json(_schema("CampaignSummary"))),
                    "303": _redirect("A dashboard form: back to the campaign's page"),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="completeDraft",
                description="The parts of a policy-change document to add or replace; what is "
                "not given stays. The whole is validated by the PolicyChange schema, except "
                "that a draft may still lack regions, steps and setting_url: launching it needs "
                "them (409 until then). The dashboard's form sends `regions` (a line each: "
                "`EU 2025-11-03`), `steps` (a line each), `title`, `summary` and `setting_url`. "
                "409 once the campaign is launched.",
                parameters=[_CAMPAIGN],
                body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": _schema("DraftForm")},
                        **_json(_schema("DraftParts")),
                    },
                },
            )
        },
        "/admin/campaigns/{campaign_id}/launch": action("launch", "Launch a draft"),
        "/admin/campaigns/{campaign_id}/pause": action("pause", "Pause an active campaign"),
        "/admin/campaigns/{campaign_id}/resume": action("resume", "Resume a paused campaign"),
        "/admin/campaigns/{campaign_id}/cancel": action("cancel", "Cancel: nothing more is sent"),
        "/admin/campaigns/{campaign_id}/good-news": {
            "post": _operation(
                "After a withdrawal, tell everyone the campaign's reminders reached that the "
                "change is dropped and nothing needs doing (once)",
                "organisers",
                {
                    "200": _answer("The regions told", _json(_schema("GoodNews"))),
                    "303": _redirect("A dashboard form: back to the campaign's page"),
                    **_refusals("404", "409"),
                },
                operation_id="sendGoodNews",
                parameters=[_CAMPAIGN],
            )
        },
        "/admin/campaigns/{campaign_id}/catch-up": {
            "post": _operation(
                "Turn on or off the catch-up of late joiners: whoever becomes a subscriber after "
                "a reminder of their region went out gets that latest reminder at once",
                "organisers",
                {
                    "200": _answer("Whether late joiners are caught up", _json(_schema("CatchUp"))),
                    "303": _redirect("A dashboard form: back to the campaign's page"),
                    **_refusals("400", "404", "413"),
                },
                operation_id="setCatchUp",
                parameters=[_CAMPAIGN],
                body=_form_or_json(
                    {
                        "type": "object",
                        "required": ["enabled"],
                        "properties": {"enabled": {"type": "boolean"}},
                        "additionalProperties": False,
                    }
                ),
            )
        },
        "/admin/campaigns/{campaign_id}/ab-tests": {
            "post": _operation(
                "Give reminders variants to test by conversions: a share of each region's "
                "audience gets them, and after a wait the rest gets the better one",
                "organisers",
                {
                    "200": _answer("The campaign's tests", _json(_schema("ABTests"))),
                    "303": _redirect("A dashboard form: back to the campaign's page"),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="setABTests",
                description="The list replaces the campaign's tests (`[]` removes them). Each "
                "names a reminder by its `days_before` the deadline (one of the campaign's "
                "offsets). When that reminder comes due in a region, `share` of its audience "
                "(default 0.2) is split at random, stably per person, between the `variants`; "
                "after `wait_hours` (default 4) the variant with the best rate of \"I've "
                "switched it off\" (people's presses of the done page's button; opens and "
                "link scanners never count) goes to the rest, if a two-proportion z-test finds "
                "it better than every other at 95% confidence; with too few conversions to tell "
                "(fewer than 5 expected per variant) or no significant difference, the first "
                "variant goes. A variant gives a `subject` (a text message's first words) and/or "
                "an `opening` (the paragraph under the headline, in place of the summary), each "
                "a template of the reminder's values (`{{ time_left }}`, `{{ title }}`, "
                "`{{ deadline_date }}`...) per language; `en` is required, and a language a "
                "variant lacks falls back as the templates do (fr-CA to fr, then English). "
                "400 naming each problem (one variant, a share outside 0-1, a language the bot "
                "does not speak, a template that does not render), 409 once a reminder the "
                "tests concern has gone out; either way nothing changes.",
                parameters=[_CAMPAIGN],
                body={"required": True, "content": _json(_schema("ABTests"))},
            )
        },
        "/admin/campaigns/{campaign_id}/stats": {
            "get": _operation(
                "The funnel per region: audience, sent, clicked, confirmed...",
                "organisers",
                {
                    "200": _answer(
                        "The numbers, as JSON or (`?format=csv`) CSV",
                        {
                            **_json(_schema("CampaignStats")),
                            "text/csv": {"schema": {"type": "string"}},
                        },
                        **{"Content-Disposition": _ref("headers", "ContentDisposition")},
                    ),
                    **_refusals("400", "404", pages=False),
                },
                operation_id="campaignStats",
                parameters=[
                    _CAMPAIGN,
                    _query("format", "`csv` for a spreadsheet", {"enum": ["json", "csv"]}),
                    _query(
                        "table",
                        "The CSV's table: `regions` (the default: a row per region, and the "
                        "total), or `ab_tests` (a row per variant of each A/B test and group, "
                        "with the decision: `reminder,variant,group,sent,confirmed,"
                        "conversion_rate,winner,reason`)",
                        {"enum": ["regions", "ab_tests"]},
                    ),
                ],
            )
        },
        "/admin/campaigns/{campaign_id}/launch-check": {
            "get": _operation(
                "Whether each reminder can reach its audience in its window, and before its "
                "deadline under the cap across campaigns",
                "organisers",
                {
                    "200": _answer("The check", _json_or_page(_schema("LaunchCheck"))),
                    **_refusals("404"),
                },
                operation_id="launchCheck",
                parameters=[_CAMPAIGN],
            )
        },
        "/admin/campaigns/{campaign_id}/preview": {
            "get": _operation(
                "A reminder as a subscriber would get it",
                "organisers",
                {
                    "200": _answer("The rendered message", _json_or_page(_schema("Preview"))),
                    **_refusals("400", "404", "409"),
                },
                operation_id="previewReminder",
                parameters=[
                    _CAMPAIGN,
                    _query("region", "A region of the campaign", {"type": "string"}),
                    _query("reminder", "`<region> <kind>` or a kind", {"type": "string"}),
                    _query("channel", "Which message", {"enum": ["email", "sms"]}),
                    _query("locale", "The language", {"enum": list(locales.SUPPORTED_LOCALES)}),
                    _query(
                        "first",
                        "`no`: a text as to someone who had one before",
                        {"enum": ["yes", "no"]},
                    ),
                ],
            )
        },
        "/admin/campaigns/{campaign_id}/test": {
            "post": _operation(
                "Send one reminder to an organiser's own address or number",
                "organisers",
                {
                    "200": _answer("Sent", _json_or_page(_schema("TestSent"))),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="sendTest",
                parameters=[_CAMPAIGN],
                body=_form_or_json(_schema("TestSend")),
            )
        },
        "/admin/changes": {
            "get": _operation(
                "The changes the policy watch found, newest first",
                "organisers",
                {"200": _answer("The latest 100 changes", _json_or_page(_schema("ChangeList")))},
                operation_id="listChanges",
            )
        },
        "/admin/changes/{change_id}": {
            "get": _operation(
                "One change: the sentences added and removed, the terms, the versions compared",
                "organisers",
                {
                    "200": _answer("The change", _json_or_page(_schema("Change"))),
                    **_refusals("404"),
                },
                operation_id="showChange",
                parameters=[_CHANGE],
            )
        },
        "/admin/changes/{change_id}/draft": {
            "post": _operation(
                "Draft a campaign from a change: prefilled, sending nothing until launched",
                "organisers",
                {
                    "201": {
                        **_answer("Drafted", _json(_schema("Drafted"))),
                        "links": {
                            name: {
                                "operationId": name,
                                "parameters": {"campaign_id": "$response.body#/campaign_id"},
                            }
                            for name in ("showCampaign", "completeDraft", "launchCheck")
                        },
                    },
                    "200": _answer("Drafted before: the same campaign", _json(_schema("Drafted"))),
                    "303": _redirect("A dashboard form: to the draft campaign's page"),
                    **_refusals("400", "404"),
                },
                operation_id="draftFromChange",
                description="A draft campaign with the change's platform, the watch's title, "
                "a summary of the sentences added (those removed when none was), the page the "
                "change was read on as source_url and the watch's setting_url; no regions and "
                "no steps yet (POST /admin/campaigns/{campaign_id}/draft adds them). A change "
                "drafts one campaign: asked again, the answer is the same campaign.",
                parameters=[_CHANGE],
            )
        },
        "/admin/subscribers/import": {
            "post": _operation(
                "Import subscribers from CSV (consent proof, or a confirmation is sent)",
                "organisers",
                {
                    "200": _answer(
                        "What was imported, and each line refused", _json(_schema("ImportReport"))
                    ),
                    **_refusals("400", "404", "413", pages=False),
                },
                operation_id="importSubscribers",
                parameters=[_ORGANISATION_ASKED],
                body={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
            )
        },
        "/admin/subscribers/export": {
            "get": _operation(
                "Export subscribers as CSV, in parts: each with the evidence of their consent",
                "organisers",
                {
                    "200": _answer(
                        "One part; `X-Next-After` when there is more. Columns: contact, "
                        "channel, region, locale, timezone, platforms, consent_source, "
                        "consent_at, consent_form, subscribed_at, then the evidence of consent "
                        "(empty: not recorded): consent_kind, consent_wording_sha256, "
                        "consent_language, consent_privacy_notice_url, consent_proof",
                        {"text/csv": {"schema": {"type": "string"}}},
                        **{
                            "X-Next-After": _ref("headers", "NextAfter"),
                            "Content-Disposition": _ref("headers", "ContentDisposition"),
                        },
                    ),
                    **_refusals("400", "404", pages=False),
                },
                operation_id="exportSubscribers",
                parameters=[
                    _query("format", "CSV is the one format", {"enum": ["csv"]}),
                    _query("after", "The `X-Next-After` of the previous part", {"type": "string"}),
                    _ORGANISATION_ASKED,
                ],
            )
        },
        "/admin/list-health": {
            "get": _operation(
                "List health: subscribers by state, sign-ups, confirmations, bounce and "
                "complaint rates",
                "organisers",
                {"200": _answer("List health", _json(_schema("ListHealth")))},
                operation_id="listHealth",
                description="What the dashboard's first page shows of the list, from counters "
                "kept as people subscribe, confirm and leave (no scan): subscribers by state "
                "in all and per region, channel and language; sign-ups and confirmations by "
                "the hour (UTC) and the confirmation rate; and each campaign's bounce and "
                "complaint rates against the limits at which it pauses.",
            )
        },
        "/admin/list-health/recount": {
            "post": _operation(
                "Count every subscriber again and repair the list health counters",
                "organisers",
                {"200": _answer("List health as recounted", _json(_schema("Recount")))},
                operation_id="recountListHealth",
                description="A scan of the whole subscribers table (`optout recount`): the "
                "repair after a write whose count was lost. Sign-ups and confirmations by the "
                "hour are left as they are. `corrected` lists each counter that was wrong. "
                "No body.",
            )
        },
        "/admin/subscribers/test-links": {
            "post": _operation(
                "The links in the messages to an SES mailbox simulator address (`optout smoke`)",
                "organisers",
                {
                    "200": _answer("The links", _json(_schema("TestRecipientLinks"))),
                    **_refusals("400", "413", pages=False),
                },
                operation_id="testRecipientLinks",
                description="403 for any address outside `simulator.amazonses.com`: a real "
                "person's links reach them only in their own messages.",
                body={"required": True, "content": _json(_schema("TestRecipientLinksRequest"))},
            )
        },
    }


def _watch_routes() -> dict[str, JsonObject]:
    def action(verb: str, summary: str, schema: str, method: str = "post") -> JsonObject:
        return {
            method: _operation(
                summary,
                "organisers",
                {
                    "200": _answer("Done", _json(_schema(schema))),
                    "303": _redirect("A dashboard form: back to the list of watches"),
                    **_refusals("404"),
                },
                operation_id=verb,
                parameters=[_WATCH],
            )
        }

    return {
        "/admin/watches": {
            "get": _operation(
                "Every policy watch, with its status (failing ones first)",
                "organisers",
                {"200": _answer("The watches", _json_or_page(_schema("WatchList")))},
                operation_id="listWatches",
            ),
            "post": _operation(
                "Declare a policy watch: a platform's page, or a document Open Terms Archive "
                "keeps, read every hour",
                "organisers",
                {
                    "201": {
                        **_answer(
                            "Created: each ally's secret is in this answer, and never shown again",
                            _json_or_page(_schema("WatchCreated")),
                        ),
                        "links": {
                            name: {
                                "operationId": name,
                                "parameters": {"watch_id": "$response.body#/watch_id"},
                            }
                            for name in (
                                "showWatch",
                                "editWatch",
                                "pauseWatch",
                                "resumeWatch",
                                "deleteWatch",
                                "deleteWatchByForm",
                            )
                        },
                    },
                    **_refusals("400", "409", "413"),
                },
                operation_id="createWatch",
                description="JSON for the API; the dashboard's form sends `kind` and the "
                "source's fields flat, and `allies` and `terms` one per line. Every problem is "
                "named in one 400 and nothing is saved: an address must be https on the "
                "standard port (443) and not an IP address of a private network; at most "
                f"{MAX_ALLIES} allies and {MAX_TERMS} terms.",
                body={
                    "required": True,
                    "content": {
                        **_json(_schema("WatchRequest")),
                        "application/x-www-form-urlencoded": {"schema": _schema("WatchForm")},
                    },
                },
            ),
        },
        "/admin/watches/{watch_id}": {
            "get": _operation(
                "One watch: its status, allies, terms and the versions kept of its source",
                "organisers",
                {
                    "200": _answer("The watch", _json_or_page(_schema("WatchDetail"))),
                    **_refusals("404"),
                },
                operation_id="showWatch",
                parameters=[_WATCH],
            ),
            **action(
                "deleteWatch",
                "Delete a watch (the changes it found stay; its versions until the retention ends)",
                "WatchDeleted",
                "delete",
            ),
        },
        "/admin/watches/{watch_id}/edit": {
            "post": _operation(
                "Change a watch's title, about, setting URL, terms or allies",
                "organisers",
                {
                    "200": _answer(
                        "Saved: each new ally's secret is in this answer, and never shown again; "
                        "the dashboard gets the watch's page",
                        _json_or_page(_schema("WatchEdited")),
                    ),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="editWatch",
                parameters=[_WATCH],
                description="A field left out stays as it is. The source cannot be changed (a "
                "new source is a new watch: a 400 says so); the version compared against, the "
                "status and the other allies' secrets stay. The watcher scores changes by the "
                "new terms from its next run. Every problem is named in one 400 and nothing is "
                "saved; 409 when the allies were changed meanwhile (read the watch and retry). "
                "The dashboard's form sends every field, `terms` and `add_allies` one per line "
                "and one `remove_allies` per box checked.",
                body={
                    "required": True,
                    "content": {
                        **_json(_schema("WatchEdit")),
                        "application/x-www-form-urlencoded": {"schema": _schema("WatchEditForm")},
                    },
                },
            )
        },
        "/admin/watches/{watch_id}/pause": action(
            "pauseWatch", "Stop reading a watch's source", "WatchPaused"
        ),
        "/admin/watches/{watch_id}/resume": action(
            "resumeWatch", "Read a paused watch's source again", "WatchPaused"
        ),
        "/admin/watches/{watch_id}/delete": action(
            "deleteWatchByForm", "Delete a watch: the dashboard's form for DELETE", "WatchDeleted"
        ),
        "/admin/watches/{watch_id}/versions/{fetched_at}": {
            "get": _operation(
                "A version kept of a watch's source, with its text",
                "organisers",
                {
                    "200": _answer("The version", _json_or_page(_schema("WatchVersion"))),
                    **_refusals("404"),
                },
                operation_id="watchVersion",
                description="Still served after its watch is deleted, until the retention "
                "(`VersionRetentionDays`) ends: the changes found link to their versions.",
                parameters=[_WATCH, _FETCHED_AT],
            )
        },
    }


_ENDPOINT = _path_parameter("endpoint_id", "An endpoint's id (`ep_…`)")


def _webhook_routes() -> dict[str, JsonObject]:
    """The organisers' endpoints for events out (`optout.events.endpoints`)."""

    def action(verb: str, summary: str, schema: str, method: str = "post") -> JsonObject:
        return {
            method: _operation(
                summary,
                "organisers",
                {
                    "200": _answer("Done", _json(_schema(schema))),
                    "303": _redirect("A dashboard form: back to the endpoint, or the list"),
                    **_refusals("404"),
                },
                operation_id=verb,
                parameters=[_ENDPOINT],
            )
        }

    endpoint_body = {
        "required": True,
        "content": {
            **_json(_schema("WebhookEndpointRequest")),
            "application/x-www-form-urlencoded": {"schema": _schema("WebhookEndpointForm")},
        },
    }
    return {
        "/admin/webhooks": {
            "get": _operation(
                "Every endpoint for events out, paused ones first",
                "organisers",
                {"200": _answer("The endpoints", _json_or_page(_schema("WebhookEndpointList")))},
                operation_id="listWebhooks",
            ),
            "post": _operation(
                "Register an endpoint of the organisers' own tools, sent the events it takes, "
                "signed as Standard Webhooks",
                "organisers",
                {
                    "201": {
                        **_answer(
                            "Registered: its secret is in this answer, and never shown again",
                            _json_or_page(_schema("WebhookEndpointCreated")),
                        ),
                        "links": {
                            name: {
                                "operationId": name,
                                "parameters": {"endpoint_id": "$response.body#/endpoint_id"},
                            }
                            for name in (
                                "showWebhook",
                                "editWebhook",
                                "pauseWebhook",
                                "resumeWebhook",
                                "rotateWebhookSecret",
                                "replayWebhook",
                                "deleteWebhook",
                                "deleteWebhookByForm",
                            )
                        },
                    },
                    **_refusals("400", "413"),
                },
                operation_id="createWebhook",
                description="`url` must be https on the standard port (443) and not an IP "
                "address of a private network. `events` lists the types it takes (none or "
                "empty: every type); `own_crm` marks the organisation's own CRM, the only "
                "endpoint sent a person's contact, in `subscriber.confirmed` only. Every "
                "problem is named in one 400 and nothing is saved.",
                body=endpoint_body,
            ),
        },
        "/admin/webhooks/{endpoint_id}": {
            "get": _operation(
                "One endpoint, its recent delivery attempts with their answers, and its dead "
                "letters",
                "organisers",
                {
                    "200": _answer("The endpoint", _json_or_page(_schema("WebhookEndpointDetail"))),
                    **_refusals("404"),
                },
                operation_id="showWebhook",
                parameters=[_ENDPOINT],
            ),
            **action(
                "deleteWebhook",
                "Delete an endpoint (its log and dead letters expire)",
                "WebhookEndpointDeleted",
                "delete",
            ),
        },
        "/admin/webhooks/{endpoint_id}/edit": {
            "post": _operation(
                "Change an endpoint's address, event types, CRM mark or description",
                "organisers",
                {
                    "200": _answer("Saved", _json(_schema("WebhookEndpoint"))),
                    "303": _redirect("A dashboard form: back to the endpoint"),
                    **_refusals("400", "404", "413"),
                },
                operation_id="editWebhook",
                parameters=[_ENDPOINT],
                description="A field left out stays as it is; every problem is named in one "
                "400 and nothing is saved.",
                body=endpoint_body,
            )
        },
        "/admin/webhooks/{endpoint_id}/pause": action(
            "pauseWebhook",
            "Send an endpoint nothing until it is resumed (its events become dead letters)",
            "WebhookEndpointStatus",
        ),
        "/admin/webhooks/{endpoint_id}/resume": action(
            "resumeWebhook", "Send a paused endpoint events again", "WebhookEndpointStatus"
        ),
        "/admin/webhooks/{endpoint_id}/delete": action(
            "deleteWebhookByForm",
            "Delete an endpoint: the dashboard's form for DELETE",
            "WebhookEndpointDeleted",
        ),
        "/admin/webhooks/{endpoint_id}/rotate-secret": {
            "post": _operation(
                "A new secret for an endpoint; the old one still signs beside it for a day",
                "organisers",
                {
                    "200": _answer(
                        "The new secret, shown this once",
                        _json_or_page(_schema("WebhookSecretRotated")),
                    ),
                    **_refusals("404"),
                },
                operation_id="rotateWebhookSecret",
                parameters=[_ENDPOINT],
            )
        },
        "/admin/webhooks/{endpoint_id}/replay": {
            "post": _operation(
                "Send kept events to an endpoint again: one by its id, or a time range",
                "organisers",
                {
                    "200": _answer("Queued", _json(_schema("WebhookReplayed"))),
                    "303": _redirect("A dashboard form: back to the endpoint"),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="replayWebhook",
                parameters=[_ENDPOINT],
                description='`{"event_id": …}` replays that event whatever its type; `{"from": '
                '…, "to": …}` (ISO times with their zone) every kept event of the types the '
                "endpoint takes in that range, at most 1000. 404 for an event not kept (events "
                "are kept `EventRetentionDays`), 409 while the endpoint is paused.",
                body={
                    "required": True,
                    "content": {
                        **_json(_schema("WebhookReplayRequest")),
                        "application/x-www-form-urlencoded": {
                            "schema": _schema("WebhookReplayRequest")
                        },
                    },
                },
            )
        },
    }


_ORGANISATION_ID = _path_parameter(
    "organisation_id", "An organisation's id (`default`: the deployment's own)"
)
_TOKEN_ID = _path_parameter("token_id", "An organiser's token's id (`tok_…`)")


def _organisation_routes() -> dict[str, JsonObject]:
    """The coalition's organisations and their organisers' tokens (the coalition owner's only,
    `optout.organisers.organisations`), and the organisations of a shared campaign."""
    owner_only = (
        " The coalition owner's only (the admin token): an organisation's organisers get 403."
    )

    def form_or_json(schema: str) -> JsonObject:
        return {
            "required": True,
            "content": {
                **_json(_schema(schema)),
                "application/x-www-form-urlencoded": {"schema": _schema(schema)},
            },
        }

    revoked = "Revoke an organiser's token: refused from now on, and its sessions end"
    revoke_answers = {
        "200": _answer("Revoked", _json(_schema("OrganiserTokenRevoked"))),
        "303": _redirect("A dashboard form: back to the organisation"),
        **_refusals("404"),
    }
    campaign_done = {
        "200": _answer("The campaign's organisations", _json(_schema("CampaignOrganisations"))),
        "303": _redirect("A dashboard form: back to the campaign, or the list"),
    }
    return {
        "/admin/organisations": {
            "get": _operation(
                "Every organisation of the coalition, the default one (the deployment's own) first",
                "organisers",
                {"200": _answer("The organisations", _json_or_page(_schema("OrganisationList")))},
                operation_id="listOrganisations",
                description=owner_only.strip(),
            ),
            "post": _operation(
                "Add an organisation: its own organisers, sender identity, pages and subscribers",
                "organisers",
                {
                    "201": _answer("Added", _json_or_page(_schema("Organisation"))),
                    **_refusals("400", "409", "413"),
                },
                operation_id="createOrganisation",
                description="`id` (lower-case letters, digits and inner hyphens, at most 40), "
                "`name`, `sender_address` (verified in SES) and `postal_address` are required; "
                "`support_contact`, `privacy_notice_url` (https) and `configuration_set` are "
                "optional. Every problem is named in one 400; `default` or an id in use: 409."
                + owner_only,
                body=form_or_json("OrganisationRequest"),
            ),
        },
        "/admin/organisations/{organisation_id}": {
            "get": _operation(
                "One organisation, with its organisers' tokens (never the tokens themselves)",
                "organisers",
                {
                    "200": _answer(
                        "The organisation", _json_or_page(_schema("OrganisationDetail"))
                    ),
                    **_refusals("404"),
                },
                operation_id="showOrganisation",
                parameters=[_ORGANISATION_ID],
                description=owner_only.strip(),
            )
        },
        "/admin/organisations/{organisation_id}/edit": {
            "post": _operation(
                "Change an organisation's name, sender identity, privacy notice or configuration set",
                "organisers",
                {
                    "200": _answer("Saved", _json(_schema("Organisation"))),
                    "303": _redirect("A dashboard form: back to the organisation"),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="editOrganisation",
                parameters=[_ORGANISATION_ID],
                description="A field left out stays as it is. The default organisation is "
                "changed by the deployment's parameters: 409." + owner_only,
                body=form_or_json("OrganisationEdit"),
            )
        },
        "/admin/organisations/{organisation_id}/tokens": {
            "get": _operation(
                "An organisation's organisers' tokens: ids, names and dates, never the tokens",
                "organisers",
                {
                    "200": _answer("The tokens", _json(_schema("OrganiserTokenList"))),
                    **_refusals("404"),
                },
                operation_id="listOrganiserTokens",
                parameters=[_ORGANISATION_ID],
                description=owner_only.strip(),
            ),
            "post": _operation(
                "A new token for an organisation's organiser, shown this once",
                "organisers",
                {
                    "201": _answer(
                        "The token, in this answer only: it is kept as a keyed hash",
                        _json_or_page(_schema("OrganiserTokenCreated")),
                    ),
                    **_refusals("400", "404", "413"),
                },
                operation_id="addOrganiserToken",
                parameters=[_ORGANISATION_ID],
                description="The organiser sends it as a bearer token, or signs in to the "
                "dashboard with it, and sees only their organisation's campaigns, endpoints "
                "and numbers." + owner_only,
                body=form_or_json("OrganiserTokenRequest"),
            ),
        },
        "/admin/organisations/{organisation_id}/tokens/{token_id}": {
            "delete": _operation(
                revoked,
                "organisers",
                revoke_answers,
                operation_id="revokeOrganiserToken",
                parameters=[_ORGANISATION_ID, _TOKEN_ID],
                description=owner_only.strip(),
            )
        },
        "/admin/organisations/{organisation_id}/tokens/{token_id}/delete": {
            "post": _operation(
                revoked + ": the dashboard's form for DELETE",
                "organisers",
                revoke_answers,
                operation_id="revokeOrganiserTokenByForm",
                parameters=[_ORGANISATION_ID, _TOKEN_ID],
                description=owner_only.strip(),
            )
        },
        "/admin/campaigns/{campaign_id}/organisations": {
            "post": _operation(
                "Say which organisations joined a shared campaign, and the order its messages "
                "are attributed in",
                "organisers",
                {**campaign_done, **_refusals("400", "404", "413")},
                operation_id="setCampaignOrganisations",
                parameters=[_CAMPAIGN],
                description="`members` replaces the organisations that joined it (not the one "
                "that runs it); `attribution` (optional; left out: none) is the order in which "
                "a person who belongs to several hears it from one of them, else from the one "
                "they joined first. Unknown organisations: 400 naming them." + owner_only,
                body=form_or_json("CampaignOrganisationsRequest"),
            )
        },
        "/admin/campaigns/{campaign_id}/leave": {
            "post": _operation(
                "Take the organiser's organisation out of a campaign it joined",
                "organisers",
                {**campaign_done, **_refusals("404", "409")},
                operation_id="leaveCampaign",
                parameters=[_CAMPAIGN],
                description="409 for the organisation that runs it (cancel it instead), or one "
                "that has not joined it.",
            )
        },
    }


def _organisation_schemas() -> JsonObject:
    text = {"type": "string"}
    organisation_fields = {
        "name": text,
        "sender_address": text,
        "postal_address": text,
        "support_contact": text,
        "privacy_notice_url": text,
        "configuration_set": text,
    }
    organisation_properties: JsonObject = {
        "id": text,
        **organisation_fields,
        "created_at": {**text, "description": "ISO 8601; empty for the default one"},
        "default": {"type": "boolean", "description": "The deployment's own"},
    }
    organisation_required = ["id", *organisation_fields, "created_at", "default"]
    organisation_properties["sender"] = {
        "type": "object",
        "description": "Whether SES lets the account send from its address or domain "
        "(null: SES could not say), and what to do if not (added, edited and shown "
        "organisations)",
        "required": ["verified", "problem"],
        "properties": {"verified": {"type": ["boolean", "null"]}, "problem": text},
    }
    organisation = {
        "type": "object",
        "required": organisation_required,
        "properties": organisation_properties,
    }
    token_properties: JsonObject = {
        "token_id": text,
        "organisation": text,
        "name": text,
        "created_at": {"type": "string", "format": "date-time"},
    }
    token_required = ["token_id", "organisation", "name", "created_at"]
    token = {"type": "object", "required": token_required, "properties": token_properties}
    ids = {"type": "array", "items": text}
    return {
        "Organisation": organisation,
        "OrganisationList": {
            "type": "object",
            "required": ["organisations"],
            "properties": {"organisations": {"type": "array", "items": organisation}},
        },
        "OrganisationDetail": {
            "type": "object",
            "required": [*organisation_required, "tokens", "sender"],
            "properties": {
                **organisation_properties,
                "tokens": {"type": "array", "items": token},
            },
        },
        "OrganisationRequest": {
            "type": "object",
            "required": ["id", "name", "sender_address", "postal_address"],
            "properties": {"id": text, **organisation_fields},
        },
        "OrganisationEdit": {"type": "object", "properties": organisation_fields},
        "OrganiserToken": token,
        "OrganiserTokenList": {
            "type": "object",
            "required": ["organisation", "tokens"],
            "properties": {"organisation": text, "tokens": {"type": "array", "items": token}},
        },
        "OrganiserTokenRequest": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {**text, "description": "Whose token, or what for"}},
        },
        "OrganiserTokenCreated": {
            "type": "object",
            "required": [*token_required, "token", "note"],
            "properties": {
                **token_properties,
                "token": {**text, "description": "`oot_…`: shown this once"},
                "note": text,
            },
        },
        "OrganiserTokenRevoked": {
            "type": "object",
            "required": ["organisation", "token_id", "revoked"],
            "properties": {"organisation": text, "token_id": text, "revoked": {"const": True}},
        },
        "CampaignOrganisationsRequest": {
            "type": "object",
            "required": ["members"],
            "properties": {"members": ids, "attribution": ids},
        },
        "CampaignOrganisations": {
            "type": "object",
            "required": ["campaign_id", "organisation", "members", "attribution"],
            "properties": {
                "campaign_id": text,
                "organisation": text,
                "members": ids,
                "attribution": ids,
            },
        },
    }


def _webhook_schemas() -> JsonObject:
    text = {"type": "string"}
    stamp = {"type": "string", "format": "date-time"}
    moment = {"type": "string", "description": "An ISO time, or empty"}
    types = {"type": "array", "items": {"enum": list(EVENT_TYPES)}}
    endpoint_fields = {
        "endpoint_id": text,
        "url": text,
        "events": {**types, "description": "The types it takes (all of them when every_event)"},
        "every_event": {"type": "boolean"},
        "own_crm": {"type": "boolean"},
        "description": text,
        "status": {"enum": ["active", "paused"]},
        "paused_reason": text,
        "paused_at": moment,
        "failing_since": moment,
        "last_delivered_at": moment,
        "created_at": stamp,
        "secret_hint": {**text, "description": "`whsec_…` and its last characters"},
    }
    endpoint = {
        "type": "object",
        "required": list(endpoint_fields),
        "properties": {
            **endpoint_fields,
            # whose it is (who registered it): sent only the events naming it, but the default's
            "organisation": text,
        },
    }
    attempt = {
        "type": "object",
        "required": ["event_id", "type", "at", "attempt", "status", "answer", "outcome"],
        "properties": {
            "endpoint_id": text,
            "event_id": text,
            "type": text,
            "at": stamp,
            "attempt": {"type": "integer", "minimum": 0},
            "status": {"type": "integer", "description": "The HTTP status; 0: no answer"},
            "answer": {**text, "description": "An excerpt of the answer, or why none came"},
            "duration_ms": {"type": "integer", "minimum": 0},
            "outcome": {"enum": ["delivered", "retried", "dead letter"]},
        },
    }
    letter = {
        "type": "object",
        "required": ["event_id", "type", "at", "reason", "attempts"],
        "properties": {
            "endpoint_id": text,
            "event_id": text,
            "type": text,
            "at": stamp,
            "reason": text,
            "attempts": {"type": "integer", "minimum": 0},
        },
    }
    return {
        "WebhookEndpointRequest": {
            "type": "object",
            "additionalProperties": False,  # a misspelt field is refused, not ignored
            "properties": {
                "url": {**text, "description": "https, port 443, a public address"},
                "events": {**types, "description": "Empty or left out: every type"},
                "own_crm": {"type": "boolean", "default": False},
                "description": {**text, "maxLength": MAX_DESCRIPTION},
            },
        },
        "WebhookEndpointForm": {
            "type": "object",
            "description": "The dashboard's form: one `events` per box checked; `own_crm` on",
            "properties": {"url": text, "description": text, "events": text, "own_crm": text},
        },
        "WebhookEndpoint": endpoint,
        "WebhookEndpointList": {
            "type": "object",
            "required": ["endpoints"],
            "properties": {"endpoints": {"type": "array", "items": endpoint}},
        },
        "WebhookEndpointCreated": {
            "type": "object",
            "required": [*endpoint_fields, "secret", "note"],
            "properties": {
                **endpoint_fields,
                "secret": {"type": "string", "pattern": "^whsec_"},
                "note": text,
            },
        },
        "WebhookEndpointDetail": {
            "type": "object",
            "required": [*endpoint_fields, "attempts", "dead_letters"],
            "properties": {
                **endpoint_fields,
                "attempts": {"type": "array", "items": attempt},
                "dead_letters": {"type": "array", "items": letter},
            },
        },
        "WebhookEndpointStatus": {
            "type": "object",
            "required": ["endpoint_id", "status"],
            "properties": {"endpoint_id": text, "status": {"enum": ["active", "paused"]}},
        },
        "WebhookEndpointDeleted": {
            "type": "object",
            "required": ["endpoint_id", "deleted"],
            "properties": {"endpoint_id": text, "deleted": {"const": True}},
        },
        "WebhookSecretRotated": {
            "type": "object",
            "required": ["endpoint_id", "secret", "previous_secret_signs_until", "note"],
            "properties": {
                "endpoint_id": text,
                "secret": {"type": "string", "pattern": "^whsec_"},
                "previous_secret_signs_until": stamp,
                "note": text,
            },
        },
        "WebhookReplayRequest": {
            "type": "object",
            "additionalProperties": False,
            "description": "Either `event_id`, or `from` and `to`",
            "properties": {"event_id": text, "from": text, "to": text},
        },
        "WebhookReplayed": {
            "type": "object",
            "required": ["endpoint_id", "replayed", "event_ids"],
            "properties": {
                "endpoint_id": text,
                "replayed": {"type": "integer", "minimum": 0},
                "event_ids": {"type": "array", "items": text},
            },
        },
    }


def _follow_up_routes() -> dict[str, JsonObject]:
    """ "Check it again" after a watched settings page changed (`optout.watching.follow_up`)."""
    return {
        "/admin/changes/{change_id}/follow-ups": {
            "get": _operation(
                "The ended campaigns of the change's platform whose converts may be asked to "
                "check again (none unless the change is to a settings page)",
                "organisers",
                {
                    "200": _answer("The offers", _json(_schema("FollowUps"))),
                    **_refusals("404", pages=False),
                },
                operation_id="changeFollowUps",
                parameters=[_CHANGE],
            )
        },
        "/admin/changes/{change_id}/check-again": {
            "post": _operation(
                "Ask the people who said they switched it off in an ended campaign to check "
                "that it is still off: an ad-hoc send, due now, once per change and campaign",
                "organisers",
                {
                    "201": _answer("Planned", _json(_schema("CheckAgain"))),
                    "303": _redirect("A dashboard form: back to the change's page"),
                    **_refusals("400", "404", "409", "413"),
                },
                operation_id="checkAgain",
                parameters=[_CHANGE],
                description="Refused (409) for a change that is not to a settings page, a "
                "campaign that had not ended when the change was found, one followed up "
                "already (the message names that send) or in which nobody converted; (400) for "
                "a campaign of another platform or none.",
                body=_form_or_json(
                    {
                        "type": "object",
                        "required": ["campaign_id"],
                        "properties": {
                            "campaign_id": _ref(
                                "schemas", "PolicyChange/properties/policy/properties/id"
                            )
                        },
                    }
                ),
            )
        },
    }


def _local_routes() -> dict[str, JsonObject]:
    clock = _json(
        {
            "type": "object",
            "required": ["now"],
            "properties": {"now": {"type": "string", "format": "date-time"}},
        }
    )
    return {
        "/_local/outbox": {
            "get": _operation(
                "Every message sent, oldest first",
                "local-only",
                {
                    "200": {
                        "description": "The outbox",
                        "content": _json({"type": "array", "items": _schema("OutboxEntry")}),
                    }
                },
                operation_id="localOutbox",
            )
        },
        "/_local/tick": {
            "post": _operation(
                "Run the scheduler now, and the other schedules that are due, then drain every queue",
                "local-only",
                {"200": {"description": "What ran", "content": _json({"type": "object"})}},
                operation_id="localTick",
            )
        },
        # local/demo_site.py: the page the demo's policy watch reads.
        "/_local/demo/linkedin-generative-ai-help": {
            "get": _operation(
                "The demo watch's help page, as it reads on the stack's clock",
                "local-only",
                {"200": {"description": "The page", "content": _html()}},
                operation_id="localDemoHelpPage",
            )
        },
        # local/demo_receiver.py: the demo's endpoint for events out.
        "/_local/demo/events": {
            "get": _operation(
                "What the demo's endpoint for events out received, oldest first",
                "local-only",
                {"200": {"description": "The deliveries", "content": _json({"type": "array"})}},
                operation_id="localDemoEvents",
            ),
            "post": _operation(
                "The demo's endpoint for events out: a Standard Webhooks delivery",
                "local-only",
                {
                    "204": {"description": "Verified and kept"},
                    "400": {"description": "Not JSON", "content": _json(_schema("Problem"))},
                    "401": {
                        "description": "No valid Standard Webhooks signature",
                        "content": _json(_schema("Problem")),
                    },
                    "404": {
                        "description": "The stack runs without its demo",
                        "content": _json(_schema("Problem")),
                    },
                },
                operation_id="localDemoEventReceived",
                body={"required": True, "content": _json({"type": "object"})},
            ),
        },
        "/_local/clock": {
            "get": _operation(
                "The stack's clock",
                "local-only",
                {"200": {"description": "Now", "content": clock}},
                operation_id="localClock",
            ),
            "post": _operation(
                "Set or advance the stack's clock",
                "local-only",
                {
                    "200": {"description": "The new time", "content": clock},
                    "400": {
                        "description": "Neither `set` nor `advance`",
                        "content": _json(_schema("Problem")),
                    },
                },
                operation_id="localMoveClock",
                body={"required": True, "content": _json(_schema("ClockChange"))},
            ),
        },
    }


# What local/stack.py's parse_duration takes, at least one part, as a regex without lookaheads.
_DAYS = "([0-9]{1,6}W([0-9]{1,6}D)?|[0-9]{1,6}D)"
_TIME = r"T([0-9]{1,6}H([0-9]{1,6}M)?([0-9]{1,6}(\.[0-9]{1,6})?S)?|[0-9]{1,6}M([0-9]{1,6}(\.[0-9]{1,6})?S)?|[0-9]{1,6}(\.[0-9]{1,6})?S)"
_DURATION_PATTERN = f"^-?P({_DAYS}({_TIME})?|{_TIME})$"


def _schemas() -> JsonObject:
    text = {"type": "string"}
    stamp = {"type": "string", "format": "date-time"}
    counts = {"type": "integer", "minimum": 0}

    def by_language(longest: int) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "A template by language (en required); others fall back to it as "
            "templates do.",
            "required": ["en"],
            "propertyNames": {"enum": list(locales.SUPPORTED_LOCALES)},
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": longest},
        }

    # Kept on writes, so a count can be off (even below 0) until a recount.
    subscriber_states = {
        state: {"type": "integer"} for state in ("pending", "active", "unsubscribed", "suppressed")
    }
    campaign_fields = {
        "campaign_id": text,
        "title": text,
        "platform": text,
        "status": text,
        "regions": {"type": "object", "additionalProperties": stamp},
        "created_at": stamp,
        "updated_at": stamp,
        # late joiners get the latest reminder at once (`plan.catch_up` in the webhook body)
        "catch_up": {"type": "boolean"},
        # coalitions: the organisation that runs it, those that joined it, the attribution order
        "organisation": text,
        "members": {"type": "array", "items": text},
        "attribution": {"type": "array", "items": text},
    }
    sentences = {"type": "array", "items": text}
    change_fields = {
        "change_id": text,
        "watch_id": text,
        "platform": text,
        "title": text,
        "about": {"enum": ["policy", "setting"]},
        "detected_at": stamp,
        "added": sentences,
        "removed": sentences,
        "terms": sentences,
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "notify": {"type": "boolean", "description": "The score reached the threshold"},
        "before": {**stamp, "description": "The version compared against (its fetched_at)"},
        "after": {**stamp, "description": "The version found changed (its fetched_at)"},
        "source_url": text,
        "setting_url": text,
        "left_out": {
            "type": "integer",
            "minimum": 0,
            "description": "Sentences too many to keep on the change (a page rewritten whole): "
            "the two versions have them all",
        },
        "draft_campaign_id": {"type": "string", "description": '"" until drafted'},
        "follow_ups": {"type": "object", "additionalProperties": text},
        "told": {"type": "boolean", "description": "Organisers' email and allies' events queued"},
    }
    return {
        "PolicyChange": _published_schema("policy-change.schema.json"),
        "Problem": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "The kind: InvalidInput, NotFound..."},
                "message": text,
                "problems": {
                    "type": "object",
                    "additionalProperties": text,
                    "description": "Field -> what is wrong",
                },
            },
        },
        "SubscribeRequest": {
            "type": "object",
            "required": ["contact", "region"],
            "properties": {
                "contact": {
                    "type": "string",
                    "description": "An email address, or a phone number of the region",
                },
                "region": {
                    "enum": _REGION_CODES,
                    "description": "A region group or a country in one",
                },
                "channel": {
                    "enum": ["email", "sms"],
                    "description": "Default: from the contact's shape",
                },
                "locale": {
                    "enum": list(locales.SUPPORTED_LOCALES),
                    "description": f"Default: {locales.DEFAULT_LOCALE}",
                },
                "timezone": {
                    "type": "string",
                    "description": "An IANA zone; default: the region's",
                },
                "platforms": {
                    "description": "Platform slugs; default: every platform",
                    "oneOf": [
                        {
                            "type": "array",
                            "maxItems": 20,
                            "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,31}$"},
                        },
                        {"type": "string"},
                    ],
                },
            },
        },
        "SubscribeAccepted": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"const": "pending"}, "message": text},
        },
        "StoredData": {
            "type": "object",
            "required": ["subscriber_id", "consent_evidence"],
            "properties": {
                "subscriber_id": text,
                "consent_evidence": _ref("schemas", "Consent"),
                # A member of several organisations of a coalition: each of them.
                "organisations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["organisation", "name", "status", "since"],
                        "properties": {
                            "organisation": text,
                            "name": text,
                            "status": {"enum": ["pending", "active", "unsubscribed"]},
                            "since": text,
                        },
                    },
                },
            },
        },
        # The answer to an erasure; a member of several organisations is told from which it
        # erased them (the body's `organisations`, form fields or a JSON list; none: every one)
        # and to which they are still subscribed.
        "Erased": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"const": "erased"},
                "erased_from": {"type": "array", "items": text},
                "still_subscribed": {"type": "array", "items": text},
            },
        },
        # The evidence of a person's consent (`domain.consent`); null: not recorded.
        "Consent": {
            "type": "object",
            "required": [
                "source",
                "source_detail",
                "form_version",
                "wording_sha256",
                "language",
                "subscribed_at",
                "confirmed_at",
                "privacy_notice_url",
                "proof",
                "imported_at",
            ],
            "properties": {
                "source": {"enum": ["form", "import", "keyword", None]},
                "source_detail": {"type": ["string", "null"]},
                "form_version": {"type": ["string", "null"]},
                "wording_sha256": {
                    "oneOf": [{"type": "string", "pattern": "^[0-9a-f]{64}$"}, {"type": "null"}]
                },
                "language": text,
                "subscribed_at": {"type": ["string", "null"]},
                "confirmed_at": {"type": ["string", "null"]},
                # "": the form showed no privacy notice link
                "privacy_notice_url": {"type": ["string", "null"]},
                "proof": {"type": ["string", "null"]},
                "imported_at": {"type": ["string", "null"]},
            },
        },
        "PlannedSend": {
            "type": "object",
            "required": ["campaign_id", "send_at", "regions"],
            "properties": {"campaign_id": text, "send_at": stamp, "regions": counts},
        },
        "CampaignSummary": {
            "type": "object",
            "required": ["campaign_id", "status"],
            "properties": {
                "campaign_id": text,
                "status": text,
                # regions whose deadline moved after their reminders went out, each told by
                # a notice; only in an answer that planned one
                "deadline_notices": {"type": "integer", "minimum": 1},
                # a withdrawal after reminders went out: POST .../good-news may tell their readers
                "good_news_available": {"const": True},
            },
        },
        "FollowUps": {
            "type": "object",
            "required": ["change_id", "platform", "about", "offers"],
            "properties": {
                "change_id": text,
                "platform": text,
                "about": {"enum": ["policy", "setting"]},
                "offers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "campaign_id",
                            "title",
                            "status",
                            "ended_at",
                            "converted",
                            "setting_url",
                            "send_id",
                        ],
                        "properties": {
                            "campaign_id": text,
                            "title": text,
                            "status": text,
                            "ended_at": text,
                            # people who said they switched it off (left since included)
                            "converted": counts,
                            "setting_url": text,
                            "send_id": {
                                "type": "string",
                                "description": "the follow-up sent already; empty if none",
                            },
                        },
                    },
                },
            },
        },
        "CheckAgain": {
            "type": "object",
            "required": ["change_id", "campaign_id", "send_id", "send_at", "converted", "regions"],
            "properties": {
                "change_id": text,
                "campaign_id": text,
                "send_id": text,
                "send_at": stamp,
                "converted": counts,
                "regions": counts,
            },
        },
        "GoodNews": {
            "type": "object",
            "required": ["campaign_id", "status", "good_news"],
            "properties": {"campaign_id": text, "status": text, "good_news": counts},
        },
        "ABTests": {
            "type": "object",
            "required": ["ab_tests"],
            "properties": {
                "campaign_id": text,
                "ab_tests": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["days_before", "variants"],
                        "properties": {
                            "days_before": {"type": "integer", "minimum": 0},
                            "share": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "exclusiveMaximum": 1,
                                "default": 0.2,
                            },
                            "wait_hours": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": 72,
                                "default": 4,
                            },
                            "variants": {
                                "type": "array",
                                "minItems": 2,
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "name": {
                                            "type": "string",
                                            "description": "Optional. A, B, C... by default.",
                                        },
                                        "subject": by_language(ab.MAX_CHARS["subject"]),
                                        "opening": by_language(ab.MAX_CHARS["opening"]),
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "additionalProperties": False,
                    },
                },
            },
        },
        "ABTestStats": {
            "type": "object",
            "required": ["reminder", "region", "state", "variants", "decision"],
            "properties": {
                "reminder": text,
                "region": text,
                "share": {"type": "number"},
                "wait_hours": {"type": "number"},
                "state": {"enum": ["waiting", "rest-sent", "cancelled"]},
                "test_started_at": text,
                "rest_due_at": text,
                "held_for_result": {
                    **counts,
                    "description": "People of the rest waiting for the decision.",
                },
                "variants": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["variant", "test", "rest"],
                        "properties": {
                            "variant": text,
                            "test": _schema("VariantNumbers"),
                            "rest": _schema("VariantNumbers"),
                        },
                    },
                },
                "decision": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["winner", "reason", "significant", "decided_at"],
                            "properties": {
                                "winner": text,
                                "reason": text,
                                "significant": {"type": "boolean"},
                                "decided_at": text,
                                "results": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    ]
                },
            },
        },
        "VariantNumbers": {
            "type": "object",
            "required": ["sent", "confirmed", "conversion_rate"],
            "properties": {
                "sent": counts,
                "confirmed": counts,
                "conversion_rate": {"type": "number"},
            },
        },
        "CatchUp": {
            "type": "object",
            "required": ["campaign_id", "catch_up"],
            "properties": {"campaign_id": text, "catch_up": {"type": "boolean"}},
        },
        "CampaignStatus": {
            "type": "object",
            "required": ["campaign_id", "status"],
            "properties": {
                "campaign_id": text,
                # cancelling withdraws the campaign, as `policy.withdrawn` does
                "status": {"enum": [status.value for status in CampaignStatus]},
                # after reminders went out: POST .../good-news may tell their readers
                "good_news_available": {"const": True},
            },
        },
        "Campaign": {
            "type": "object",
            "required": [*campaign_fields, "policy"],
            "properties": {
                **campaign_fields,
                "policy": {"type": "object"},
                # withdrawn after reminders went out, the good news not yet sent
                "good_news_available": {"type": "boolean"},
            },
        },
        "CampaignList": {
            "type": "object",
            "required": ["campaigns"],
            "properties": {
                "campaigns": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": list(campaign_fields),
                        "properties": campaign_fields,
                    },
                }
            },
        },
        "CampaignStats": {
            "type": "object",
            "required": ["campaign_id", "regions", "total"],
            "properties": {
                "campaign_id": text,
                "regions": {"type": "array", "items": _schema("RegionFunnel")},
                "total": _schema("RegionFunnel"),
                "timeline": {"type": "object"},
                "ab_tests": {
                    "type": "array",
                    "description": "Optional. Each A/B-tested reminder whose test share went "
                    "out: each variant's numbers in the test share and in the rest, and the "
                    "decision with its reason (null while waiting).",
                    "items": _schema("ABTestStats"),
                },
                "conversions": {
                    "type": "object",
                    "description": 'Optional. Who said "I\'ve switched it off", by the reminder '
                    'whose done link they pressed ("unknown" for links minted before done '
                    "links named their reminder; a text's short link counts for the latest "
                    "reminder sent to them), by language and by channel, each beside the "
                    "messages sent.",
                    "properties": {
                        f"by_{dimension}": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [dimension, "sent", "confirmed", "conversion_rate"],
                                "properties": {
                                    dimension: text,
                                    "sent": counts,
                                    "confirmed": counts,
                                    "conversion_rate": {"type": "number"},
                                },
                            },
                        }
                        for dimension in ("reminder", "language", "channel")
                    },
                },
                "organisations": {
                    "type": "array",
                    "description": "Optional. A campaign shared by organisations of a "
                    "coalition: each organisation's share (each person counted once, under the "
                    "organisation their message came from; the shares add up to the total, "
                    "the deduplicated whole). An organiser of one organisation sees their own "
                    "only. Empty for a campaign of the default organisation alone. The CSV "
                    "then has an `organisation` column: `all` on the regions and the total, "
                    "and a row per organisation's share.",
                    "items": {
                        "type": "object",
                        "required": ["organisation", "sent", "confirmed", "conversion_rate"],
                        "properties": {
                            "organisation": text,
                            "sent": counts,
                            "failed": counts,
                            "unknown": counts,
                            "skipped": counts,
                            "confirmed": counts,
                            "conversion_rate": {"type": "number"},
                        },
                    },
                },
            },
        },
        "RegionFunnel": {
            "type": "object",
            "required": ["region", "audience", "sent", "clicked", "confirmed", "conversion_rate"],
            "properties": {
                "region": text,
                "audience": counts,
                "sent": counts,
                "clicked": {
                    **counts,
                    "description": "People who clicked a tracked link (first click each); "
                    "link scanners' visits are counted in scanner_clicks instead.",
                },
                "scanner_clicks": {
                    **counts,
                    "description": "Optional. Visits to tracked links by link scanners: a "
                    "known scanner's User-Agent, or within 10 seconds of the delivery.",
                },
                "confirmed": counts,
                "unsubscribed": counts,
                "deferred": counts,
                "deferred_cap": {
                    **counts,
                    "description": "Of `deferred`, messages the cap across campaigns "
                    "(MessagesPerDay, MessagesPerWeek) held back until the person's next day "
                    "with room.",
                },
                "caught_up": counts,
                # "the deadline moved" notices sent (also in `sent`)
                "deadline_notices": counts,
                "good_news": counts,  # "the change is dropped" notices sent (also in `sent`)
                "conversion_rate": {"type": "number"},
            },
        },
        "ListHealth": {
            "type": "object",
            "required": [
                "total",
                "by_region",
                "by_channel",
                "by_language",
                "timeline",
                "signups",
                "confirmed",
                "confirmation_rate",
            ],
            "properties": {
                "total": {
                    "type": "object",
                    "required": list(subscriber_states),
                    "properties": subscriber_states,
                },
                **{
                    f"by_{dimension}": {
                        "type": "array",
                        "description": f"Subscribers by state per {dimension}, each "
                        f"{dimension} with any",
                        "items": {
                            "type": "object",
                            "required": [dimension, *subscriber_states],
                            "properties": {dimension: text, **subscriber_states},
                        },
                    }
                    for dimension in ("region", "channel", "language")
                },
                "timeline": {
                    "type": "object",
                    "description": "Hour (UTC, `2025-10-27T09`) -> `signups` and `confirmed`",
                    "additionalProperties": {"type": "object", "additionalProperties": counts},
                },
                "signups": counts,
                "confirmed": counts,
                "confirmation_rate": {"type": "number", "description": "confirmed / signups"},
                "campaigns": {
                    "type": "array",
                    "description": "Each campaign's bounce and complaint rates (of `sent`) "
                    "against the limits that pause it; under `min_sent` sent, not judged yet.",
                    "items": {
                        "type": "object",
                        "required": [
                            "campaign_id",
                            "status",
                            "sent",
                            "bounced",
                            "complained",
                            "bounce_rate",
                            "complaint_rate",
                            "bounce_limit",
                            "complaint_limit",
                            "judged",
                            "min_sent",
                            "bounce_over_limit",
                            "complaint_over_limit",
                        ],
                        "properties": {
                            "campaign_id": text,
                            "status": text,
                            "sent": counts,
                            "bounced": counts,
                            "complained": counts,
                            "bounce_rate": {"type": "number"},
                            "complaint_rate": {"type": "number"},
                            "bounce_limit": {"type": "number"},
                            "complaint_limit": {"type": "number"},
                            "judged": {"type": "boolean"},
                            "min_sent": counts,
                            "bounce_over_limit": {"type": "boolean"},
                            "complaint_over_limit": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "Recount": {
            "allOf": [
                _schema("ListHealth"),
                {
                    "type": "object",
                    "required": ["corrected"],
                    "properties": {
                        "corrected": {
                            "type": "array",
                            "description": "Each counter the recount changed",
                            "items": {
                                "type": "object",
                                "required": [
                                    "region",
                                    "channel",
                                    "language",
                                    "state",
                                    "was",
                                    "now",
                                ],
                                "properties": {
                                    "region": text,
                                    "channel": text,
                                    "language": text,
                                    "state": text,
                                    "was": {"type": "integer"},
                                    "now": counts,
                                },
                            },
                        }
                    },
                },
            ]
        },
        "LaunchCheck": {
            "type": "object",
            "required": ["campaign_id", "reminders"],
            "properties": {
                "campaign_id": text,
                "checked_at": stamp,
                "catch_up": {"type": "boolean"},
                "problems": {
                    "type": "array",
                    "items": text,
                    "description": "What keeps a draft from launching (no regions yet...)",
                },
                "reminders": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["region", "kind", "due_at", "problems"],
                        "properties": {
                            "region": text,
                            "kind": _KIND,
                            "due_at": stamp,
                            "problems": {"type": "array"},
                            "ab_test": {
                                "type": ["object", "null"],
                                "description": "Optional. A reminder with an A/B test: its "
                                "share, wait, variants, and when the rest goes (rest_at); "
                                "null without one.",
                            },
                        },
                    },
                },
            },
        },
        "Preview": {
            "type": "object",
            "required": ["subject", "text"],
            "properties": {
                "from": {
                    "type": "string",
                    "description": "Optional. Whom the email comes from: the campaign's "
                    'organisation\'s name and address ("" for a text message).',
                },
                "subject": {"type": ["string", "null"]},
                "text": text,
                "html": {"type": ["string", "null"]},
                "variants": {
                    "type": "array",
                    "description": "Optional. A reminder with an A/B test: each variant as sent "
                    "(the message above is the first's); [] without a test.",
                    "items": {
                        "type": "object",
                        "required": ["variant", "subject", "text"],
                        "properties": {
                            "variant": text,
                            "subject": {"type": ["string", "null"]},
                            "text": text,
                            "html": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
        "TestSend": {
            "type": "object",
            "required": ["to"],
            "properties": {
                "to": {"type": "string", "description": "The organiser's own address or number"},
                "region": text,
                "reminder": text,
                "locale": {"enum": list(locales.SUPPORTED_LOCALES)},
            },
        },
        "TestSent": {
            "type": "object",
            "required": ["to", "message_id"],
            "properties": {"to": text, "message_id": text},
        },
        "TextChanges": {
            "type": "object",
            "description": "Any of the policy's text fields, each as the PolicyChange schema has it",
            "additionalProperties": False,  # any other field cannot be edited: refused
            "properties": {
                name: _ref("schemas", f"PolicyChange/properties/policy/properties/{name}")
                for name in EDITABLE_TEXT
            },
        },
        "DraftParts": {
            "type": "object",
            "description": "Parts of a policy-change document, each as the PolicyChange schema "
            "has it (the dashboard's form sends its fields as lines of text instead)",
            "additionalProperties": False,
            "properties": {
                "regions": _ref("schemas", "PolicyChange/properties/regions"),
                "policy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        name: _ref("schemas", f"PolicyChange/properties/policy/properties/{name}")
                        for name in EDITABLE_TEXT
                    },
                },
                "plan": _ref("schemas", "PolicyChange/properties/plan"),
            },
        },
        "DraftForm": {
            "type": "object",
            "description": "The form on a draft's dashboard page; a field left empty changes "
            "nothing",
            "additionalProperties": False,
            "properties": {
                "regions": {
                    "type": "string",
                    "description": "A region and its deadline a line: EU 2025-11-03 (midnight "
                    "in the region's reference zone), EU 2025-11-03 09:00, or an ISO 8601 date "
                    "and time with its offset",
                },
                "steps": {"type": "string", "description": "An opt-out step a line"},
                "title": text,
                "summary": text,
                "setting_url": text,
            },
        },
        "Change": {
            "type": "object",
            "required": [*change_fields, "links"],
            "properties": {
                **change_fields,
                "links": {
                    "type": "object",
                    "required": ["before", "after"],
                    "description": "The admin API's addresses of the two versions compared "
                    "(GET /admin/watches/{watch_id}/versions/{fetched_at}) and, once drafted, "
                    "of the draft campaign",
                    "properties": {"before": text, "after": text, "campaign": text},
                },
            },
        },
        "ChangeList": {
            "type": "object",
            "required": ["changes"],
            "properties": {"changes": {"type": "array", "items": _schema("Change")}},
        },
        "Drafted": {
            "type": "object",
            "required": ["change_id", "campaign_id", "created"],
            "properties": {
                "change_id": text,
                "campaign_id": text,
                "created": {"type": "boolean", "description": "false: drafted before"},
            },
        },
        "AdHocSend": {
            "type": "object",
            "required": ["send_at", "regions", "message"],
            "additionalProperties": False,  # a misspelt field is refused, not ignored
            "properties": {
                "id": _ref("schemas", "PolicyChange/properties/policy/properties/id"),
                "send_at": stamp,
                "regions": {"type": "array", "minItems": 1, "items": {"enum": _REGION_CODES}},
                "platforms": {"type": "array", "items": text},
                "channel": {
                    "enum": ["email", "sms", None],
                    "description": "null or left out: both",
                },
                "locales": {"type": "array", "items": {"enum": list(locales.SUPPORTED_LOCALES)}},
                "converted_in": {
                    "type": "string",
                    "description": "a campaign's id: only the people who said they switched it "
                    "off in it",
                },
                "message": {
                    "type": "object",
                    "description": "A policy's text, each field as the PolicyChange schema has it",
                    "required": ["title"],
                    "properties": {
                        name: _ref("schemas", f"PolicyChange/properties/policy/properties/{name}")
                        for name in (
                            "title",
                            "short_title",
                            "summary",
                            "steps",
                            "setting_url",
                            "translations",
                        )
                    },
                },
            },
        },
        **_watch_schemas(),
        **_webhook_schemas(),
        **_organisation_schemas(),
        "TestRecipientLinksRequest": {
            "type": "object",
            "required": ["contact"],
            "properties": {
                "contact": {
                    "type": "string",
                    "examples": ["success+smoke@simulator.amazonses.com"],
                },
                "campaign_id": {
                    "type": "string",
                    "description": "with `region`: the unsubscribe link counts for this campaign",
                },
                "region": {"type": "string"},
            },
        },
        "TestRecipientLinks": {
            "type": "object",
            "required": ["contact", "subscriber_id", "confirm", "unsubscribe", "privacy"],
            "properties": {
                name: {"type": "string"}
                for name in ("contact", "subscriber_id", "confirm", "unsubscribe", "privacy")
            },
        },
        "ImportReport": {
            "type": "object",
            "required": [
                "imported_active",
                "confirmation_sent",
                "updated",
                "unchanged",
                "rejected",
                "warnings",
            ],
            "properties": {
                **{
                    name: counts
                    for name in (
                        "imported_active",
                        "confirmation_sent",
                        "updated",
                        "unchanged",
                        "merged_duplicates",
                    )
                },
                "rejected": {"type": "array"},
                "warnings": {"type": "array"},
            },
        },
        "SnsMessage": {
            "type": "object",
            "required": [
                "Type",
                "MessageId",
                "TopicArn",
                "Timestamp",
                "SignatureVersion",
                "Signature",
                "SigningCertURL",
            ],
            "properties": {
                name: text
                for name in (
                    "Type",
                    "MessageId",
                    "TopicArn",
                    "Message",
                    "Timestamp",
                    "SignatureVersion",
                    "Signature",
                    "SigningCertURL",
                    "SubscribeURL",
                    "Token",
                )
            },
        },
        "SnsOutcome": {"type": "object", "required": ["outcome"], "properties": {"outcome": text}},
        "OutboxEntry": {
            "type": "object",
            "required": ["channel", "to", "text", "sent_at"],
            "properties": {
                "channel": {"enum": ["email", "sms"]},
                "to": text,
                "subject": {"type": ["string", "null"]},
                "text": text,
                "html": {"type": ["string", "null"]},
                "headers": {"type": "object"},
                "sent_at": stamp,
            },
        },
        "ClockChange": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["set"],
                    "additionalProperties": False,
                    "properties": {"set": stamp},
                },
                {
                    "type": "object",
                    "required": ["advance"],
                    "additionalProperties": False,
                    "properties": {
                        "advance": {
                            "type": "string",
                            "description": "An ISO 8601 duration in weeks, days, hours, minutes "
                            "and seconds (P7D, PT6H, -P1D): years and months have no fixed length",
                            "pattern": _DURATION_PATTERN,
                        }
                    },
                },
            ],
        },
    }


def _watch_schemas() -> JsonObject:
    text = {"type": "string"}
    stamp_or_empty = {"type": "string", "description": "ISO 8601 in UTC; empty: not yet"}
    # Loose where the server trims or defaults (a null or an empty field takes its default):
    # what it refuses beyond these types, each 400 names.
    optional = {"type": ["string", "null"]}
    page_source = {
        "type": "object",
        "required": ["kind", "url"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": PAGE},
            "url": {**text, "description": "The page's https address"},
        },
    }
    ota_source = {
        "type": "object",
        "required": ["kind", "api_url", "service_id", "terms_type"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": OTA},
            "api_url": {
                **text,
                "description": "An Open Terms Archive Collection API's root, /v1 included",
            },
            "service_id": {**text, "examples": ["LinkedIn"]},
            "terms_type": {**text, "examples": ["Privacy Policy"]},
        },
    }
    status = {
        "type": "object",
        "required": ["state", "checked_at", "ok_at", "failures", "reason", "next_check_at"],
        "properties": {
            "state": {
                "enum": ["ok", "failing", "new", "paused"],
                "description": "new: not read yet; failing: the last reads failed (`reason`)",
            },
            "checked_at": stamp_or_empty,
            "ok_at": stamp_or_empty,
            "failures": {"type": "integer", "minimum": 0},
            "reason": {**text, "description": "Why the last read failed; empty once one works"},
            "next_check_at": {
                **text,
                "description": "After failures, when it is read again; empty: at the next run",
            },
        },
    }
    watch_fields = {
        "watch_id": text,
        "platform": text,
        "title": text,
        "about": {"enum": list(ABOUT)},
        "source": {"oneOf": [page_source, ota_source]},
        "setting_url": text,
        "paused": {"type": "boolean"},
        "created_at": text,
        "status": status,
        "last_version": {**text, "description": "The version compared against (`fetched_at`)"},
        "allies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url", "secret_hint", "problem"],
                "properties": {
                    "url": text,
                    "secret_hint": {**text, "description": "`whsec_…` and its last characters"},
                    "problem": {**text, "description": "Why events to it fail; empty: none"},
                },
            },
        },
    }
    watch = {"type": "object", "required": list(watch_fields), "properties": watch_fields}
    return {
        "WatchRequest": {
            "type": "object",
            "required": ["platform", "title", "source"],
            "additionalProperties": False,  # a misspelt field is refused, not ignored
            "properties": {
                "watch_id": {
                    **optional,
                    "description": "Lower-case letters, digits and dashes; default: the "
                    "platform and the page's last path part, or the terms type",
                },
                "platform": {**text, "minLength": 1, "examples": ["linkedin"]},
                "title": {**text, "minLength": 1, "description": "One line, at most 200"},
                "source": {"oneOf": [page_source, ota_source]},
                "about": {
                    **optional,
                    "description": f"{' or '.join(ABOUT)} (default): a settings page's "
                    "change may call for checking the setting again",
                },
                "setting_url": {**optional, "description": "Where people switch it off"},
                "terms": {
                    "type": ["array", "null"],
                    "maxItems": MAX_TERMS,
                    "items": text,
                    "description": "The words and phrases a change is scored by; empty or "
                    "left out: the default list, in the 11 languages",
                },
                "allies": {
                    "type": "array",
                    "maxItems": MAX_ALLIES,
                    "items": text,
                    "description": "https addresses told of each change (Standard Webhooks "
                    "`policy.change_detected`, signed with a secret of their own)",
                },
            },
        },
        "WatchForm": {
            "type": "object",
            "description": "The dashboard's form: `kind` chooses which source fields count",
            "properties": {
                name: text
                for name in (
                    "watch_id",
                    "platform",
                    "title",
                    "kind",
                    "url",
                    "api_url",
                    "service_id",
                    "terms_type",
                    "about",
                    "setting_url",
                    "allies",
                    "terms",
                )
            },
        },
        "Watch": watch,
        "WatchList": {
            "type": "object",
            "required": ["watches"],
            "properties": {"watches": {"type": "array", "items": watch}},
        },
        "WatchCreated": {
            "type": "object",
            "required": [*watch_fields, "note"],
            "properties": {
                **watch_fields,
                "allies": {
                    "type": "array",
                    "description": "Each ally's secret, in full: this answer only",
                    "items": {
                        "type": "object",
                        "required": ["url", "secret"],
                        "properties": {
                            "url": text,
                            "secret": {"type": "string", "pattern": "^whsec_"},
                        },
                    },
                },
                "note": text,
            },
        },
        "WatchDetail": {
            "type": "object",
            "required": [*watch_fields, "terms", "default_terms", "versions"],
            "properties": {
                **watch_fields,
                "terms": {"type": "array", "items": text, "description": "The terms in effect"},
                "default_terms": {"type": "boolean"},
                "versions": {
                    "type": "array",
                    "description": "The versions kept, newest first",
                    "items": {
                        "type": "object",
                        "required": ["fetched_at", "digest", "url", "kept_until", "text_url"],
                        "properties": {
                            "fetched_at": text,
                            "digest": {**text, "description": "SHA-256 of the text"},
                            "url": {**text, "description": "Where it was read"},
                            "kept_until": {
                                **stamp_or_empty,
                                "description": 'When it stops being kept; "" for the version '
                                "compared against, kept as long as it is",
                            },
                            "text_url": {**text, "description": "Its text"},
                        },
                    },
                },
            },
        },
        "WatchEdit": {
            "type": "object",
            "additionalProperties": False,  # the source, the id and the platform stay
            "properties": {
                "title": {**text, "minLength": 1, "description": "One line, at most 200"},
                "about": {"enum": list(ABOUT)},
                "setting_url": {
                    "type": ["string", "null"],
                    "description": "Where people switch it off; empty or null: no link",
                },
                "terms": {
                    "type": ["array", "null"],
                    "maxItems": MAX_TERMS,
                    "items": text,
                    "description": "The new list; empty or null: back to the default list",
                },
                "add_allies": {
                    "type": ["array", "null"],
                    "maxItems": MAX_ALLIES,
                    "items": text,
                    "description": "https addresses to tell of each change, each with a new "
                    f"secret; at most {MAX_ALLIES} allies in all",
                },
                "remove_allies": {
                    "type": ["array", "null"],
                    "maxItems": MAX_ALLIES,
                    "items": text,
                    "description": "The addresses of allies told no more (removed and added "
                    "again: a new secret)",
                },
            },
        },
        "WatchEditForm": {
            "type": "object",
            "description": "The dashboard's form: every field, as the watch's page fills it",
            "properties": {
                "title": text,
                "about": text,
                "setting_url": text,
                "terms": text,
                "add_allies": text,
                "remove_allies": {"oneOf": [text, {"type": "array", "items": text}]},
            },
        },
        "WatchEdited": {
            "type": "object",
            "required": [*watch_fields, "terms", "default_terms", "new_allies", "note"],
            "properties": {
                **watch_fields,
                "terms": {"type": "array", "items": text, "description": "The terms in effect"},
                "default_terms": {"type": "boolean"},
                "new_allies": {
                    "type": "array",
                    "description": "Each new ally's secret, in full: this answer only",
                    "items": {
                        "type": "object",
                        "required": ["url", "secret"],
                        "properties": {
                            "url": text,
                            "secret": {"type": "string", "pattern": "^whsec_"},
                        },
                    },
                },
                "note": text,
            },
        },
        "WatchPaused": {
            "type": "object",
            "required": ["watch_id", "paused"],
            "properties": {"watch_id": text, "paused": {"type": "boolean"}},
        },
        "WatchDeleted": {
            "type": "object",
            "required": ["watch_id", "deleted"],
            "properties": {"watch_id": text, "deleted": {"const": True}},
        },
        "WatchVersion": {
            "type": "object",
            "required": ["watch_id", "fetched_at", "digest", "url", "source_id", "text"],
            "properties": {
                "watch_id": text,
                "fetched_at": text,
                "digest": text,
                "url": text,
                "source_id": {**text, "description": "The Open Terms Archive version's id"},
                "text": {**text, "description": "As extracted: one block a line"},
            },
        },
    }


def _headers() -> JsonObject:
    def header(description: str, schema: JsonObject | None = None) -> JsonObject:
        return {"description": description, "schema": schema or {"type": "string"}}

    return {
        "CacheControl": header(
            "`no-store`: answers hold personal data or one-time state", {"const": "no-store"}
        ),
        "Location": header("Where to go next"),
        "RetryAfter": header(
            "Seconds until a request may succeed", {"type": "string", "pattern": "^[0-9]{1,6}$"}
        ),
        "NextAfter": header("Ask again with `?after=` this for the next part"),
        "ContentLanguage": header("The page's language"),
        "ContentDisposition": header("`attachment; filename=...`"),
        "SetCookie": header(f"The `{SESSION_COOKIE}` session cookie: HttpOnly, SameSite=Strict"),
    }


def _published_schema(name: str) -> JsonObject:
    schema: JsonObject = json.loads(
        resources.files("optout.schemas").joinpath(name).read_text("utf-8")
    )
    return schema


@lru_cache(maxsize=1)
def _document() -> JsonObject:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "optout-bot",
            "version": "1",
            "description": "Opt-out reminders: subscriptions with double opt-in, policy-change "
            "webhooks, tracked links and the organisers' API. Routes tagged `local-only` "
            "(`x-local-only: true`) are served only by the local stack (`make run`).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {
                "name": "subscribers",
                "description": "Pages and forms for the public, and the links in messages",
            },
            {"name": "policy monitors", "description": "Signed webhooks that start campaigns"},
            {
                "name": "organisers",
                "description": "The admin API and dashboard: a bearer token, or the dashboard's session",
            },
            {"name": "AWS", "description": "What AWS services call"},
            {"name": "meta", "description": "About the API itself"},
            {
                "name": "local-only",
                "description": "Only on the local stack, to drive it in tests and demos",
            },
        ],
        "paths": {
            **_public_routes(),
            **_admin_routes(),
            **_watch_routes(),
            **_follow_up_routes(),
            **_webhook_routes(),
            **_organisation_routes(),
            **_local_routes(),
        },
        "components": {
            "schemas": _schemas(),
            "headers": _headers(),
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token",
                },
                "adminSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "Set by POST /admin/sign-in",
                },
            },
        },
    }


def document(base_url: str) -> JsonObject:
    """The description, with `base_url` (where this API is reached) as its server."""
    return {**_document(), "servers": [{"url": base_url}]}
