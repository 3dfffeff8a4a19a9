"""The subscriber's journey in a real headless Chromium, on the local stack: the form, the
confirmation, a reminder, "I've switched it off", each page seen as a person sees it; then the
organiser signs in to the dashboard, sees that conversion in the campaign's funnel, cancels
the campaign and sends its good news; then sees the change the demo's policy watch found (its
help page changed on 14 October) and drafts a campaign from it, completing it on its page.

The browser is Debian's ``chromium`` package (``make test`` installs it), driven by Playwright;
Playwright's own browser downloads are never used. Every page is saved as a full-page screenshot
under ``test-artifacts/screenshots/`` (the dashboard's at a phone's and a desktop's width), and
checked with axe-core (``make test`` installs it from package-lock.json with ``npm ci``), loaded
into the page by the test: any WCAG 2.1 A or AA violation fails it. The browser refuses, and the test fails on, any request
that leaves 127.0.0.1: pages load nothing from third parties.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from tests.e2e.conftest import DEMO_SECRETS, ROOT, DemoStack, StackClient, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-sync",
    "--disable-component-update",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 780}  # the narrowest phone the pages are made for
DESKTOP = {"width": 1280, "height": 900}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
POLICY = json.loads(
    (ROOT / "events/payloads/policy-changed.linkedin.json").read_text(encoding="utf-8")
)["policy"]


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """The demo stack (LinkedIn campaign, clock on 13 October 2025) with its pump off, so that
    messages go out exactly when the test ticks."""
    log = tmp_path_factory.mktemp("browser-stack") / "stack.log"
    with running_stack(log, "--pump-seconds", "0", env=DEMO_SECRETS) as client:
        yield DemoStack(client, log, DEMO_SECRETS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which("chromium") is None:
        pytest.fail("no chromium: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Outside:
    """Requests a page tried to make beyond 127.0.0.1 (refused, and the test fails on any)."""

    urls: list[str] = field(default_factory=list)

    def guard(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.urls.append(route.request.url)
            route.abort()


@dataclass
class Visit:
    """A browser page on the stack that saves a screenshot of each page it is shown."""

    page: Page
    stack: StackClient
    shots: Path
    outside: Outside
    desktop_too: bool = False

    def see(self, name: str) -> None:
        """Screenshot the page as `name`, check it fits the phone's width and that axe finds
        no WCAG 2.1 AA violation; and at a desktop's width too, for the dashboard."""
        self.page.screenshot(path=self.shots / f"{name}.png", full_page=True)
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: {overflow} px wider than a {PHONE['width']} px phone"
        assert_accessible(self.page, name)
        if self.desktop_too:
            self.page.set_viewport_size(DESKTOP)
            self.page.screenshot(path=self.shots / f"{name}-desktop.png", full_page=True)
            assert_accessible(self.page, f"{name}-desktop")
            self.page.set_viewport_size(PHONE)


def assert_accessible(page: Page, name: str) -> None:
    """Run axe-core in the page (evaluated by the browser's devtools protocol, which the
    page's Content-Security-Policy does not govern) and fail on any WCAG 2.1 A/AA violation."""
    if not AXE.exists():
        pytest.fail("no axe-core: `make test` installs it (npm ci, from package-lock.json)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }""",
        WCAG_21_AA,
    )
    assert violations == [], f"{name}: WCAG 2.1 AA violations: {json.dumps(violations, indent=1)}"


def _visit(
    browser: Browser,
    stack: StackClient,
    shots: Path,
    capsys: pytest.CaptureFixture[str],
    desktop_too: bool = False,
    **context_options: object,
) -> Iterator[Visit]:
    context: BrowserContext = browser.new_context(viewport=PHONE, **context_options)  # type: ignore[arg-type]
    outside = Outside()
    context.route("**/*", outside.guard)
    shots.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():  # shown whatever the capture mode, so a reader finds the pictures
        print(f"\n  screenshots: {shots}")
    try:
        yield Visit(context.new_page(), stack, shots, outside, desktop_too)
    finally:
        context.close()
    assert outside.urls == [], "pages reached beyond 127.0.0.1"


