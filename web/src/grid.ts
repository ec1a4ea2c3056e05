// The sessions screen: cards in a grid or rows in a compact list (one element, two layouts), a filter /
// sort toolbar, and the batch bar for the selection. A status event repaints its one card in place.
import type { Actions } from "./actions";
import { age, clear, h, perFrame, shortAgent } from "./dom";
import type { SessionStore, SortKey, StatusFilter } from "./store";
import { needsAttention, shownName } from "./store";
import type { Mode, SessionInfo } from "./types";
import { FROZEN, LIVE, MODES } from "./types";
import { go, placeUrl } from "./url";

type Layout = "grid" | "list";

const STATUS_FILTERS: [StatusFilter, string][] = [
  ["all", "all statuses"], ["attention", "needs attention"], ["live", "live"], ["paused", "paused"],
];
const SORTS: [SortKey, string][] = [["name", "name"], ["status", "status (needs you first)"], ["age", "age (newest)"], ["mode", "mode"]];

export class SessionsScreen {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly batch: HTMLElement;
  private readonly count: HTMLElement;
  private readonly selectAll: HTMLInputElement;
  private readonly cards = new Map<string, HTMLElement>();
  private layout: Layout;
  private readonly renderSoon = perFrame(() => this.render());

  constructor(private readonly store: SessionStore, private readonly actions: Actions) {
    this.layout = (localStorage.getItem("trails.layout") as Layout | null) ?? "grid";
    const text = h("input", {
      type: "search", id: "filter-text", placeholder: "filter: name, agent, branch, status", "aria-label": "filter",
      oninput: () => { store.filter.text = text.value; this.render(); },
    });
    const status = h("select", {
      id: "filter-status", "aria-label": "status filter",
      onchange: () => { store.filter.status = status.value as StatusFilter; this.render(); },
    }, ...STATUS_FILTERS.map(([v, l]) => h("option", { value: v }, l)));
    const mode = h("select", {
      id: "filter-mode", "aria-label": "mode filter",
      onchange: () => { store.filter.mode = mode.value as Mode | "all"; this.render(); },
    }, h("option", { value: "all" }, "all modes"), ...MODES.map((m) => h("option", { value: m }, m)));
    const sort = h("select", {
      id: "sort", "aria-label": "sort",
      onchange: () => { store.sort = sort.value as SortKey; this.render(); },
    }, ...SORTS.map(([v, l]) => h("option", { value: v }, `sort: ${l}`)));
    const layoutBtn = (l: Layout, label: string) => h("button", {
      class: "layout-btn", "data-layout": l, "aria-pressed": String(this.layout === l), title: `${label} view`,
      onclick: () => this.setLayout(l),
    }, label);
    this.selectAll = h("input", {
      type: "checkbox", id: "select-all", "aria-label": "select all shown",
      onchange: () => store.selectOnly(this.selectAll.checked ? store.visible().map((s) => s.name) : []),
    });
    this.count = h("span", { class: "count" });
    const act = (label: string, id: string, fn: () => void, danger = false) =>
      h("button", { id, class: `act${danger ? " danger" : ""}`, onclick: fn }, label);
    this.batch = h("div", { class: "batch", id: "batch" },
      h("label", { class: "check" }, this.selectAll, h("span", { class: "batch-label" }, "select all")),
      act("Pause", "batch-pause", () => void actions.pause(store.targets().filter((n) => LIVE.has(store.all.get(n)!.status)))),
      act("Resume", "batch-resume", () => void actions.resume(store.targets().filter((n) => !LIVE.has(store.all.get(n)!.status)))),
      act("Send…", "batch-send", () => void actions.send(store.targets())),
      act("Kill…", "batch-kill", () => void actions.kill(store.targets().filter((n) => store.selected.has(n))), true),
      this.count);
    this.list = h("div", { id: "cards", class: `cards layout-${this.layout}`, role: "list" });
    this.empty = h("div", { class: "empty", id: "no-sessions" });
    this.el = h("section", { id: "sessions-screen", class: "screen" },
      h("div", { class: "toolbar" }, text, status, mode, sort,
        h("span", { class: "layout-toggle", role: "group", "aria-label": "layout" }, layoutBtn("grid", "Grid"), layoutBtn("list", "List"))),
      this.batch, this.list, this.empty);
    store.subscribe((change) => {
      if (change.kind === "session") this.updateCard(change.name);
      else this.renderSoon();
    });
    // Ages count up on their own: recomputed locally, nothing asked of the server.
    window.setInterval(() => {
      for (const [name, card] of this.cards) {
        const s = store.all.get(name);
        const el = card.querySelector(".age");
        if (s && el) el.textContent = age(s.created_at);
      }
    }, 15000);
  }

