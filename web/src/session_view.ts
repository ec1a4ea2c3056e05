// One session: its header and controls, a send line, and the tabs Terminal / Diff / Files / Details.
// The tab, the worktree and the open file are in the URL; the terminal lives as long as the view.
import type { Actions } from "./actions";
import { api, sessionWs } from "./api";
import { DetailsView } from "./details";
import { DiffView } from "./diff_view";
import { age, append, clear, h, shortAgent } from "./dom";
import { FilesView } from "./files_view";
import type { SessionStore } from "./store";
import { addressed, needsAttention } from "./store";
import { TerminalPane } from "./terminal";
import type { SessionInfo } from "./types";
import { LIVE } from "./types";
import type { Place, SessionTab } from "./url";
import { go, placeUrl, SESSION_TABS } from "./url";

const TAB_LABEL: Record<SessionTab, string> = { terminal: "Terminal", diff: "Diff", files: "Files", details: "Details" };

export class SessionView {
  readonly el: HTMLElement;
  private readonly head: HTMLElement;
  private readonly panels = new Map<SessionTab, HTMLElement>();
  private readonly tabs = new Map<SessionTab, HTMLElement>();
  private tab: SessionTab = "terminal";
  private agentTerm: TerminalPane | null = null;
  private shellTerm: TerminalPane | null = null;
  private termKind: "agent" | "shell" = "agent";
  private diff: DiffView | null = null;
  private files: FilesView | null = null;
  private details: DetailsView | null = null;
  private session: SessionInfo | null = null;
  private disposed = false;
  private readonly unsubscribe: () => void;

