"""What set a session's status, and whether its idle agent is frozen, on its card and in its Details tab:
one session told by its agent's hooks (reported as a Claude hook reports, with the session's token), one
by its screen whose idle agent the server froze."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from playwright.sync_api import expect

from tests.helpers import trails, wait_until
from tests.web.page.conftest import Dashboard
from trails.core import hookwire


def hook(token: str, sock: str, event: str) -> None:
    """Run trails' hook reporter as the agent's hook runs it (the event on stdin)."""
    cp = subprocess.run(hookwire.host_reporter(), input=json.dumps({"hook_event_name": event}), text=True,
                        capture_output=True, timeout=10, check=False,
                        env={"PATH": os.environ["PATH"], "TRAILS_SESSION": "hk", "TRAILS_HOOK_TOKEN": token,
                             "TRAILS_HOOK_SOCKET": sock})
    assert cp.returncode == 0, cp.stderr


def test_cards_and_details_say_what_set_the_status_and_that_an_agent_is_frozen(dashboard: Dashboard,
                                                                                tmp_path: Path) -> None:
    # Read when each session's watch starts: the echo agent (no child at work) freezes once ready 1 s.
    (Path(os.environ["TRAILS_HOME"]) / "settings.json").write_text(json.dumps({"idle_freeze_after": 1}))
    # An agent called `claude` gets hooks; this one writes down its hook environment, then idles.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    seen = tmp_path / "hook-env"
    agent = bindir / "claude"
    agent.write_text("#!/bin/sh\n"
                     f"printf '%s\\n' \"$TRAILS_HOOK_TOKEN\" \"$TRAILS_HOOK_SOCKET\" > {seen}.tmp\n"
                     f"mv {seen}.tmp {seen}\nexec sleep 600\n")
    agent.chmod(0o755)
    assert trails("new", "hk", str(agent), "--mode", "direct", cwd=dashboard.repo).code == 0
    dashboard.new_session("scr", mode="direct")
    token, sock = wait_until(lambda: seen.exists() and seen.read_text().splitlines(), timeout=20,
                             message="the hooked agent to start")
    page = dashboard.page()
    hk, scr = page.locator('.card[data-session="hk"]'), page.locator('.card[data-session="scr"]')

    hook(token, sock, "UserPromptSubmit")
    expect(hk.locator(".status-pill")).to_have_text("running ·hook")
    hook(token, sock, "Stop")
    expect(hk.locator(".status-pill")).to_have_text("ready ·hook")  # the event stream's word, live
    expect(scr.locator(".status-pill")).to_have_text("ready")  # its screen said so: no mark
    expect(scr.locator(".frozen")).to_be_visible()  # frozen after 1 s idle, told by the stream
    assert trails("show", "scr", "--json", cwd=dashboard.repo).json["session"]["extra"]["frozen"]

    page.goto(f"{dashboard.base}/?session=scr&view=details")
    details = page.locator(".details-view")
    expect(details.locator("dt", has_text="status source").locator("+ dd")).to_have_text("its screen")
    expect(details.locator("dt", has_text="frozen").locator("+ dd")).to_contain_text("its agent is stopped")
    page.goto(f"{dashboard.base}/?session=hk&view=details")
    expect(details.locator("dt", has_text="status source").locator("+ dd")).to_have_text("the agent's hooks")
    assert not dashboard.errors, dashboard.errors