  private setLayout(l: Layout): void {
    this.layout = l;
    localStorage.setItem("trails.layout", l);
    this.list.className = `cards layout-${l}`;
    for (const b of this.el.querySelectorAll<HTMLElement>(".layout-btn")) b.setAttribute("aria-pressed", String(b.dataset.layout === l));
  }

  render(): void {
    const rows = this.store.visible();
    const keep = new Set(rows.map((s) => s.name));
    for (const [name, card] of this.cards) {
      if (!keep.has(name)) {
        card.remove();
        this.cards.delete(name);
      }
    }
    let prev: Element | null = null;
    for (const s of rows) {
      let card = this.cards.get(s.name);
      if (!card) {
        card = this.makeCard(s.name);
        this.cards.set(s.name, card);
      }
      this.fill(card, s);
      const want: Element | null = prev ? prev.nextElementSibling : this.list.firstElementChild;
      if (want !== card) this.list.insertBefore(card, want);
      prev = card;
    }
    const total = this.store.all.size;
    this.empty.textContent = this.store.loadError
      ? `Could not load sessions: ${this.store.loadError}`
      : !this.store.loaded ? "Loading sessions…"
        : total === 0 ? "No sessions yet. Start one with “New session”, or `trails new NAME AGENT` in a repository."
          : rows.length === 0 ? "No session matches the filter." : "";
    this.empty.hidden = !this.empty.textContent;
    this.updateBatch();
  }

  private updateBatch(): void {
    const shown = this.store.visible().map((s) => s.name);
    const picked = shown.filter((n) => this.store.selected.has(n)).length;
    this.selectAll.checked = picked > 0 && picked === shown.length;
    this.selectAll.indeterminate = picked > 0 && picked < shown.length;
    const scope = picked ? `${picked} selected` : "all shown";
    this.count.textContent = `${shown.length} shown${picked ? ` · ${picked} selected` : ""}`;
    (this.batch.querySelector("#batch-pause") as HTMLButtonElement).textContent = `Pause ${scope}`;
    (this.batch.querySelector("#batch-resume") as HTMLButtonElement).textContent = `Resume ${scope}`;
    (this.batch.querySelector("#batch-send") as HTMLButtonElement).textContent = `Send to ${scope}…`;
    const kill = this.batch.querySelector("#batch-kill") as HTMLButtonElement;
    kill.textContent = picked ? `Kill ${picked} selected…` : "Kill selected…";
    kill.disabled = picked === 0 || this.actions.readOnly();
    for (const [name, card] of this.cards) {
      const box = card.querySelector<HTMLInputElement>("input.select");
      if (box) box.checked = this.store.selected.has(name);
      card.classList.toggle("selected", this.store.selected.has(name));
    }
  }

  private updateCard(name: string): void {
    const card = this.cards.get(name);
    const s = this.store.all.get(name);
    if (!card || !s) {
      this.renderSoon();
      return;
    }
    this.fill(card, s);
    if (this.store.sort === "status" || this.store.filter.status !== "all") this.renderSoon(); // may move or leave
  }

