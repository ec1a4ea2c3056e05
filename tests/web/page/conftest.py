"""Browser tests: the real page (built from web/) in Debian's Chromium, driven by Playwright for Python
(no downloaded browser: executable_path=/usr/bin/chromium), against a real `trails web` and trails
server with real tmux sessions whose agent is tests/core/echo_agent.py."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CliResult, trails, wait_until

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
STATIC = ROOT / "src" / "trails" / "ui" / "web" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ECHO_AGENT = f"{sys.executable} {ROOT / 'tests' / 'core' / 'echo_agent.py'}"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no {CHROMIUM}: the page's tests need Debian's chromium (./dev test installs it)", pytrace=False)
    if not (STATIC / "index.html").exists():
        pytest.fail("the web page is not built: npm ci --prefix web && npm run build --prefix web (./dev test does it)",
                    pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # sessions start and stop for real: seconds, not milliseconds
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@dataclass
class Dashboard:
    """A running `trails web` for this test's home, and what the tests do around it."""

    base: str
    token: str
    read_only_token: str
    repo: Path
    tmp: Path
    browser: Any
    contexts: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def page(self, *, read_only: bool = False, width: int = 1280, height: int = 800, scheme: str = "light",
             at: str = "/") -> Any:
        """A new browser context signed in with the token (the cookie the server sets), at `at`."""
        ctx = self.browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        ctx.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.goto(f"{self.base}/?token={self.read_only_token if read_only else self.token}")
        page.wait_for_url(re.compile(r"^[^?]*/$"))  # the token is swapped for the cookie
        if at != "/":
            page.goto(self.base + at)
        page.locator("#feed-state[data-state=live]").wait_for()
        return page

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.echo.log"

    def new_session(self, name: str, *extra: str, mode: str = "worktree") -> CliResult:
        """A session made elsewhere (the CLI), its agent the echo agent logging what it reads."""
        res = trails("new", name, ECHO_AGENT, "--mode", mode, "--env", f"ECHO_LOG={self.log(name)}", *extra,
                     cwd=self.repo)
        assert res.code == 0, res.stderr
        return res

    def received(self, name: str) -> str:
        path = self.log(name)
        return path.read_text() if path.exists() else ""

    def wait_received(self, name: str, text: str, timeout: float = 15) -> str:
        return wait_until(lambda: text in (got := self.received(name)) and got, timeout=timeout,
                          message=f"{text!r} to reach {name}'s agent (it read: {self.received(name)!r})")

    def worktree(self, name: str) -> Path:
        res = trails("show", name, "--json", cwd=self.repo)
        assert res.code == 0, res.stderr
        return Path(res.json["session"]["worktree_path"])

    def shoot(self, page: Any, name: str) -> None:
        """A PNG for the README, taken by the tests' own browser: into docs/ when TRAILS_DOCS_SCREENSHOTS=1
        (to refresh the README's pictures), else beside the test's repository (the tree stays clean)."""
        page.evaluate("""() => {
            document.getElementById("toasts")?.replaceChildren();
            if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
            window.scrollTo(0, 0);
        }""")
        where = DOCS if os.environ.get("TRAILS_DOCS_SCREENSHOTS") == "1" else self.repo.parent
        page.screenshot(path=str(where / name), animations="disabled", caret="hide")
        assert (where / name).stat().st_size > 0


@pytest.fixture
def dashboard(repo: Path, tmp_path: Path, trails_env: dict[str, Path], browser: Any,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)  # the server watches sessions: status events flow
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "trails", "web", "--port", "0"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    printed: list[str] = []
    urls: dict[str, str] = {}

    def started() -> bool:
        while not out.empty():
            line = out.get()
            printed.append(line)
            if m := re.search(r"(http://[^/\s]+)/\?token=(\S+)", line):
                urls["read_only" if "read-only" in line else "full"] = m.group(0)
                urls.setdefault("base", m.group(1))
        if proc.poll() is not None:
            raise AssertionError(f"trails web exited ({proc.returncode}): {''.join(printed)}")
        return "full" in urls and "read_only" in urls

    wait_until(started, timeout=30, message="trails web to print its URLs")
    token = urls["full"].split("token=", 1)[1]
    read_only_token = urls["read_only"].split("token=", 1)[1]
    w = Dashboard(base=urls["base"], token=token, read_only_token=read_only_token, repo=repo, tmp=tmp_path,
                  browser=browser)
    try:
        yield w
    finally:
        for ctx in w.contexts:
            ctx.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert not w.errors, w.errors
