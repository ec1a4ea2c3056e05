// The trails web page: a client of `trails web`'s API, as the CLI and the TUI are of the trails server.
import "./style.css";
import { Actions } from "./actions";
import { api, ApiError } from "./api";
import { $, h } from "./dom";
import { EventFeed } from "./events";
import { SessionsScreen } from "./grid";
import { NewSessionForm } from "./new_session";
import { askPermission, notificationsSupported, onTransition } from "./notify";
import { RunsView } from "./runs_view";
import { SessionView } from "./session_view";
import { SessionStore } from "./store";
import type { Place } from "./url";
import { go, onPlace, placeUrl, readPlace } from "./url";

type Theme = "auto" | "light" | "dark";

function applyTheme(theme: Theme): void {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  document.dispatchEvent(new Event("trails-theme"));
}

async function main(): Promise<void> {
  const app = $("#app");
  let theme = (localStorage.getItem("trails.theme") as Theme | null) ?? "auto";
  applyTheme(theme);

  let readOnly = false;
  let serverCwd: string | null = null;
  try {
    const me = await api.me();
    readOnly = me.read_only;
    serverCwd = me.cwd ?? null;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      app.append(h("div", { class: "signin" }, h("h1", {}, "trails"),
        h("p", {}, "Not signed in. Open the URL that `trails web` printed: it carries the access token (…/?token=…)."),
        h("p", { class: "hint" }, "The token is in $TRAILS_HOME/web-token (owner-only)."))); 
      return;
    }
  }
  document.body.classList.toggle("read-only", readOnly);

  const store = new SessionStore();
  store.onTransition = onTransition;
  const actions = new Actions(store, () => readOnly);
  const grid = new SessionsScreen(store, actions);
  const form = new NewSessionForm(store, readOnly, serverCwd);
  const runs = new RunsView(actions);
  let view: SessionView | null = null;

  const feedState = h("span", { class: "feed-state", id: "feed-state", "data-state": "connecting", title: "live updates" }, "connecting");
  const navLink = (label: string, place: Partial<Place>, key: string) => h("a", {
    class: "nav", "data-nav": key, href: placeUrl({ session: null, view: "sessions", worktree: null, file: null, run: null, ...place }),
    onclick: (e: Event) => { e.preventDefault(); go(place, { fresh: true }); },
  }, label);
  const themeBtn = h("button", { class: "icon", id: "theme", title: "theme: auto → light → dark", onclick: () => {
    theme = theme === "auto" ? "light" : theme === "light" ? "dark" : "auto";
    localStorage.setItem("trails.theme", theme);
    applyTheme(theme);
    themeBtn.textContent = themeLabel();
  } });
  const themeLabel = () => (theme === "auto" ? "◐ auto" : theme === "light" ? "☀ light" : "☾ dark");
  themeBtn.textContent = themeLabel();
  const notifyBtn = h("button", { class: "icon", id: "notifications", hidden: !notificationsSupported(),
    title: "browser notifications when a session waits or ends", onclick: async () => {
      const p = await askPermission();
      notifyBtn.textContent = p === "granted" ? "notifications on" : "notifications blocked";
    } }, notificationsSupported() && Notification.permission === "granted" ? "notifications on" : "notify me");
  const header = h("header", { class: "topbar" },
    h("a", { class: "brand", href: "/", onclick: (e: Event) => { e.preventDefault(); go({}, { fresh: true }); } }, "trails"),
    h("nav", { class: "navs" }, navLink("Sessions", {}, "sessions"), navLink("Runs", { view: "runs" }, "runs")),
    feedState,
    readOnly ? h("span", { class: "ro-badge", id: "read-only-badge", title: "this token can watch but not act or type" }, "read-only") : null,
    h("span", { class: "spacer" }),
    notifyBtn, themeBtn,
    h("button", { class: "primary act", id: "new-session", disabled: readOnly, onclick: () => go({ view: "new" }, { fresh: true }) }, "New session"));
  const main = h("main", { id: "main" }, grid.el, form.el, runs.el);
  app.append(header, main);

  const screens = [grid.el, form.el, runs.el];
  const showOnly = (el: HTMLElement) => {
    for (const s of screens) s.hidden = s !== el;
    if (view) view.el.hidden = view.el !== el;
  };
  const route = (p: Place) => {
    for (const a of header.querySelectorAll<HTMLElement>(".nav")) {
      a.classList.toggle("current", a.dataset.nav === (p.view === "runs" ? "runs" : "sessions"));
    }
    if (p.session) {
      if (!view || view.name !== p.session) {
        view?.dispose();
        view = new SessionView(p.session, store, actions, readOnly);
        main.append(view.el);
      }
      showOnly(view.el);
      view.place(p);
      document.title = `${p.session} · trails`;
      return;
    }
    view?.dispose();
    view = null;
    if (p.view === "runs") {
      showOnly(runs.el);
      void runs.show(p.run);
      document.title = p.run ? `${p.run} · runs · trails` : "runs · trails";
    } else if (p.view === "new") {
      showOnly(form.el);
      form.prepare();
      document.title = "new session · trails";
    } else {
      showOnly(grid.el);
      grid.render();
      document.title = "trails";
    }
  };
  onPlace(route);

  const feed = new EventFeed({
    event: (e) => store.apply(e),
    state: (s, detail) => {
      feedState.dataset.state = s;
      feedState.textContent = s === "live" ? "live" : s === "connecting" ? "connecting" : `offline${detail ? `: ${detail}` : ""}`;
    },
    // (Re)connected: the list as it is now; a resumed feed replays what it missed on top.
    connected: () => void store.reload(),
  });
  feed.start();
  route(readPlace());
}

void main();