  constructor(readonly name: string, private readonly store: SessionStore, private readonly actions: Actions,
              private readonly readOnly: boolean) {
    this.head = h("div", { class: "session-head" });
    const tablist = h("nav", { class: "tabs", role: "tablist" });
    const panelBox = h("div", { class: "tab-panels" });
    for (const t of SESSION_TABS) {
      const tab = h("a", { role: "tab", class: "tab", "data-tab": t, href: placeUrl({ session: name, view: t, worktree: null, file: null, run: null }),
        onclick: (e: Event) => { e.preventDefault(); go({ view: t }); } }, TAB_LABEL[t]);
      this.tabs.set(t, tab);
      tablist.append(tab);
      const panel = h("div", { class: "tab-panel", role: "tabpanel", "data-panel": t, hidden: true });
      this.panels.set(t, panel);
      panelBox.append(panel);
    }
    const input = h("input", { type: "text", id: "send-text", class: "act", placeholder: readOnly ? "read-only" : `message to ${name} (Enter sends)`,
      "aria-label": "message to the agent", disabled: readOnly, autocomplete: "off" });
    const send = () => {
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      void actions.send([name], text);
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        send();
      }
    });
    const sendLine = h("div", { class: "send-line" }, input,
      h("button", { class: "primary act", id: "send-button", disabled: readOnly, onclick: send }, "Send"));
    this.el = h("section", { id: "session-screen", class: "screen", "data-session": name }, this.head, sendLine, tablist, panelBox);
    this.unsubscribe = store.subscribe((change) => {
      if (this.disposed) return;
      if (change.kind === "list" || (change.kind === "session" && change.name === name)) {
        const s = store.all.get(name);
        if (s) this.update(s);
        else if (change.kind === "list" && this.session && store.loaded) this.ended();
      }
    });
    void this.init();
  }

  private async init(): Promise<void> {
    const known = this.store.all.get(this.name);
    if (known) {
      this.update(known);
      return;
    }
    try {
      this.update(addressed((await api.session(this.name)).session, this.name));
    } catch (exc) {
      clear(this.head);
      this.head.append(h("a", { class: "back", href: placeUrl({ session: null, view: "sessions", worktree: null, file: null, run: null }),
        onclick: (e: Event) => { e.preventDefault(); go({}, { fresh: true }); } }, "← Sessions"),
      h("div", { class: "error-box", id: "session-error" }, exc instanceof Error ? exc.message : String(exc)));
    }
  }

  private update(s: SessionInfo): void {
    const first = this.session === null;
    const statusChanged = !first && this.session!.status !== s.status;
    this.session = s;
    this.renderHead(s);
    if (first) this.showTab(this.tab, true);
    if (statusChanged && this.tab === "diff" && ["ready", "waiting", "completed", "paused"].includes(s.status)) this.diff?.refreshQuietly();
    if (statusChanged && this.tab === "details") void this.details?.load();
  }

  private renderHead(s: SessionInfo): void {
    clear(this.head);
    const attention = needsAttention(s);
    const ro = this.readOnly;
    const btn = (label: string, act: string, fn: () => void, cls = "") =>
      h("button", { class: `act ${cls}`, "data-act": act, disabled: ro, onclick: fn }, label);
    const autoYes = h("input", { type: "checkbox", class: "switch", "data-act": "auto-yes", checked: s.auto_yes, disabled: ro,
      onchange: () => void this.actions.autoYes(s, autoYes.checked) });
    append(this.head, [
      h("div", { class: "title-line" },
        h("a", { class: "back", href: placeUrl({ session: null, view: "sessions", worktree: null, file: null, run: null }),
          onclick: (e: Event) => { e.preventDefault(); go({}, { fresh: true }); } }, "← Sessions"),
        h("h1", { class: "session-name" }, s.name),
        h("span", { class: `status-pill status-${s.status}`, id: "session-status" },
          attention ? h("span", { class: "mark", title: "needs you" }, "● ") : null, s.status),
        h("span", { class: "meta" }, h("span", { class: "agent", title: s.agent }, shortAgent(s.agent)), h("span", { class: `mode mode-${s.mode}` }, s.mode),
          s.branch ? h("span", { class: "branch" }, s.branch) : null, h("span", { class: "age" }, age(s.created_at)))),
      s.status_reason && (attention || s.status === "paused") ? h("div", { class: "reason" }, s.status_reason) : null,
      h("div", { class: "controls" },
        LIVE.has(s.status) ? btn("Pause", "pause", () => void this.actions.pause([s.name]))
          : btn("Resume", "resume", () => void this.actions.resume([s.name])),
        h("label", { class: "check switch-label", title: "answer permission prompts automatically, within the guards" }, autoYes, "auto-yes"),
        btn("Upgrade…", "upgrade", () => void this.actions.upgrade(s)),
        btn("Export…", "export", () => void this.actions.export(s)),
        btn("Merge…", "merge", () => void this.actions.merge(s), s.branch ? "" : "hidden"),
        btn("Kill…", "kill", async () => {
          const killed = await this.actions.kill([s.name]);
          if (killed.includes(s.name)) go({}, { fresh: true });
        }, "danger")),
    ]);
  }

  /** The URL changed while this view is open. */
  place(p: Place): void {
    const tab = (SESSION_TABS.includes(p.view as SessionTab) ? p.view : "terminal") as SessionTab;
    if (tab === "files" && this.files && !this.files.show(p.worktree, p.file)) {
      this.files.el.remove();
      this.files = null;
    }
    this.showTab(tab, false, p);
  }

  private showTab(tab: SessionTab, initial: boolean, p?: Place): void {
    this.tab = tab;
    for (const [t, el] of this.tabs) {
      el.setAttribute("aria-selected", String(t === tab));
      el.classList.toggle("current", t === tab);
    }
    for (const [t, el] of this.panels) el.hidden = t !== tab;
    if (!this.session) return;
    const panel = this.panels.get(tab)!;
    const s = this.session;
    if (tab === "terminal") {
      if (!this.agentTerm) this.buildTerminal(panel, s);
      requestAnimationFrame(() => this.currentTerm()?.refit());
      if (!initial || !this.readOnly) this.currentTerm()?.focus();
    } else if (tab === "diff") {
      if (!this.diff) {
        this.diff = new DiffView(s.name, this.readOnly);
        panel.append(this.diff.el);
      }
      void this.diff.load();
    } else if (tab === "files") {
      if (!this.files) {
        const where = p ?? null;
        const q = new URLSearchParams(location.search);
        this.files = new FilesView(s, where?.worktree ?? q.get("worktree"), where?.file ?? q.get("file"));
        panel.append(this.files.el);
      }
    } else if (tab === "details") {
      if (!this.details) {
        this.details = new DetailsView(s.name);
        panel.append(this.details.el);
      }
      void this.details.load();
    }
  }

  private currentTerm(): TerminalPane | null {
    return this.termKind === "agent" ? this.agentTerm : this.shellTerm;
  }

  private buildTerminal(panel: HTMLElement, s: SessionInfo): void {
    const box = h("div", { class: "term-box" });
    const pick = (kind: "agent" | "shell") => {
      this.termKind = kind;
      for (const b of switcher.querySelectorAll<HTMLElement>("button")) b.setAttribute("aria-pressed", String(b.dataset.kind === kind));
      if (kind === "shell" && !this.shellTerm) {
        this.shellTerm = new TerminalPane((c, r) => sessionWs(s.name, "shell", c, r), this.readOnly, "shell");
        box.append(this.shellTerm.el);
      }
      this.agentTerm!.el.hidden = kind !== "agent";
      if (this.shellTerm) this.shellTerm.el.hidden = kind !== "shell";
      requestAnimationFrame(() => {
        this.currentTerm()?.refit();
        this.currentTerm()?.focus();
      });
    };
    const switcher = h("span", { class: "layout-toggle term-switch", role: "group", "aria-label": "terminal" },
      h("button", { class: "layout-btn", "data-kind": "agent", "aria-pressed": "true", onclick: () => pick("agent") }, "Agent"),
      // A remote session's worktree is its host's: a shell there is a login on it, not served from here.
      h("button", { class: "layout-btn", "data-kind": "shell", "aria-pressed": "false", hidden: this.readOnly,
        disabled: !!s.host,
        title: s.host ? `the worktree is on ${s.host}: a shell there is not served from here (ssh to ${s.host})`
          : "a plain shell in the session's worktree",
        onclick: () => pick("shell") }, "Shell in worktree"));
    this.agentTerm = new TerminalPane((c, r) => sessionWs(s.name, "terminal", c, r), this.readOnly, "agent");
    box.append(this.agentTerm.el);
    panel.append(h("div", { class: "term-tools" }, switcher), box);
  }

  /** The session left the list (killed elsewhere): say so; the terminal's socket closes by itself. */
  private ended(): void {
    if (this.head.querySelector(".ended-note")) return;
    this.head.append(h("div", { class: "reason ended-note" }, "This session has ended (it is no longer in the list)."));
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe();
    this.agentTerm?.dispose();
    this.shellTerm?.dispose();
    this.el.remove();
  }
}
