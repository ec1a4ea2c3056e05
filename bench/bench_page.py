"""The web page in a real browser with many sessions (python bench/bench_page.py [--sessions 100]).

Starts `trails web` over a trails server watching `--sessions` live sessions of `cat` (as
bench_web.py does) and opens the built page in Debian's Chromium (Playwright, /usr/bin/chromium):
- first render: navigation start → the grid holding every card painted, over `--loads` page loads;
- status change → card repainted: a status event stored in the state database the way the supervisor
  stores one (the server is nudged, its feed publishes it to the page's event WebSocket), until the
  frame after the card's new status was drawn (the event's own timestamp to the page's clock: one
  machine, one clock), `--events` times;
- keystroke → echo drawn: a key pressed in the page's terminal (xterm.js: a keydown on its input),
  from the keydown to the paint of the frame that shows the character in the terminal's rows,
  alternated key by key with the floor of the same pane's echo through tmux alone (a `tmux -C` client,
  bench_web's TmuxFloor). The page cannot draw between frames: up to one frame (16.7 ms at 60 Hz) of
  the difference is the display's.
Targets (issue 11): first render < 500 ms; repaint p95 < 100 ms; the page's echo p95 within 20 ms of
tmux's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import TRAILS, TmuxFloor, quantile, start_web

STATIC = Path(__file__).resolve().parent.parent / "src" / "trails" / "ui" / "web" / "static"
CHROMIUM = "/usr/bin/chromium"
STATUSES = ["running", "waiting", "ready", "error", "running", "ready"]

# In the page, before its own code: when cards and terminal rows change, the time of the frame after.
PROBE = """
window.__bench = { repaints: [], firstRender: null, key: null, keyDown: 0, echoes: [] };
const afterPaint = (fn) => requestAnimationFrame(() => setTimeout(fn, 0));
const watch = () => {
  const cards = document.getElementById("cards");
  if (!cards) { setTimeout(watch, 5); return; }
  new MutationObserver((mutations) => {
    const changed = mutations.filter((m) => m.type === "attributes")
      .map((m) => [m.target.dataset.session, m.target.dataset.status]);
    if (window.__bench.firstRender === null && cards.childElementCount >= EXPECTED) {
      afterPaint(() => { if (window.__bench.firstRender === null) window.__bench.firstRender = performance.now(); });
    }
    if (changed.length) afterPaint(() => {
      const t = performance.timeOrigin + performance.now();
      for (const [name, status] of changed) window.__bench.repaints.push([name, status, t]);
    });
  }).observe(cards, { childList: true, attributes: true, subtree: true, attributeFilter: ["data-status"] });
};
watch();
document.addEventListener("keydown", (e) => {
  if (e.key.length === 1) { window.__bench.key = e.key; window.__bench.keyDown = performance.now(); }
}, true);
const watchTerm = () => {
  const rows = document.querySelector('.terminal-pane[data-kind="agent"] .xterm-rows');
  if (!rows) { setTimeout(watchTerm, 20); return; }
  new MutationObserver(() => {
    const b = window.__bench;
    if (b.key === null) return;
    const lines = [...rows.children].map((r) => r.textContent.replace(/\\s+$/, "")).filter(Boolean);
    const last = lines[lines.length - 1] || "";
    if (!last.endsWith(b.key)) return;
    const key = b.key;
    b.key = null;
    // xterm.js changes its rows inside an animation frame: the paint follows that frame's callbacks.
    setTimeout(() => b.echoes.push([key, performance.now() - b.keyDown]), 0);
  }).observe(rows, { childList: true, characterData: true, subtree: true });
};
watchTerm();
"""


KEY = """() => {
  const input = document.querySelector('.terminal-pane[data-kind="agent"] .xterm-helper-textarea');
  const init = { key: "CHAR", code: "KeyUPPER", bubbles: true, cancelable: true };
  input.dispatchEvent(new KeyboardEvent("keydown", { ...init, keyCode: "UPPER".charCodeAt(0) }));
  input.dispatchEvent(new KeyboardEvent("keypress", { ...init, keyCode: CODE, charCode: CODE }));
}"""


def sign_in(browser: Any, base: str, token: str, expected: int) -> Any:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.add_init_script(PROBE.replace("EXPECTED", str(expected)))
    page = ctx.new_page()
    page.goto(f"{base}/?token={token}")
    page.wait_for_function("window.__bench.firstRender !== null", timeout=60_000)
    return ctx, page


def first_render(browser: Any, base: str, token: str, sessions: int, loads: int) -> list[float]:
    ctx, page = sign_in(browser, base, token, sessions)
    times = []
    for _ in range(loads):
        page.reload()
        page.wait_for_function("window.__bench.firstRender !== null", timeout=60_000)
        times.append(page.evaluate("window.__bench.firstRender"))
    ctx.close()
    return times


def repaint(page: Any, home: Path, names: list[str], events: int) -> list[float]:
    from trails.core import watch
    from trails.core.store import Store
    from trails.monitor import events as ev

    store = Store(home / "state.db")
    latencies = []
    for i in range(events):
        name = names[(i * 7) % len(names)]
        status = STATUSES[i % len(STATUSES)]
        shown = page.evaluate(f"document.querySelector('.card[data-session=\"{name}\"]').dataset.status")
        if shown == status:
            status = "paused"
        page.evaluate("window.__bench.repaints = []")
        event = ev.persist(store, ev.Event("status", name, {"status": status, "previous": shown, "reason": "bench",
                                                            "needs_user": status == "waiting"}))
        watch.nudge(home)
        page.wait_for_function(f"window.__bench.repaints.some(([n, s]) => n === {name!r} && s === {status!r})",
                               timeout=10_000)
        drawn = page.evaluate(f"window.__bench.repaints.find(([n, s]) => n === {name!r} && s === {status!r})[2]")
        latencies.append(drawn - event.ts * 1000)
    return latencies


def keystrokes(page: Any, floor: TmuxFloor, keys: int) -> tuple[list[float], list[float]]:
    page.locator('.terminal-pane[data-kind="agent"] .xterm').click()
    page_times, tmux_times = [], []
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(keys):
        char = letters[i % len(letters)]
        before = page.evaluate("window.__bench.echoes.length")
        # The key as the browser hands it to the page: a keydown (and keypress) on xterm.js's input
        # element, dispatched in the page (Playwright's keyboard adds its own round trips through the
        # browser's devtools protocol, ~15 ms here, that no real keyboard has).
        page.evaluate(KEY.replace("CHAR", char).replace("UPPER", char.upper()).replace("CODE", str(ord(char))))
        page.wait_for_function(f"window.__bench.echoes.length > {before}", timeout=10_000)
        page_times.append(page.evaluate("window.__bench.echoes[window.__bench.echoes.length - 1][1]"))
        tmux_times.append(floor.key(char.upper()) * 1000)
        if i % 30 == 29:  # a fresh line now and then, so the line never wraps
            page.keyboard.press("Enter")
            page.wait_for_timeout(100)
    page.keyboard.press("Enter")
    return page_times, tmux_times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--keys", type=int, default=150)
    parser.add_argument("--loads", type=int, default=7)
    args = parser.parse_args()
    if not (STATIC / "index.html").exists():
        sys.exit("the page is not built: npm ci --prefix web && npm run build --prefix web")
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="trails-bench-page-"))
    sock_dir = Path(tempfile.mkdtemp(prefix="tbp-"))
    tmux_socket = str(sock_dir / "t.sock")
    home = root / "home"
    env = dict(os.environ, TRAILS_HOME=str(home), TRAILS_TMUX_SOCKET=tmux_socket)
    for var in ("TRAILS_SUPERVISOR", "TRAILS_SERVER"):
        env.pop(var, None)
    os.environ.update(TRAILS_HOME=str(home), TRAILS_TMUX_SOCKET=tmux_socket)  # for the store and the nudge here
    place = root / "place"
    place.mkdir()
    web, base, token = start_web(env, place)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}", "X-Trails-CSRF": "1"}, timeout=120)
    floor: TmuxFloor | None = None
    try:
        made = time.perf_counter()
        names = [f"s{i:03d}" for i in range(args.sessions)]
        for name in names:
            res = api.post("/api/sessions", json={"name": name, "agent": "cat", "mode": "direct"})
            assert res.status_code == 200, res.text
        print(f"{args.sessions} sessions made in {time.perf_counter() - made:.1f}s")
        time.sleep(3)  # their statuses settle (loading → ready), so the bench's events are the only ones
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            loads = first_render(browser, base, token, args.sessions, args.loads)
            print(f"first render, {args.sessions} cards, {args.loads} loads: median {statistics.median(loads):.0f} ms, "
                  f"max {max(loads):.0f} ms (target < 500 ms)")

            ctx, page = sign_in(browser, base, token, args.sessions)
            page.wait_for_selector("#feed-state[data-state=live]")
            lat = repaint(page, home, names, args.events)
            print(f"status event → card repainted, {args.sessions} sessions, {args.events} events: "
                  f"p50 {quantile(lat, 0.5):.1f} ms, p95 {quantile(lat, 0.95):.1f} ms (target p95 < 100 ms)")
            ctx.close()

            ctx, page = sign_in(browser, base, token, args.sessions)
            page.goto(f"{base}/?session=s000")
            page.wait_for_selector('.terminal-pane[data-kind="agent"] .term-state[data-state=live]')
            page.wait_for_timeout(500)
            floor = TmuxFloor(tmux_socket, "trails-s000")
            page_ms, tmux_ms = keystrokes(page, floor, args.keys)
            p95, t95 = quantile(page_ms, 0.95), quantile(tmux_ms, 0.95)
            print(f"keystroke → echo drawn, {args.keys} keys: "
                  f"page p50 {quantile(page_ms, 0.5):.1f} ms, p95 {p95:.1f} ms; "
                  f"tmux alone p50 {quantile(tmux_ms, 0.5):.1f} ms, p95 {t95:.1f} ms; "
                  f"p95 difference {p95 - t95:+.1f} ms (target ≤ 20 ms)")
            ctx.close()
            browser.close()
    finally:
        if floor is not None:
            floor.close()
        api.close()
        os.killpg(web.pid, signal.SIGINT)
        web.wait(20)
        subprocess.run([*TRAILS, "server", "--stop"], env=env, capture_output=True, check=False)
        subprocess.run(["tmux", "-S", tmux_socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
