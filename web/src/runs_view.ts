// Runs: the run directories, and one run's sessions as a tree of who continued (forked) from whom, each
// with its status, duration, cost and files changed; a session opens its diff and transcript.
import type { Actions } from "./actions";
import { api } from "./api";
import { clear, h, when } from "./dom";
import { DiffView } from "./diff_view";
import type { RunDetail, RunResult } from "./types";
import { ask, toast, toastError } from "./ui";
import { go } from "./url";

function money(x: number | null | undefined): string {
  return typeof x === "number" ? `$${x.toFixed(4)}` : "—";
}

function secs(x: number | null | undefined): string {
  return typeof x === "number" ? `${x.toFixed(1)}s` : "—";
}

function files(r: RunResult): string[] {
  return (r.files_changed ?? []).map((f) => (typeof f === "string" ? f : f.path));
}

export class RunsView {
  readonly el = h("section", { id: "runs-screen", class: "screen" });

  constructor(private readonly actions: Actions) {}

  async show(run: string | null): Promise<void> {
    clear(this.el);
    if (run) await this.showRun(run);
    else await this.showList();
  }

  private async showList(): Promise<void> {
    const start = h("button", { class: "act", id: "start-run", disabled: this.actions.readOnly(), onclick: async () => {
      const file = await ask("Start a run", { label: "Run file (a path on the machine trails runs on)", yes: "Start" });
      if (!file) return;
      try {
        await api.startRun(file.trim());
        toast(`run started from ${file}`, "ok");
        await this.show(null);
      } catch (exc) {
        toastError("start run", exc);
      }
    } }, "Start a run…");
    this.el.append(h("div", { class: "toolbar" }, h("h2", {}, "Runs"), start));
    try {
      const { runs } = await api.runs();
      if (!runs.length) {
        this.el.append(h("div", { class: "empty" }, "No run directories yet (`trails run FILE` writes them)."));
        return;
      }
      this.el.append(h("table", { class: "plain runs" },
        h("thead", {}, h("tr", {}, ...["run", "status", "done", "failed", "cost", "started", "tags"].map((c) => h("th", {}, c)))),
        h("tbody", {}, ...runs.map((r) => h("tr", { "data-run": r.name },
          h("td", {}, h("a", { href: `?view=runs&run=${encodeURIComponent(r.name)}`,
            onclick: (e: Event) => { e.preventDefault(); go({ view: "runs", run: r.name, session: null }); } }, r.name)),
          h("td", { title: r.resume ?? "" }, r.status ?? "?"), h("td", {}, `${r.done}/${r.planned}`), h("td", {}, String(r.failed)),
          h("td", {}, money(r.cost_usd)), h("td", {}, when(r.started_at)), h("td", {}, r.tags.join(", ")))))));
    } catch (exc) {
      this.el.append(h("div", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
    }
  }

  private async showRun(id: string): Promise<void> {
    const back = h("a", { class: "back", href: "?view=runs", onclick: (e: Event) => { e.preventDefault(); go({ view: "runs", run: null }); } }, "← Runs");
    let detail: RunDetail;
    try {
      detail = await api.run(id);
    } catch (exc) {
      this.el.append(back, h("div", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
      return;
    }
    const run = detail.summary;
    const totals = (run.totals ?? {}) as Record<string, number>;
    const cancel = h("button", { class: "act danger", disabled: this.actions.readOnly() || run.status !== "running", onclick: async () => {
      try {
        await api.cancelRun(id);
        toast(`cancelling ${id}`, "ok");
      } catch (exc) {
        toastError(`cancel ${id}`, exc);
      }
    } }, "Cancel run");
    const pane = h("div", { class: "run-session" }, h("div", { class: "hint" }, "Pick a session to see its diff and transcript."));
    // The tree: a session continued from another (`resumed_from`) hangs under it.
    const results = detail.results;
    const children = new Map<string | null, string[]>();
    for (const [label, r] of Object.entries(results)) {
      const parent = r.resumed_from && results[r.resumed_from] ? r.resumed_from : null;
      children.set(parent, [...(children.get(parent) ?? []), label]);
    }
    const node = (label: string): HTMLElement => {
      const r = results[label];
      return h("li", { "data-label": label },
        h("a", { href: "#", class: `run-node status-${r.status ?? "unknown"}`, onclick: (e: Event) => { e.preventDefault(); void this.showSession(pane, id, label, r); } },
          h("b", {}, label), ` ${r.status ?? "?"} · ${secs(r.duration_s)} · ${money(r.cost_usd)} · ${files(r).length} files${r.forked ? " · fork" : ""}`),
        (children.get(label) ?? []).length ? h("ul", {}, ...children.get(label)!.sort().map(node)) : null);
    };
    this.el.append(back,
      h("div", { class: "toolbar" }, h("h2", {}, id), h("span", { class: "status-pill" }, String(run.status ?? "?")), cancel),
      h("p", { class: "hint" }, `${totals.ok ?? 0}/${totals.planned ?? 0} ok, ${totals.failed ?? 0} failed, ${secs(totals.duration_s)}, ${money(totals.cost_usd)}`
        + (run.hypothesis ? ` — ${String(run.hypothesis)}` : "")),
      h("div", { class: "run-layout" }, h("ul", { class: "run-tree" }, ...(children.get(null) ?? []).sort().map(node)), pane));
  }

  private async showSession(pane: HTMLElement, id: string, label: string, r: RunResult): Promise<void> {
    clear(pane);
    pane.append(h("div", { class: "hint" }, `loading ${label}…`));
    try {
      const d = await api.runSession(id, label);
      const res = { ...r, ...d.result };
      clear(pane);
      const diff = new DiffView(label, true, async () => ({ diff: d.diff ?? "", label: `in ${label}` }));
      pane.append(h("h3", {}, label),
        h("p", {}, `${res.status ?? "?"} · ${secs(res.duration_s)} · ${money(res.cost_usd)} · ${res.turns ?? "?"} turns`
          + (res.resumed_from ? ` · continues ${res.resumed_from}` : "") + (res.error ? ` · ${res.error}` : "")),
        h("h4", {}, "Files changed"), h("ul", {}, ...files(res).map((f) => h("li", {}, h("code", {}, f)))),
        h("h4", {}, "Diff"), diff.el, h("h4", {}, "Transcript"), this.transcript(d.transcript));
      void diff.load();
    } catch (exc) {
      clear(pane);
      pane.append(h("div", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
    }
  }

  /** transcript.jsonl: one JSON object a line (user and assistant messages); anything else as text. */
  private transcript(text: string | null): HTMLElement {
    if (!text) return h("p", { class: "hint" }, "no transcript");
    const entries = text.split("\n").filter((l) => l.trim()).map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return null;
      }
    });
    if (entries.some((e) => e === null)) return h("pre", { class: "transcript" }, text);
    return h("ol", { class: "transcript" }, ...entries.map((e) => {
      const msg = (e!.message ?? e) as Record<string, unknown>;
      const role = String(msg.role ?? e!.type ?? "?");
      const content = msg.content;
      const body = typeof content === "string" ? content
        : Array.isArray(content) ? content.map((c) => (c as { text?: string }).text ?? JSON.stringify(c)).join("\n")
          : JSON.stringify(msg);
      return h("li", { class: `step step-${role}` }, h("b", {}, role), " ", body);
    }));
  }
}
