"""The public campaign page in a real browser (issue 11): a visitor with JavaScript off reads it, the Open Graph
tags and the preview card are there, the Atom feed parses, the poster prints a QR code, axe finds nothing serious.

What hangs with JavaScript off, found while writing this: axe-playwright-python's `Axe().run(page)` does not
return (still waiting after 20 s on a one-line page; it has no timeout of its own), while page.evaluate and
locators still work; and a full-page screenshot of the SVG card stops after "fonts loaded" until the timeout. So axe runs in a second context with
JavaScript on, the card is pictured there too, content checks read the served HTML, every context sets its
timeouts, and each browser step runs under an alarm that names it, so a hang fails instead of stalling the suite.
"""

import contextlib
import signal
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from conftest import SCREENSHOTS, serious_violations

TITLE = 'Lido <script>alert(1)</script> & "friends"'
STORY = "Forty years of summers.\n\nWe reopen the lido <b>together</b>."
ATOM = "{http://www.w3.org/2005/Atom}"


@contextlib.contextmanager
def deadline(seconds, what):
    """Fails with `what` named if the block runs longer than `seconds` (SIGALRM interrupts a blocked wait)."""
    def fail(signum, frame):
        raise TimeoutError(f"{what}: still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class Meta(HTMLParser):
    """The <meta> tags (property or name to content), <script> count, visible text, and the text of each element
    with an id (its descendants' included) of a page."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html):
        super().__init__()
        self.meta, self.scripts, self.text, self.ids = {}, 0, [], {}
        self._open = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and "content" in a:
            self.meta[a.get("property") or a.get("name")] = a["content"]
        if tag == "script":
            self.scripts += 1
        if a.get("id"):
            self.ids[a["id"]] = ""
        if tag not in self.VOID:
            self._open.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self._open:
            self._open.pop()

    def handle_data(self, data):
        self.text.append(data)
        for i in self._open:
            if i:
                self.ids[i] += data


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert (SCREENSHOTS / f"{name}.png").stat().st_size > 0


@pytest.fixture(scope="module")
def lido(hall):
    """A published campaign with a story, a tier, a named, an anonymous and a hostile backer, and a match."""
    hub = hall["hub"]
    cid = hub.run("campaign", "create", "--title", TITLE, "--description", STORY, "--goal", "800", "--currency", "GBP",
                  "--closes", "2030-06-30", "--timezone", "Europe/London", "--model", "keep-what-you-raise")["id"]
    tier = hub.run("tier", "add", "--campaign", cid, "--title", "Season ticket", "--minimum", "50", "--limit", "10",
                   "--description", "A summer of swims")["id"]
    hub.run("campaign", "publish", cid)
    hub.run("pledge", "add", "--campaign", cid, "--name", "Ann Oak", "--amount", "60", "--tier", tier)
    hub.run("pledge", "add", "--campaign", cid, "--name", "Secret Sam", "--anonymous", "--amount", "25")
    hub.run("pledge", "add", "--campaign", cid, "--name", "<img src=x onerror=alert(2)>", "--amount", "5")
    hub.run("community", "grant", "--role", "funder", hub.run("id")["id"])
    offer = hub.run("match", "offer", "--campaign", cid, "--funder-name", "Elm Council", "--lump-sum", "--cap", "100")["id"]
    hub.run("match", "accept", offer)
    return cid


def test_public_page_reads_with_javascript_off(hall, browser, lido):
    hub = hall["hub"]
    url = f"{hub.web}/campaigns/{lido}"
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 900})
    ctx.set_default_timeout(10_000)
    ctx.set_default_navigation_timeout(15_000)
    try:
        page = ctx.new_page()
        with deadline(60, "the public page with JavaScript off"):
            response = page.goto(url, wait_until="load")
            assert response.status == 200
            html = response.text()
            page.locator("h1").wait_for(state="visible")
            shot(page, "20-public-page")
        m = Meta(html)
        assert m.scripts == 0, "the public page needs no script"
        text = " ".join(m.text)
        assert m.ids["campaign-title"] == TITLE
        assert "Forty years of summers." in text and "<b>together</b>" in text, "the story, escaped"
        assert "£90.00 from 3 neighbours" in m.ids["crowd"], m.ids["crowd"]
        assert "£100.00 matched by Elm Council" in text
        assert "Ann Oak" in text and "Secret Sam" not in html
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
        assert "Season ticket" in text and "A summer of swims" in text and "9 places left" in text
        assert "Europe/London" in m.ids["standing"] and m.ids["time-left"].endswith(" left")
        assert len(m.ids["digest"]) == 64
        # Open Graph and the Twitter card, with absolute URLs on this node.
        assert m.meta["og:title"] == TITLE
        assert m.meta["og:url"] == url
        assert m.meta["og:image"] == url + "/card.svg"
        assert m.meta["og:description"].startswith("£90.00 from 3 neighbours + £100.00 matched by Elm Council")
        assert m.meta["twitter:card"] == "summary_large_image"
        # The preview card: 200, an SVG that parses, the title in it as text.
        status, headers, body = get(m.meta["og:image"])
        assert status == 200 and headers["Content-Type"].startswith("image/svg+xml"), headers
        svg = ET.fromstring(body)
        assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("width") == "1200" and svg.get("height") == "630"
        assert all(e.tag != "{http://www.w3.org/2000/svg}script" for e in svg.iter())
        # A picture of the card as a chat app would show it. An SVG document gives Playwright no page world to
        # measure with JavaScript off (a full-page screenshot then waits for ever), so this one has it on.
        viewer = browser.new_context(viewport={"width": 1200, "height": 630})
        viewer.set_default_timeout(10_000)
        try:
            with deadline(30, "the preview card"):
                card = viewer.new_page()
                assert card.goto(m.meta["og:image"]).status == 200
                card.screenshot(path=str(SCREENSHOTS / "21-public-card.png"))
        finally:
            viewer.close()
        # The share links work without script.
        with deadline(30, "reading the share links with JavaScript off"):
            assert page.get_attribute("#share-whatsapp", "href").startswith("https://wa.me/?text=")
            assert page.get_attribute("#share-email", "href").startswith("mailto:?subject=")
            assert page.get_attribute("#share-url", "value") == url
        # Check it yourself: the bundle is an attachment, with the digest the page shows.
        status, headers, body = get(url + "/bundle")
        assert status == 200 and headers["Content-Disposition"].startswith("attachment;"), headers
        assert headers["X-Whipround-Digest"] == m.ids["digest"]
        assert body[:8] == b"WHIPBNDL" and b"Ann Oak" not in body
    finally:
        ctx.close()


def test_public_page_fits_a_phone_with_javascript_off(hall, browser, lido):
    """At 360 px nothing runs off the side: the digest, the invite and the link wrap."""
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(10_000)
    ctx.set_default_navigation_timeout(15_000)
    try:
        page = ctx.new_page()
        with deadline(60, "the public page on a phone with JavaScript off"):
            assert page.goto(f"{hall['hub'].web}/campaigns/{lido}", wait_until="load").status == 200
            # Playwright's own evaluate still works with the page's JavaScript off (only axe's run does not return).
            width = page.evaluate("document.documentElement.scrollWidth")
            shot(page, "24-public-page-phone")
        assert width <= 360, f"the page is {width} px wide on a 360 px phone"
    finally:
        ctx.close()


def test_public_check_it_yourself_with_the_cli(hall, lido, tmp_path):
    """The page's own instructions, followed by a stranger with the CLI: the same digest and the same totals."""
    from conftest import Node

    hub = hall["hub"]
    status, _, body = get(f"{hub.web}/campaigns/{lido}")
    m = Meta(body.decode())
    invite = m.ids["verify"].split("community join ")[1].split(",")[0].strip()
    assert invite.startswith("wri1"), m.ids["verify"]
    _, headers, bundle = get(f"{hub.web}/campaigns/{lido}/bundle")
    (tmp_path / "lido.bundle").write_bytes(bundle)
    stranger = Node(tmp_path, "stranger")
    stranger.run("init", "--name", "A sceptical neighbour")
    stranger.run("community", "join", invite)
    stranger.run("bundle", "import", str(tmp_path / "lido.bundle"))
    digests = [c["digest"] for c in stranger.run("status")["communities"]]
    assert digests == [m.ids["digest"]], (digests, m.ids["digest"])
    shown = stranger.run("campaign", "show", lido)
    assert f"£{shown['pledged']} from {shown['backers']} neighbours" == m.ids["crowd"], (shown, m.ids["crowd"])
    assert m.ids["total"] == f"£{shown['pledged']}"


def test_public_poster_and_home_with_javascript_off(hall, browser, lido):
    hub = hall["hub"]
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 794, "height": 1123})
    ctx.set_default_timeout(10_000)
    ctx.set_default_navigation_timeout(15_000)
    try:
        page = ctx.new_page()
        with deadline(60, "the poster and the home page with JavaScript off"):
            response = page.goto(f"{hub.web}/campaigns/{lido}/poster", wait_until="load")
            assert response.status == 200
            html = response.text()
            assert page.locator("#poster-qr svg").count() == 1
            page.emulate_media(media="print")
            shot(page, "22-public-poster")
            page.emulate_media(media="screen")
            home = page.goto(f"{hub.web}/", wait_until="load")
            assert home.status == 200
            assert page.locator(f"a[href='/campaigns/{lido}']").count() >= 1
            shot(page, "23-public-home")
        assert 'aria-label="QR code"' in html and f"/campaigns/{lido}</span>" in html
        assert Meta(html).scripts == 0
    finally:
        ctx.close()