  private makeCard(name: string): HTMLElement {
    const open = (e: Event) => {
      e.preventDefault();
      go({ session: name, view: "terminal", worktree: null, file: null, run: null });
    };
    const card = h("article", { class: "card", "data-session": name, role: "listitem" },
      h("div", { class: "card-head" },
        h("input", { type: "checkbox", class: "select", "aria-label": `select ${name}`,
          onchange: (e: Event) => this.store.toggleSelected(name, (e.target as HTMLInputElement).checked) }),
        h("a", { class: "name", href: placeUrl({ session: name, view: "terminal", worktree: null, file: null, run: null }), onclick: open }, name),
        h("span", { class: "host", hidden: true }),
        h("span", { class: "status-pill" })),
      h("div", { class: "meta" }, h("span", { class: "agent" }), h("span", { class: "mode" }), h("span", { class: "branch" }),
        h("span", { class: "coordinator", title: "a coordinator: its agent runs worker sessions" }, "coordinator"),
        h("span", { class: "frozen", title: FROZEN }, "frozen"),
        h("span", { class: "parent" })),
      h("div", { class: "reason" }),
      h("div", { class: "card-foot" },
        h("span", { class: "stats" }), h("span", { class: "age" }), h("span", { class: "auto-yes" }),
        h("span", { class: "card-actions" },
          h("button", { class: "act small", "data-act": "send", title: "send a message",
            onclick: () => void this.actions.send([name]) }, "Send"),
          h("button", { class: "act small", "data-act": "pause-resume", onclick: () => {
            const s = this.store.all.get(name);
            if (s) void (LIVE.has(s.status) ? this.actions.pause([name]) : this.actions.resume([name]));
          } }, "Pause"),
          h("button", { class: "act small danger", "data-act": "kill", title: "kill (asks first)",
            onclick: () => void this.actions.kill([name]) }, "Kill"))));
    card.addEventListener("click", (e) => {
      const t = e.target as HTMLElement;
      if (t.closest("button, input, a, label")) return;
      open(e);
    });
    return card;
  }

  private fill(card: HTMLElement, s: SessionInfo): void {
    const attention = needsAttention(s);
    const away = !!s.host && this.store.hostDown.has(s.host);
    card.dataset.status = s.status;
    card.classList.toggle("attention", attention);
    card.classList.toggle("unreachable", away); // greyed: what its host last said, until it is back
    card.querySelector(".name")!.textContent = shownName(s);
    const host = card.querySelector(".host") as HTMLElement;
    host.textContent = s.host ? `@${s.host}` : "";
    host.title = away ? `${s.host} cannot be reached now` : s.host ?? "";
    host.hidden = !s.host;
    const pill = card.querySelector(".status-pill")!;
    clear(pill);
    pill.className = `status-pill status-${s.status}`;
    if (attention) pill.append(h("span", { class: "mark", title: "needs you" }, "●"), " ");
    pill.append(s.extra?.needs_user === true && s.status === "waiting" ? "waiting (auto-yes refused)" : s.status);
    // The agent's own hooks said so, not its screen (as the dashboard's ·hook; Details names either).
    if (s.status_source === "hook") pill.append(h("span", { class: "source", title: "set by the agent's hooks" }, " ·hook"));
    if (away) pill.append(" · unreachable");
    const agent = card.querySelector(".agent") as HTMLElement;
    agent.textContent = shortAgent(s.agent);
    agent.title = s.agent;
    const mode = card.querySelector(".mode")!;
    mode.textContent = s.mode;
    mode.className = `mode mode-${s.mode}`;
    const branch = card.querySelector(".branch") as HTMLElement;
    branch.textContent = s.branch ?? "";
    branch.hidden = !s.branch;
    const depth = this.store.depths.get(s.name) ?? 0;
    card.classList.toggle("worker", depth > 0);
    card.style.setProperty("--depth", String(depth));
    (card.querySelector(".coordinator") as HTMLElement).hidden = !s.coordinator;
    (card.querySelector(".frozen") as HTMLElement).hidden = !s.extra?.frozen;
    const parent = card.querySelector(".parent") as HTMLElement;
    parent.textContent = s.parent ? `worker of ${s.parent}` : "";
    parent.hidden = !s.parent;
    const reason = card.querySelector(".reason") as HTMLElement;
    reason.textContent = attention || s.status === "paused" ? (s.status_reason ?? "") : "";
    reason.hidden = !reason.textContent;
    const st = this.store.stats.get(s.name);
    const stats = card.querySelector(".stats")!;
    clear(stats);
    if (st) stats.append(h("span", { class: "ins" }, `+${st.insertions}`), " ", h("span", { class: "del" }, `−${st.deletions}`), ` · ${st.files} file${st.files === 1 ? "" : "s"}`);
    card.querySelector(".age")!.textContent = age(s.created_at);
    const ay = card.querySelector(".auto-yes") as HTMLElement;
    ay.textContent = s.auto_yes ? "auto-yes" : "";
    ay.hidden = !s.auto_yes;
    const pr = card.querySelector<HTMLButtonElement>('[data-act="pause-resume"]')!;
    pr.textContent = LIVE.has(s.status) ? "Pause" : "Resume";
    for (const b of card.querySelectorAll<HTMLButtonElement>("button.act")) b.disabled = this.actions.readOnly();
  }
}