@pytest.fixture
def subscriber_page(
    browser: Browser, demo_stack: DemoStack, capsys: pytest.CaptureFixture[str]
) -> Iterator[Visit]:
    """A person's browser, set to French and to Berlin's time, on the stack's pages."""
    yield from _visit(
        browser,
        demo_stack.client,
        SCREENSHOTS / "subscriber",
        capsys,
        locale="fr-FR",
        timezone_id="Europe/Berlin",
    )


@pytest.fixture
def organiser_page(
    browser: Browser, demo_stack: DemoStack, capsys: pytest.CaptureFixture[str]
) -> Iterator[Visit]:
    """An organiser's browser, on a phone like the subscriber's (each page also seen at a
    desktop's width), not signed in yet."""
    yield from _visit(
        browser, demo_stack.client, SCREENSHOTS / "organiser", capsys, desktop_too=True
    )


def test_a_person_subscribes_confirms_and_switches_it_off_in_german(
    subscriber_page: Visit, organiser_page: Visit, demo_stack: DemoStack
) -> None:
    contact = "greta.browser@example.org"
    subscribe_in_german(subscriber_page, contact)
    confirm(subscriber_page, contact)
    reminder = the_first_reminder(subscriber_page.stack, contact)
    see_what_is_kept(subscriber_page, reminder, contact)
    switch_it_off(subscriber_page, reminder)
    see_the_conversion_on_the_dashboard(organiser_page, demo_stack.secrets["OPTOUT_ADMIN_TOKEN"])
    see_the_change_and_draft_a_campaign(organiser_page)


