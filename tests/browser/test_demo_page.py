"""The demo page in headless Chromium (Debian's), driven by Playwright: two users in two
browser contexts chat live, and a notification arrives."""


import pytest

from ops.testing.artifacts import ARTIFACTS
from ops.testing.processes import DEMO_PASSWORD
from ops.testing.tools import require_tool

# Debian's Chromium as root in a closed network: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    chromium = require_tool("chromium", "the demo page is tested in a real browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(start_daphne):
    # DEBUG on so whitenoise serves static files straight from the apps (no collectstatic).
    return start_daphne("browser", DJANGO_DEBUG="true")


def log_in(browser, site, username, **context_options):
    page = browser.new_context(**context_options).new_page()
    errors, not_found = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: response.status == 404 and not_found.append(response.url))
    page.not_found = not_found
    page.goto(site.base_url + "/")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#status[data-state=open]", timeout=15000)
    page.errors = errors
    return page


def chat_both_ways(alice, bob, from_alice, from_bob):
    """alice sends with the button, bob answers with Enter; each sees the other's message live."""
    alice.fill("#chat-input", from_alice)
    alice.click("#send-button")
    bob.wait_for_selector(f"#messages li:has-text('{from_alice}')", timeout=10000)
    bob.fill("#chat-input", from_bob)
    bob.press("#chat-input", "Enter")
    alice.wait_for_selector(f"#messages li:has-text('{from_bob}')", timeout=10000)


def test_two_users_chat_live(browser, site):
    alice = log_in(browser, site, "alice")
    bob = log_in(browser, site, "bob")
    assert alice.text_content("#me") == "alice" and bob.text_content("#me") == "bob"

    chat_both_ways(alice, bob, "hello from alice", "hi alice")

    alice.click("#notify-button")
    alice.wait_for_selector("#notifications li:has-text('Hello')", timeout=10000)

    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "demo-alice.png"), full_page=True)
    bob.screenshot(path=str(ARTIFACTS / "demo-bob.png"), full_page=True)
    assert alice.errors == [] and bob.errors == []
    # The page authenticates sockets with one-time tickets, never with the token in a URL.
    log = site.read_log()
    assert "ticket=" not in log and "token=" not in log


def test_at_phone_width_the_columns_stack_and_nothing_is_missing(browser, site):
    """A phone (390x844 CSS pixels): chat and notifications one under the other, each as wide as
    the page, and no request of the page (its icon included) answered 404."""
    alice = log_in(browser, site, "alice", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                   is_mobile=True, has_touch=True)
    chat, notifications = (alice.locator(".columns > section").nth(i).bounding_box() for i in (0, 1))
    assert notifications["y"] >= chat["y"] + chat["height"], (chat, notifications)
    assert abs(chat["x"] - notifications["x"]) < 1 and abs(chat["width"] - notifications["width"]) < 1
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert alice.evaluate("document.documentElement.scrollWidth") <= 390
    icon = alice.evaluate("fetch(document.querySelector('link[rel=icon]').href).then(r => [r.status, "
                          "r.headers.get('content-type')])")
    assert icon[0] == 200 and icon[1].startswith("image/svg+xml"), icon
    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "demo-phone.png"), full_page=True)
    assert alice.not_found == [] and alice.errors == []


def test_wrong_password_is_explained(browser, site):
    page = browser.new_context().new_page()
    page.goto(site.base_url + "/")
    page.fill("#username", "alice")
    page.fill("#password", "wrong")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('wrong password')", timeout=10000)