def test_public_atom_feed_parses(hall, lido):
    hub = hall["hub"]
    status, headers, body = get(f"{hub.web}/feed.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    assert feed.find(f"{ATOM}id").text.startswith("urn:whipround:node:")
    assert feed.find(f"{ATOM}updated").text.endswith("Z")
    assert any(l.get("rel") == "self" and l.get("href") == f"{hub.web}/feed.atom" for l in feed.findall(f"{ATOM}link"))
    entries = {e.find(f"{ATOM}id").text: e for e in feed.findall(f"{ATOM}entry")}
    entry = entries[f"urn:whipround:campaign:{lido}"]
    assert entry.find(f"{ATOM}title").text == TITLE
    assert entry.find(f"{ATOM}link").get("href") == f"{hub.web}/campaigns/{lido}"
    assert "matched by Elm Council" in entry.find(f"{ATOM}summary").text
    assert f"urn:whipround:campaign:{hall['campaign']}" in entries


def test_public_pages_pass_axe_with_javascript_on(hall, browser, guard, lido):
    """axe injects a script, so it runs in its own context with JavaScript on; the guard fails on any dialog
    (an injected alert) or CSP violation there."""
    hub = hall["hub"]
    ctx = browser.new_context(viewport={"width": 1024, "height": 900})
    ctx.set_default_timeout(10_000)
    ctx.set_default_navigation_timeout(15_000)
    try:
        page = guard.watch(ctx.new_page())
        for path, what in [(f"/campaigns/{lido}", "public page"), (f"/campaigns/{lido}/poster", "poster"), ("/", "home")]:
            with deadline(90, f"axe on the {what}"):
                page.goto(hub.web + path, wait_until="load")
                bad = serious_violations(page)
            assert not bad, f"axe on the {what}:\n" + "\n".join(bad)
            assert page.locator("img[src=x]").count() == 0
        guard.check()
    finally:
        ctx.close()
