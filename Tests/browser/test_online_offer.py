"""An online offer end to end (issue 11): a visitor offers on the hub's public form, an organiser accepts it in the
hub's console, and the signed online pledge reaches a second node by gossip.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import SCREENSHOTS, Node, http_json, serious_violations, wait_until


def audit(page, what):
    bad = serious_violations(page)
    assert not bad, f"axe on {what}:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def pair():
    root = Path(tempfile.mkdtemp(prefix="whipround-online-"))
    hub, branch = Node(root, "hub"), Node(root, "branch")
    try:
        hub.run("init", "--name", "Library hub")
        branch.run("init", "--name", "Branch laptop")
        hub.run("community", "create", "Mill Lane")
        branch.run("community", "join", hub.run("community", "invite")["invite"])
        # A node syncs once it holds a role, not just the network key.
        hub.run("community", "grant", "--role", "collector", branch.run("id")["id"])
        campaign = hub.run("campaign", "create", "--title", "Mill Lane benches", "--goal", "300", "--closes", "2030-09-30")["id"]
        hub.run("campaign", "publish", campaign)
        hub.serve()
        branch.serve(hub)
        wait_until("the campaign on the branch", lambda: http_json(f"{branch.web}/api/v1/campaigns/{campaign}")[0] == 200)
        yield hub, branch, campaign
    finally:
        for n in (hub, branch):
            n.stop()
        if not os.environ.get("KEEP_BROWSER_DATA"):
            shutil.rmtree(root, ignore_errors=True)


def test_an_offer_accepted_in_the_console_reaches_the_other_node(pair, browser, guard):
    hub, branch, campaign = pair
    organiser = browser.new_context(viewport={"width": 1024, "height": 800})
    visitor = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        for ctx in (organiser, visitor):
            ctx.set_default_timeout(10_000)
        console = guard.watch(organiser.new_page())
        page = guard.watch(visitor.new_page())
        # Off by default: no link on the public page, and the form's address says so.
        page.goto(f"{hub.web}/campaigns/{campaign}")
        assert page.locator("#back-online").count() == 0
        page.goto(f"{hub.web}/campaigns/{campaign}/offer")
        assert page.locator("h1").inner_text() == "No online offers here"

        console.goto(hub.run("web", "login")["url"])
        console.goto(f"{hub.web}/console/campaigns/{campaign}")
        console.check("#online-enabled")
        console.click("#online button")
        assert "takes offers online" in console.locator("#notice").inner_text()

        page.goto(f"{hub.web}/campaigns/{campaign}")
        page.click("#back-online")
        page.fill("#name", "Cleo Birch")
        page.fill("#email", "cleo@example.org")
        page.fill("#amount", "25")
        page.screenshot(path=str(SCREENSHOTS / "offer-01-form.png"), full_page=True)
        audit(page, "offer form")
        page.click("#offer button")
        reference = page.locator("#offer-reference").inner_text()
        assert len(reference) == 9 and "not a pledge yet" in page.content()
        page.screenshot(path=str(SCREENSHOTS / "offer-02-sent.png"), full_page=True)
        audit(page, "offer sent")
        assert http_json(f"{hub.web}/api/v1/campaigns/{campaign}")[1]["backers"] == 0, "an offer moves no total"

        console.reload()
        row = console.locator("#online-offers tr", has_text=reference)
        assert "Cleo Birch" in row.inner_text() and "cleo@example.org" in row.inner_text()
        console.screenshot(path=str(SCREENSHOTS / "console-06-online-offer.png"), full_page=True)
        row.locator("button", has_text="Accept as a pledge").click()
        assert "signed pledge" in console.locator("#notice").inner_text()

        pledges = hub.pledges(campaign)
        assert [(p["backer"], p["channel"], p["amount_minor"]) for p in pledges] == [("Cleo Birch", "online", 2500)]
        wait_until("the online pledge on the branch by gossip",
                   lambda: [p["backer"] for p in branch.pledges(campaign)] == ["Cleo Birch"], timeout=30)
        assert branch.pledges(campaign)[0]["channel"] == "online"
    finally:
        organiser.close()
        visitor.close()
