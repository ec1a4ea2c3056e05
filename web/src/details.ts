// The Details tab: what `trails show` says — worktree, container, limits, conversation id, saved refs
// and the session's audit entries.
import { api } from "./api";
import { clear, h, when } from "./dom";
import type { ShowResult } from "./types";
import { FROZEN } from "./types";

function kv(rows: [string, string | Node | null | undefined][]): HTMLElement {
  return h("dl", { class: "kv" }, ...rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v as string | Node)]));
}

// What set the status (as `trails show`'s status_source and the dashboard's Details tab say it).
const SOURCES: Record<string, string> = { hook: "the agent's hooks", screen: "its screen" };

function json(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/\n\s*/g, " ");
}

export class DetailsView {
  readonly el = h("div", { class: "details-view" });

  constructor(private readonly name: string) {}

  async load(): Promise<void> {
    let shown: ShowResult;
    try {
      shown = await api.session(this.name);
    } catch (exc) {
      clear(this.el);
      this.el.append(h("div", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
      return;
    }
    const s = shown.session;
    clear(this.el);
    const limits = Object.keys(s.limits ?? {}).length ? json(s.limits) : null;
    const env = Object.keys(s.env ?? {}).length ? Object.keys(s.env).join(", ") : null;
    this.el.append(
      h("section", {}, h("h3", {}, "Session"), kv([
        ["name", s.name], ["agent", s.agent], ["command", h("code", {}, s.command.join(" "))], ["mode", s.mode],
        ["status", s.status + (s.status_reason ? ` — ${s.status_reason}` : "")],
        ["status source", SOURCES[s.status_source ?? ""] ?? "trails"], ["frozen", s.extra?.frozen ? FROZEN : null],
        ["auto-yes", s.auto_yes ? "on" : "off"],
        ["created", when(s.created_at)], ["updated", when(s.updated_at)], ["ended", s.ended_at ? when(s.ended_at) : null],
      ])),
      h("section", {}, h("h3", {}, "Where"), kv([
        ["work directory", h("code", {}, s.workdir)], ["worktree", s.worktree_path ? h("code", {}, s.worktree_path) : null],
        ["repository", s.repo_root ? h("code", {}, s.repo_root) : null], ["branch", s.branch],
        ["base commit", s.base_commit ? h("code", {}, s.base_commit) : null], ["tmux session", h("code", {}, s.tmux_session)],
        ["container", s.container_id ? h("code", {}, s.container_id.slice(0, 12)) : null], ["limits", limits],
        ["conversation id", s.conversation_id ? h("code", {}, s.conversation_id) : null], ["environment", env],
        ["disk", shown.disk ? `${shown.disk.mb.toFixed(1)} MB${shown.disk.warning ? ` — ${shown.disk.warning}` : ""}` : null],
      ])),
      h("section", {}, h("h3", {}, `Saved work (${shown.checkpoints.length})`),
        shown.checkpoints.length
          ? h("table", { class: "plain" }, h("thead", {}, h("tr", {}, h("th", {}, "when"), h("th", {}, "kind"), h("th", {}, "ref"), h("th", {}, "note"))),
            h("tbody", {}, ...shown.checkpoints.map((c) => h("tr", {}, h("td", {}, when(c.created_at)), h("td", {}, c.kind),
              h("td", {}, h("code", {}, c.ref)), h("td", {}, c.note)))))
          : h("p", { class: "hint" }, "nothing saved yet")),
      h("section", {}, h("h3", {}, `Audit (${shown.audit.length})`),
        h("table", { class: "plain audit" }, h("tbody", {}, ...shown.audit.slice(-200).reverse().map((a) => h("tr", {},
          h("td", {}, when(a.ts)), h("td", {}, a.action), h("td", { class: "detail" }, json(a.detail))))))),
    );
  }
}