def subscribe_in_german(visit: Visit, contact: str) -> None:
    page = visit.page
    # Given a browser that prefers French, the form speaks French
    page.goto(visit.stack.url("/subscribe"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text("Un rappel avant que vos données ne soient utilisées")
    visit.see("01-subscribe-fr")
    # When the person picks Deutsch in the language switcher, the form speaks German
    page.get_by_role("link", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_label("Sprache der Erinnerungen")).to_have_value("de")
    visit.see("02-subscribe-de")
    # And fills it in by its labels
    # (the form's one script, allowed by its hash alone in the CSP, sent the browser's zone)
    expect(page.locator("#timezone")).to_have_value("Europe/Berlin")
    page.get_by_label("E-Mail-Adresse oder Handynummer").fill(contact)
    page.get_by_label("Wohnort").select_option("DE")
    page.get_by_label("LinkedIn").check()
    # Then the keyboard reaches the submit button from the last field, and Enter sends the form
    page.get_by_label("Google").focus()
    page.keyboard.press("Tab")
    submit = page.get_by_role("button", name="Bestätigung zusenden")
    expect(submit).to_be_focused()
    expect(submit).to_have_css("outline-style", "solid")  # and the focus can be seen
    visit.see("02b-subscribe-filled-and-focused")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Sehen Sie in Ihre Nachrichten")
    visit.see("03-subscribed")


def confirm(visit: Visit, contact: str) -> None:
    page = visit.page
    visit.stack.tick()
    (confirmation,) = [entry for entry in visit.stack.outbox() if entry["to"] == contact]
    assert "Bitte bestätigen" in confirmation["subject"]
    # When the person opens the link: a page with a button, which only then confirms
    page.goto(link_in(confirmation["text"], "confirm"))
    expect(page.locator("h1")).to_have_text("Noch ein Schritt")
    visit.see("04-confirm")
    page.get_by_role("button", name="Ja, schicken Sie mir Erinnerungen").click()
    expect(page.locator("h1")).to_have_text("Sie sind angemeldet")
    expect(page.get_by_role("status")).to_contain_text("Europäische Union")
    visit.see("05-confirmed")


def the_first_reminder(stack: StackClient, contact: str) -> dict[str, str]:
    """Play the campaign to "two weeks left" in the EU (09:00 in Brussels): the reminder."""
    stack.move_clock(set="2025-10-20T07:00:00Z").raise_for_status()
    stack.tick()
    reminders = [
        entry for entry in stack.outbox() if entry["to"] == contact and "/done/" in entry["text"]
    ]
    assert len(reminders) == 1, [entry["subject"] for entry in stack.outbox()]
    return reminders[0]


def see_what_is_kept(visit: Visit, reminder: dict[str, str], contact: str) -> None:
    page = visit.page
    # The reminder's footer leads to the person's own data, in their language
    page.goto(link_in(reminder["text"], "privacy"))
    expect(page.locator("h1")).to_have_text("Was wir über Sie speichern")
    expect(page.locator("dl").first).to_contain_text(contact)
    expect(page.locator("dl.consent-evidence")).to_contain_text("Über unser Anmeldeformular")
    expect(page.get_by_role("button", name="Meine Daten löschen")).to_be_visible()
    visit.see("06-privacy")


def switch_it_off(visit: Visit, reminder: dict[str, str]) -> None:
    page = visit.page
    page.goto(link_in(reminder["text"], "done"))
    expect(page.locator("h1")).to_have_text(POLICY["translations"]["de"]["title"])
    expect(page.locator("ol > li")).to_have_count(len(POLICY["steps"]))
    visit.see("07-done")
    page.get_by_role("button", name="Ich habe es ausgeschaltet").click()
    expect(page.locator("h1")).to_have_text("Danke")
    expect(page.get_by_role("status")).to_contain_text("keine Erinnerungen mehr")
    visit.see("08-done-thanks")


def see_the_conversion_on_the_dashboard(visit: Visit, token: str) -> None:
    page = visit.page
    # Given the dashboard, which asks who is there before it shows anything
    page.goto(visit.stack.url("/admin"))
    expect(page.locator("h1")).to_have_text("Sign in")
    visit.see("01-sign-in")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    # Then the campaign is listed with its deadlines, and one person has switched it off
    expect(page.locator("h1")).to_have_text("Campaigns")
    campaign = page.locator("tr", has=page.get_by_role("link", name=POLICY["title"]))
    expect(campaign.locator("td[data-label='Switched off']")).to_have_text("1")
    expect(campaign.locator("td[data-label='Deadlines']")).to_contain_text("EU")
    # and list health comes first: Greta, who confirmed, among the active subscribers
    expect(page.locator("h2").first).to_have_text("List health")
    expect(page.get_by_role("img", name="Sign-ups over time", exact=True)).to_be_visible()
    visit.see("02-dashboard")
    # And the campaign's page shows the conversion in Europe's row, and both charts
    page.get_by_role("link", name=POLICY["title"]).click()
    europe = page.locator("tr", has=page.locator("th", has_text=re.compile(r"^EU$")))
    expect(europe.locator("td").nth(4)).to_have_text("1")  # switched off
    expect(page.get_by_role("img", name="Funnel per region")).to_be_visible()
    expect(page.get_by_role("img", name="Confirmations over time")).to_be_visible()
    # and which reminder made her act: "two weeks left", in German, by email
    expect(page.get_by_role("img", name="Switched off, by reminder")).to_contain_text(
        "EU two weeks left"
    )
    expect(page.get_by_role("img", name="Switched off, by language")).to_contain_text("Deutsch")
    visit.see("03-campaign")
    # When the organiser cancels the campaign after it sent reminders, the page offers the
    # good news, saying who gets it
    page.get_by_role("button", name="Cancel the campaign").click()
    expect(page.locator("h1 .status")).to_have_text("withdrawn")
    send = page.get_by_role("button", name="Send the good news")
    expect(send).to_have_accessible_description(re.compile(r"tells the subscribers of .*EU"))
    visit.see("04-campaign-withdrawn-good-news")
    # and once it is sent, it is offered no more and the plan holds it
    send.click()
    expect(page.get_by_role("button", name="Send the good news")).to_have_count(0)
    expect(page.get_by_text("EU good-news")).to_be_visible()


def test_an_organiser_declares_a_watch_and_sees_it_fail_on_a_phone(
    organiser_page: Visit, demo_stack: DemoStack
) -> None:
    page = organiser_page.page
    sign_in(organiser_page, demo_stack.secrets["OPTOUT_ADMIN_TOKEN"])
    # Given the dashboard's header, which leads to the watches
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Watches").click()
    expect(page.locator("h1")).to_have_text("Watches")
    expect(page.get_by_role("link", name="Watches")).to_have_attribute("aria-current", "page")
    organiser_page.see("10-watches")
    # When the organiser declares a watch of a page (one nothing serves: port 9 discards),
    # with an ally
    page.get_by_label("Platform", exact=True).fill("linkedin")
    page.get_by_label("Title", exact=True).fill("LinkedIn: data for generative AI")
    page.get_by_label("The page's address").fill("http://127.0.0.1:9/help/generative-ai")
    page.get_by_label("It is about").select_option("setting")
    page.get_by_label("Allies told of each change (optional)").fill(
        "https://hooks.digital-rights.example/optout"
    )
    page.get_by_role("button", name="Create the watch").click()
    # Then the ally's secret is shown, this once
    expect(page.get_by_role("heading", name=re.compile("Watch created"))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("shown here once")
    expect(page.locator("dd code")).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{44}$"))
    organiser_page.see("11-watch-created")
    # And once the watcher has tried it, the list marks it failing, with the reason
    demo_stack.client.move_clock(advance="PT2H").raise_for_status()
    demo_stack.client.tick()
    page.goto(organiser_page.stack.url("/admin/watches"))
    failing = page.locator("tr.failing", has=page.get_by_role("link", name="LinkedIn: data"))
    expect(failing.locator(".status")).to_have_text("failing")
    expect(failing.locator("td[data-label='Status'] .problem")).to_contain_text("1 failed read")
    expect(page.locator("code")).to_have_count(0)  # the secret is not shown again
    organiser_page.see("12-watches-failing")
    # And its page says why, and pausing it stops the reads
    page.get_by_role("link", name="LinkedIn: data for generative AI").click()
    expect(page.get_by_role("alert")).to_contain_text("1 failed read")
    organiser_page.see("13-watch")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("h1")).to_have_text("Watches")
    paused = page.locator("tr", has=page.get_by_role("link", name="LinkedIn: data"))
    expect(paused.locator(".status")).to_have_text("paused")
    paused.get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.get_by_role("link", name="LinkedIn: data")).to_have_count(0)


def test_an_organiser_registers_an_endpoint_for_events_out_on_a_phone(
    organiser_page: Visit, demo_stack: DemoStack
) -> None:
    page = organiser_page.page
    sign_in(organiser_page, demo_stack.secrets["OPTOUT_ADMIN_TOKEN"])
    # Given the dashboard's header, which leads to the webhooks
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Webhooks").click()
    expect(page.locator("h1")).to_have_text("Webhooks")
    organiser_page.see("14-webhooks")
    # When the organiser registers their CRM (one nothing serves: port 9 discards), for one
    # type of event
    page.get_by_label("Its address").fill("http://127.0.0.1:9/hooks/optout")
    page.get_by_label("What it is (optional)").fill("Our CRM")
    page.get_by_label("subscriber.confirmed").check()
    page.get_by_label("It is our own CRM").check()
    page.get_by_role("button", name="Register the endpoint").click()
    # Then its secret is shown, this once
    expect(page.get_by_role("heading", name="Endpoint registered")).to_be_visible()
    expect(page.locator("section[role=status] code")).to_have_text(
        re.compile(r"^whsec_[A-Za-z0-9+/=]{44}$")
    )
    organiser_page.see("15-webhook-registered")
    # And its page says what it takes, with nothing delivered yet, and pausing it marks it
    page.get_by_role("link", name="See the endpoint").click()
    expect(page.locator("main")).to_contain_text(
        "subscriber.confirmed carries the person's contact"
    )
    expect(page.locator("code")).to_have_count(0)  # the secret is not shown again
    organiser_page.see("16-webhook")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("h1 .status")).to_have_text("paused")


