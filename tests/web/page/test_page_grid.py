"""The sessions grid in a real browser: live from the event stream as sessions are made and changed
elsewhere (the CLI), filters, the list layout, multi-select and a batch action, phone width."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.helpers import trails, wait_until
from tests.web.page.conftest import Dashboard


def card(page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.card[data-session="{name}"]')


def test_grid_follows_sessions_made_and_changed_elsewhere(dashboard: Dashboard) -> None:
    page = dashboard.page()
    expect(page.locator("#no-sessions")).to_contain_text("No sessions yet")

    dashboard.new_session("alpha")  # made by the CLI: the card appears without a reload
    alpha = card(page, "alpha")
    expect(alpha).to_be_visible()
    expect(alpha.locator(".agent")).to_contain_text("echo_agent.py")
    expect(alpha.locator(".mode")).to_have_text("worktree")
    expect(alpha.locator(".branch")).to_have_text("trails/alpha")
    expect(alpha).to_have_attribute("data-status", "ready")

    assert trails("pause", "alpha", cwd=dashboard.repo).code == 0  # a status change elsewhere
    expect(alpha).to_have_attribute("data-status", "paused")
    expect(alpha.locator('[data-act="pause-resume"]')).to_have_text("Resume")
    assert trails("resume", "alpha", cwd=dashboard.repo).code == 0
    expect(alpha).to_have_attribute("data-status", "ready")

    assert trails("kill", "alpha", "--force", cwd=dashboard.repo).code == 0
    expect(alpha).to_have_count(0)


def pump_until(page: Any, condition: Any, what: str, timeout: float = 15) -> None:
    """Wait for a condition that Playwright's own callbacks make true (they run only while it waits)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(25)


def server_status(dashboard: Dashboard, name: str) -> str:
    shown = trails("ls", "--json", cwd=dashboard.repo).json["sessions"]
    return next((s["status"] for s in shown if s["name"] == name), "")


def test_a_list_asked_for_before_an_event_does_not_undo_it(dashboard: Dashboard) -> None:
    """The event socket and a list request race: a list the server wrote before a session's change
    can arrive after the event that told it. The card keeps what the event said."""
    dashboard.new_session("bravo")
    wait_until(lambda: server_status(dashboard, "bravo") == "ready", timeout=15, message="bravo ready")
    page = dashboard.page()
    expect(card(page, "bravo")).to_have_attribute("data-status", "ready")

    held: list[tuple[Any, Any]] = []  # the next two list requests, answered by the server now, delivered later

    def hold(route: Any) -> None:
        if len(held) < 2:
            held.append((route, route.fetch()))
        else:
            route.fallback()

    page.route(re.compile(r"/api/sessions(\?.*)?$"), hold)
    page.reload()
    pump_until(page, lambda: len(held) == 1, "the page's first list request")
    dashboard.new_session("charlie")  # its events name a session the page does not know: it asks again
    wait_until(lambda: server_status(dashboard, "charlie") == "ready", timeout=15, message="charlie ready")
    route, answer = held[0]
    route.fulfill(response=answer)
    pump_until(page, lambda: len(held) == 2, "the page's second list request")

    assert trails("pause", "bravo", cwd=dashboard.repo).code == 0  # while the second list is on its way
    expect(card(page, "bravo")).to_have_attribute("data-status", "paused")
    route, answer = held[1]  # written before the pause: bravo ready in it
    route.fulfill(response=answer)
    expect(card(page, "charlie")).to_be_visible()  # the second list arrived (charlie is only in it)
    assert card(page, "bravo").get_attribute("data-status") == "paused"
    expect(card(page, "bravo")).to_have_attribute("data-status", "paused")


def test_filter_select_and_batch_pause(dashboard: Dashboard) -> None:
    for name in ("bravo", "charlie", "delta"):
        dashboard.new_session(name)
    (dashboard.worktree("charlie") / "notes.md").write_text("one\ntwo\n")
    assert trails("auto-yes", "delta", "on", cwd=dashboard.repo).code == 0
    page = dashboard.page()
    for name in ("bravo", "charlie", "delta"):
        expect(card(page, name)).to_have_attribute("data-status", "ready")
    expect(card(page, "delta").locator(".auto-yes")).to_have_text("auto-yes")

    page.fill("#filter-text", "char")
    expect(page.locator(".card")).to_have_count(1)
    page.fill("#filter-text", "")
    expect(page.locator(".card")).to_have_count(3)

    # Select two and send them one message with the batch bar, then pause two (real calls through the API).
    card(page, "bravo").locator("input.select").check()
    card(page, "delta").locator("input.select").check()
    page.click("#batch-send")
    page.fill("#send-dialog textarea", "one message for two")
    page.locator('#send-dialog button[value="yes"]').click()
    dashboard.wait_received("bravo", "one message for two")
    dashboard.wait_received("delta", "one message for two")
    assert "one message for two" not in dashboard.received("charlie")
    card(page, "delta").locator("input.select").uncheck()
    card(page, "charlie").locator("input.select").check()
    expect(page.locator("#batch-pause")).to_have_text("Pause 2 selected")
    page.click("#batch-pause")
    expect(card(page, "bravo")).to_have_attribute("data-status", "paused")
    expect(card(page, "charlie")).to_have_attribute("data-status", "paused")
    expect(card(page, "delta")).to_have_attribute("data-status", "ready")
    shown = trails("ls", "--json", cwd=dashboard.repo).json["sessions"]
    assert {s["name"]: s["status"] for s in shown} == {"bravo": "paused", "charlie": "paused", "delta": "ready"}

    page.select_option("#filter-status", "paused")
    expect(page.locator(".card")).to_have_count(2)
    page.select_option("#filter-status", "all")
    page.click('.layout-btn[data-layout="list"]')
    expect(page.locator("#cards")).to_have_class("cards layout-list")
    page.click('.layout-btn[data-layout="grid"]')
    card(page, "charlie").locator("input.select").uncheck()
    assert trails("resume", "charlie", cwd=dashboard.repo).code == 0
    expect(card(page, "charlie")).to_have_attribute("data-status", "ready")
    expect(card(page, "charlie").locator(".stats")).to_contain_text("+2")

    # Two more for the README's picture: one in direct mode, one whose agent has finished.
    dashboard.new_session("docs", mode="direct")
    dashboard.new_session("echo")
    expect(card(page, "echo")).to_have_attribute("data-status", "ready")
    assert trails("send", "echo", "exit", cwd=dashboard.repo).code == 0
    expect(card(page, "echo")).to_have_attribute("data-status", "completed")
    expect(card(page, "docs")).to_have_attribute("data-status", "ready")
    page.set_viewport_size({"width": 1280, "height": 560})
    dashboard.shoot(page, "web-grid.png")

    # Phone width: the cards stack in one column as wide as the screen.
    phone = dashboard.page(width=390, height=800, scheme="dark")
    expect(card(phone, "echo")).to_be_visible()
    boxes = [card(phone, n).bounding_box() for n in ("bravo", "charlie", "delta", "docs", "echo")]
    assert all(b is not None and b["width"] > 330 for b in boxes), boxes
    assert len({round(b["x"]) for b in boxes if b}) == 1, boxes
