"""Fixtures for the pledge desk's browser tests: two real nodes that gossip, and Debian's chromium.

Run by scripts/browser-tests.sh (from `make test`) after the Swift suites; WHIPROUND names the binary to test.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("WHIPROUND", str(ROOT / ".build" / "debug" / "whipround"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", str(ROOT / "ci-artifacts" / "screenshots")))
PHONE = {"width": 360, "height": 740}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


AXE = Axe()


def serious_violations(page):
    """axe's serious and critical violations on the page, one line each (axe needs the page's JavaScript on)."""
    violations = AXE.run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in violations if v.get("impact") in ("serious", "critical")]


def save_screenshot(page, name):
    """A full-page screenshot in ci-artifacts/screenshots, with the pointer moved off any button first."""
    page.mouse.move(0, 0)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(what, check, timeout=30.0, every=0.1):
    """Polls check() until it returns a truthy value (returned) or the timeout runs out (fails, naming what)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - kept for the failure message
            last = e
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last error: {last})")


def http_json(url, method="GET", body=None, headers=None):
    """(status, parsed JSON or None) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


class Node:
    """One whipround data directory, and its `serve` daemon once started."""

    def __init__(self, root: Path, name: str):
        self.name = name
        self.data = root / name
        self.proc = None
        self.port = free_port()
        self.web_port = free_port()
        self.log = root / f"{name}.log"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def run(self, *args, expect=0, json_out=True):
        cmd = [BINARY, *args, "--data", str(self.data)] + (["--json"] if json_out else [])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}, expected {expect}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        if json_out and p.returncode == 0:
            return json.loads(p.stdout)
        return p

    def serve(self, *peers: "Node"):
        cmd = [BINARY, "serve", "--data", str(self.data), "--listen", f"127.0.0.1:{self.port}",
               "--web", f"127.0.0.1:{self.web_port}", "--metrics", "off"]
        for p in peers:
            cmd += ["--peer", f"127.0.0.1:{p.port}"]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(f"{self.name}'s web server", lambda: self.poll_alive() and http_json(f"{self.web}/api/v1/openapi.json")[0] == 200, timeout=30)

    def poll_alive(self):
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name}'s serve exited {self.proc.returncode}:\n{self.log.read_text(errors='replace')[-4000:]}")
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def open_desk(self, campaign: str, name: str) -> str:
        """Opens a desk and returns its pairing URL (from `desk open --json`)."""
        out = self.run("desk", "open", "--campaign", campaign, "--name", name)
        url = next((v for v in out.values() if isinstance(v, str) and "/pair?code=" in v), None) if isinstance(out, dict) else None
        assert url, f"desk open --json gave no pairing URL: {out}"
        return url

    def pledges(self, campaign: str) -> list:
        return self.run("pledge", "list", "--campaign", campaign)


@pytest.fixture(scope="session")
def hall():
    """Two nodes of one community that gossip (`hall` serves the campaign, `annex` peers with it), and a fresh
    node with no community (`fresh`, for the first-run page)."""
    root = Path(tempfile.mkdtemp(prefix="whipround-browser-"))
    hub, annex, fresh = Node(root, "hub"), Node(root, "annex"), Node(root, "fresh")
    try:
        hub.run("init", "--name", "Hall laptop")
        annex.run("init", "--name", "Pool-side laptop")
        fresh.run("init", "--name", "Fresh node")
        hub.run("community", "create", "Elm Street")
        invite = hub.run("community", "invite")["invite"]
        annex.run("community", "join", invite)
        hub.run("community", "grant", "--role", "collector", annex.run("id")["id"])
        campaign = hub.run("campaign", "create", "--title", "Reopen the lido", "--goal", "500", "--currency", "GBP",
                           "--closes", "2030-03-31", "--model", "all-or-nothing")["id"]
        towel = hub.run("tier", "add", "--campaign", campaign, "--title", "Lido towel", "--minimum", "15", "--limit", "1")["id"]
        hub.run("tier", "add", "--campaign", campaign, "--title", "Supporter", "--minimum", "5")
        hub.run("campaign", "publish", campaign)
        hub.serve()
        annex.serve(hub)
        fresh.serve()
        # The annex has the campaign and its collector grant once gossip has brought them.
        wait_until("the campaign on the annex", lambda: http_json(f"{annex.web}/api/v1/campaigns/{campaign}")[0] == 200)
        yield {"hub": hub, "annex": annex, "fresh": fresh, "campaign": campaign, "towel": towel, "root": root}
    finally:
        for n in (hub, annex, fresh):
            n.stop()
        if os.environ.get("KEEP_BROWSER_DATA"):
            print(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield b
        b.close()


class Guard:
    """Fails the test on any dialog (an injected alert), page error or CSP violation in the pages it watches."""

    def __init__(self):
        self.problems = []

    def watch(self, page):
        def on_dialog(d):
            # The desk's own undo asks for confirmation; any other dialog (an injected alert) is a failure.
            if d.type == "confirm" and d.message.startswith("Undo the last pledge"):
                d.accept()
                return
            self.problems.append(f"a dialog fired on {page.url}: {d.type} {d.message!r}")
            d.dismiss()

        def on_console(m):
            if m.type == "error" and "Content Security Policy" in m.text:
                self.problems.append(f"CSP violation on {page.url}: {m.text}")

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda e: self.problems.append(f"script error on {page.url}: {e}"))
        page.on("console", on_console)
        return page

    def check(self):
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture(scope="session")
def guard():
    g = Guard()
    yield g
    g.check()


@pytest.fixture(scope="session")
def phones(browser, guard):
    """Three phones (separate contexts, 360x740) and a projector for the display page."""
    made = {}

    def phone(name, viewport=PHONE, mobile=True):
        if name not in made:
            ctx = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
            ctx.set_default_timeout(10_000)
            made[name] = (ctx, guard.watch(ctx.new_page()))
        return made[name]

    yield phone
    for ctx, _ in made.values():
        ctx.close()
