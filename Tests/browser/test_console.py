"""The organiser console in a real browser (issue 11): an organiser signs in with `whipround web login`'s one-time
link and runs a campaign from the browser; every step is checked against the CLI's view of the same node.

The tests run in file order and share one node (its own, apart from the desk tests' nodes).
"""

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import Node, save_screenshot, serious_violations

EVIL = '<script>alert("x")</script><img src=x onerror=alert(2)>'
screenshot = save_screenshot


def audit(page, what):
    """axe: no serious or critical violation on this screen."""
    bad = serious_violations(page)
    assert not bad, f"axe on {what}:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def office():
    """A fresh node that serves its pages: the organiser's."""
    root = Path(tempfile.mkdtemp(prefix="whipround-console-"))
    node = Node(root, "office")
    try:
        node.run("init", "--name", "Community office")
        node.serve()
        yield node
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True) if not os.environ.get("KEEP_BROWSER_DATA") else print(f"data kept in {root}")


@pytest.fixture(scope="module")
def organiser(browser, guard, office):
    ctx = browser.new_context(viewport={"width": 1024, "height": 800}, accept_downloads=True)
    ctx.set_default_timeout(10_000)
    page = guard.watch(ctx.new_page())
    yield page
    ctx.close()


def test_the_console_needs_a_sign_in(office, organiser):
    organiser.goto(f"{office.web}/console")
    assert organiser.locator("h1").inner_text() == "Sign in to the organiser console"
    organiser.fill("#code", "AAAA-BBBB-CCCC")
    organiser.click("#signin button")
    assert "not valid" in organiser.locator("#error").inner_text()
    screenshot(organiser, "console-01-sign-in")
    audit(organiser, "console sign-in")


