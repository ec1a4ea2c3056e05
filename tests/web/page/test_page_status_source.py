"""What set a session's status, and whether its idle agent is frozen, on its card and in its Details tab:
one session told by its agent's hooks (reported as a Claude hook reports, with the session's token), one
by its screen whose idle agent the server froze."""

from __future__ import annotations

import json
import os
from pathlib import Path

from playwright.sync_api import expect

from tests.helpers import hook_credentials, hooked_agent, run_hook, trails
from tests.web.page.conftest import Dashboard


def test_cards_and_details_say_what_set_the_status_and_that_an_agent_is_frozen(dashboard: Dashboard,
                                                                                tmp_path: Path) -> None:
    # Read when each session's watch starts: the echo agent (no child at work) freezes once ready 1 s.
    (Path(os.environ["TRAILS_HOME"]) / "settings.json").write_text(json.dumps({"idle_freeze_after": 1}))
    agent, seen = hooked_agent(tmp_path)
    assert trails("new", "hk", str(agent), "--mode", "direct", cwd=dashboard.repo).code == 0
    dashboard.new_session("scr", mode="direct")
    token, sock = hook_credentials(seen)
    page = dashboard.page()
    hk, scr = page.locator('.card[data-session="hk"]'), page.locator('.card[data-session="scr"]')

    run_hook("hk", token, sock, "UserPromptSubmit")
    expect(hk.locator(".status-pill")).to_have_text("running ·hook")
    run_hook("hk", token, sock, "Stop")
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