def test_an_organiser_sees_an_ab_test_and_previews_each_variant_on_a_phone(
    organiser_page: Visit, demo_stack: DemoStack
) -> None:
    page = organiser_page.page
    token = demo_stack.secrets["OPTOUT_ADMIN_TOKEN"]
    admin = {"Authorization": f"Bearer {token}"}
    # Given a draft campaign made from the contract's example, whose "one week left" has two
    # wordings tested on a fifth of its audience (by the admin API, as a script would)
    example = (ROOT / "events/payloads/policy-changed.contract-example.json").read_bytes()
    created = demo_stack.client.post(
        "/admin/campaigns?draft=yes", data=example, headers=admin | JSON
    )
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign_id"]
    variants = [
        {"name": "A", "subject": {"en": "One week left to say no to LinkedIn's AI"}},
        {"name": "B", "subject": {"en": "Your posts train LinkedIn's AI: one week to stop it"}},
    ]
    tested = demo_stack.client.post(
        f"/admin/campaigns/{campaign}/ab-tests",
        json={"ab_tests": [{"days_before": 7, "variants": variants}]},
        headers=admin,
    )
    assert tested.status_code == 200, tested.text
    # When the organiser opens the campaign on the dashboard
    sign_in(organiser_page, token)
    page.goto(demo_stack.client.url(f"/admin/campaigns/{campaign}"))
    # Then its A/B section says who gets what, how long the test runs and how it is judged
    ab = page.locator("section[aria-labelledby=ab-heading]")
    expect(ab.get_by_role("heading", name="A/B tests")).to_be_visible()
    expect(ab).to_contain_text("variants A, B to 20% of each region's audience")
    expect(ab).to_contain_text("opens never count")
    organiser_page.see("17-ab-test")
    # When they preview the tested reminder
    preview = page.locator("form[action$='/preview']")
    preview.get_by_label("Reminder", exact=True).select_option("one-week-left")
    preview.get_by_role("button", name="Preview", exact=True).click()
    # Then each variant is shown with its own subject, the first one as the rest gets it
    expect(page.get_by_role("heading", name=re.compile("^Variant A"))).to_contain_text(
        "the rest gets it unless another wins"
    )
    second = page.locator("section[aria-labelledby=variant-2-heading]")
    expect(second).to_contain_text(variants[1]["subject"]["en"])
    organiser_page.see("18-ab-preview")