def test_the_one_time_link_signs_in_once(office, organiser):
    login = office.run("web", "login")
    assert login["served"] and login["url"].startswith(office.web + "/console/login?token=")
    organiser.goto(login["url"])
    assert organiser.url == f"{office.web}/console", organiser.url
    assert "token" not in organiser.url
    cookie = next(c for c in organiser.context.cookies() if c["name"] == "wr_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console", cookie
    # A second browser with the same link is refused: it worked once.
    other = organiser.context.browser.new_context()
    try:
        p = other.new_page()
        p.goto(login["url"])
        assert "used already or has expired" in p.content()
    finally:
        other.close()


def test_an_organiser_creates_a_community_and_a_campaign(office, organiser):
    organiser.fill("#community-name", "Oak Road")
    organiser.click("#new-community button")
    assert "The community was created." in organiser.locator("#notice").inner_text()
    assert [c["name"] for c in office.run("status")["communities"]] == ["Oak Road"]
    screenshot(organiser, "console-02-home")
    audit(organiser, "console home")

    organiser.fill("#title", "Mend the bandstand")
    organiser.fill("#story", "The bandstand needs **new railings**.\n\n- paint\n- [plans](https://example.org/plans)")
    organiser.fill("#goal", "800")
    organiser.fill("#closes", "2030-06-30")
    organiser.fill("#time_zone", "Europe/London")
    organiser.click("#new-campaign button")
    assert organiser.locator("#campaign-title").inner_text() == "Mend the bandstand"
    campaign = organiser.url.rsplit("/", 1)[1].split("?")[0]
    shown = office.run("campaign", "show", campaign)
    assert shown["title"] == "Mend the bandstand" and shown["goal_minor"] == 80_000 and shown["state"] == "draft"
    assert shown["time_zone"] == "Europe/London" and "**new railings**" in shown["description"]
    office.campaign = campaign

    for title, minimum, limit in (("Railing plaque", "50", "20"), ("Thank-you card", "5", "")):
        organiser.fill("#tier-title", title)
        organiser.fill("#tier-minimum", minimum)
        organiser.fill("#tier-limit", limit)
        organiser.click("#add-tier button")
        assert "The tier was added." in organiser.locator("#notice").inner_text()
    tiers = office.run("campaign", "show", campaign)["tiers"]
    assert sorted((t["title"], t.get("limit") or 0) for t in tiers) == [("Railing plaque", 20), ("Thank-you card", 0)]

    organiser.click("#publish button")
    assert "published" in organiser.locator("#notice").inner_text()
    assert office.run("campaign", "show", campaign)["state"] == "live"


def test_a_desk_opens_from_the_browser_with_its_qr_code(office, organiser):
    organiser.fill("#desk-name", "Bandstand fete")
    organiser.click("#open-desk button")
    assert organiser.locator("#pairing svg").count() == 1
    code = organiser.locator("#pairing-code").inner_text()
    assert len(code) == 14
    desks = office.run("desk", "list")
    assert [d["name"] for d in desks] == ["Bandstand fete"] and desks[0]["state"] == "open"
    screenshot(organiser, "console-03-campaign-desk")
    audit(organiser, "console campaign")


def test_an_update_is_posted_and_shown_on_the_public_page(office, organiser):
    campaign = office.campaign
    organiser.goto(f"{office.web}/console/campaigns/{campaign}")
    organiser.fill("#update-title", "Railings ordered " + EVIL)
    organiser.fill("#update-text", "The **railings** are ordered.\n\n" + EVIL)
    organiser.click("#post-update button")
    assert "The update is posted" in organiser.locator("#notice").inner_text()
    news = office.run("campaign", "updates", campaign)
    assert [u["title"] for u in news] == ["Railings ordered " + EVIL]
    organiser.goto(f"{office.web}/campaigns/{campaign}")
    assert organiser.locator("#updates strong", has_text="railings").count() == 1
    assert organiser.get_by_text("Railings ordered " + EVIL).count() == 1
    assert organiser.locator("#updates img").count() == 0 and organiser.locator("#updates script").count() == 0
    organiser.goto(f"{office.web}/console/campaigns/{campaign}")


def test_payments_rejections_and_the_csv(office, organiser):
    campaign = office.campaign
    for name, amount in (("Ann Oak", "30"), ("Bob Ash", "20"), (EVIL, "7")):
        office.run("pledge", "add", "--campaign", campaign, "--name", name, "--amount", amount)
    pledges = {p["backer"]: p for p in office.run("pledge", "list", "--campaign", campaign)}
    organiser.click("text=Pledges")
    assert "3 pledges." in organiser.locator("#count").inner_text()
    # A part payment: £12 of Ann's £30.
    row = organiser.locator(f"#p-{pledges['Ann Oak']['id'][:10]}")
    row.locator("input[name=amount]").fill("12")
    row.locator("select[name=method]").select_option("transfer")
    row.locator("button", has_text="Record payment").click()
    assert "The payment was recorded." in organiser.locator("#notice").inner_text()
    ann = next(p for p in office.run("pledge", "list", "--campaign", campaign) if p["backer"] == "Ann Oak")
    assert ann["collected_minor"] == 1200 and ann["collected_method"] == "transfer"
    # A rejection with a hostile reason, shown back as text.
    row = organiser.locator(f"#p-{pledges['Bob Ash']['id'][:10]}")
    row.locator("input[name=reason][type=text]").fill("Double entry " + EVIL)
    row.locator("button", has_text="Reject").click()
    bob = next(p for p in office.run("pledge", "list", "--campaign", campaign) if p["backer"] == "Bob Ash")
    assert bob["status"] == "rejected" and bob["reject_reason"] == "Double entry " + EVIL
    assert organiser.get_by_text("Double entry " + EVIL).count() == 1
    assert organiser.get_by_text(EVIL, exact=True).count() == 1  # the hostile backer name, as text
    screenshot(organiser, "console-04-pledges")
    audit(organiser, "console pledges")

    organiser.select_option("#f-status", "rejected")
    organiser.click("#filters button")
    assert "1 pledge." in organiser.locator("#count").inner_text()

    with organiser.expect_download() as d:
        organiser.click("#csv")
    text = Path(d.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    cli = office.run("export", "--campaign", campaign, "--organiser", json_out=False).stdout
    assert text == cli, "the console's CSV is the CLI's organiser export"
    assert len(rows) == 3


def test_roles_are_granted_and_revoked_from_the_community_page(office, organiser, tmp_path):
    helper = Node(tmp_path, "helper")
    helper.run("init", "--name", "Helper laptop")
    member = helper.run("id")["id"]
    organiser.goto(f"{office.web}/console")
    organiser.click("text=Oak Road")
    assert organiser.locator("#invite").input_value().startswith("wri1")
    assert organiser.locator("#invite-panel svg").count() == 1
    organiser.fill("#grant-member", member)
    organiser.select_option("#grant-role", "collector")
    organiser.fill("#grant-until", "2030-12-31")
    organiser.click("#grant button")
    assert "granted" in organiser.locator("#notice").inner_text()
    roles = office.run("community", "roles")
    assert [(r["member"], r["role"]) for r in roles] == [(member, "collector")]
    screenshot(organiser, "console-07-community")
    audit(organiser, "console community")
    # A typo in a member id is explained, and nothing is signed.
    organiser.fill("#grant-member", member[:-3] + "xyz")
    organiser.click("#grant button")
    assert organiser.locator("h1").inner_text() == "Not done"
    organiser.go_back()
    organiser.reload()
    organiser.locator("#members tr", has_text=member).locator("button", has_text="Revoke").click()
    assert "revoked" in organiser.locator("#notice").inner_text()
    assert office.run("community", "roles") == []


def test_a_hostile_title_and_tier_render_as_text(office, organiser):
    before = office.run("campaign", "show", office.campaign)
    organiser.goto(f"{office.web}/console/campaigns/{office.campaign}")
    organiser.fill("#tier-title", EVIL)
    organiser.fill("#tier-minimum", "3")
    organiser.click("#add-tier button")
    organiser.fill("#edit-title", "Bandstand " + EVIL)
    organiser.click("#edit button")
    assert organiser.locator("#campaign-title").inner_text() == "Bandstand " + EVIL
    assert organiser.locator("#tiers").get_by_text(EVIL, exact=True).count() == 1
    after = office.run("campaign", "show", office.campaign)
    assert after["title"] == "Bandstand " + EVIL
    # Saving the form as shown changed the title alone: not the opening time, deadline, goal or organisers.
    for field in ("opens", "closes", "goal_minor", "organisers", "model", "time_zone"):
        assert after[field] == before[field], field
    organiser.goto(f"{office.web}/console")
    assert organiser.get_by_text("Bandstand " + EVIL).count() == 1


def test_a_treasurer_sees_the_gift_aid_claim_and_small_donations(office, organiser):
    office.run("charity", "recognise", "--reference", "AB12345", "--legal-name", "Oak Road Trust", "--year-end", "03-31")
    office.run("community", "grant", "--role", "treasurer", office.run("id")["id"])
    organiser.goto(f"{office.web}/console")
    organiser.click("text=Oak Road")
    organiser.click("text=Gift Aid")
    assert organiser.locator("h1").inner_text().startswith("Gift Aid for")
    assert "donation(s)" in organiser.locator("#claim-summary").inner_text()
    screenshot(organiser, "console-08-gift-aid")
    audit(organiser, "console gift aid")


def test_health_and_sign_out(office, organiser):
    organiser.click("text=Health")
    assert "Whipround" in organiser.locator("#version").inner_text()
    assert organiser.locator("#held").inner_text().startswith("0")
    screenshot(organiser, "console-05-health")
    audit(organiser, "console health")
    organiser.click("text=Sign out")
    assert organiser.locator("h1").inner_text() == "Signed out"
    organiser.goto(f"{office.web}/console")
    assert organiser.locator("h1").inner_text() == "Sign in to the organiser console"


def test_web_logout_all_ends_every_session(office, browser):
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(office.run("web", "login")["url"])
        assert page.locator("h1").inner_text() == "Organiser console"
        assert office.run("web", "logout", "--all")["ended"] >= 1
        page.reload()
        assert page.locator("h1").inner_text() == "Sign in to the organiser console"
    finally:
        ctx.close()