JSON = {"Content-Type": "application/json"}


def sign_in(visit: Visit, token: str) -> None:
    page = visit.page
    page.goto(visit.stack.url("/admin"))
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Campaigns")


def see_the_change_and_draft_a_campaign(visit: Visit) -> None:
    page = visit.page
    # Given the change the demo's watch found when the clock passed 14 October (the tick of
    # the first reminder ran the watcher), on the Changes page of the dashboard's navigation
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Changes").click()
    expect(page.locator("h1")).to_have_text("Changes")
    change = page.locator("main section").first
    # Then its added sentences show, each signed "+" and labelled, the terms found marked
    added = change.locator("li.added")
    expect(change.get_by_role("heading", name=re.compile(r"^Added \(\d+\)$"))).to_be_visible()
    expect(added.first.locator(".sign")).to_have_text("+")
    expect(added.first.locator(".hidden-label")).to_have_text("Added:")
    expect(added.locator("mark").first).to_be_visible()
    expect(change.locator("p mark").first).to_be_visible()  # the terms, listed
    visit.see("05-changes")  # readable on a phone: nothing wider than its screen
    # When the organiser drafts a campaign from it
    change.get_by_role("button", name="Draft a campaign").click()
    # Then the draft's page says what it lacks, with the form that adds it
    expect(page.locator("h1 .status")).to_have_text("draft")
    expect(page.locator("#to-complete")).to_contain_text("add regions and deadlines first")
    expect(page.get_by_role("button", name="Launch: start sending")).to_have_count(0)
    visit.see("06-draft-from-a-change")
    # When the regions with their deadlines and the steps are added
    page.get_by_label("Regions and their deadlines, one a line").fill(
        "EU 2025-11-03\nCA 2025-11-03"
    )
    page.get_by_label("The opt-out steps, one a line").fill(
        "Open Settings & Privacy, then Data privacy.\nSwitch off Data for Generative AI "
        "Improvement."
    )
    page.get_by_role("button", name="Save the draft").click()
    # Then it can be launched (and is not yet)
    expect(page.get_by_role("button", name="Launch: start sending")).to_be_visible()
    expect(page.locator("#to-complete")).to_have_count(0)
    expect(page.locator("#deadlines-heading + ul li").first).to_contain_text("EU")
    visit.see("07-draft-completed")
    # And the Changes page says the change was drafted, with the way to its campaign
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Changes").click()
    expect(page.locator("main section").first).to_contain_text("Drafted:")
    expect(page.get_by_role("button", name="Draft a campaign")).to_have_count(0)


def link_in(text: str, kind: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+/{kind}/[\w.-]+", text)
    assert found, f"no /{kind}/ link in {text!r}"
    return found.group(0)
