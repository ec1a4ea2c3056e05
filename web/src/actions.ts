// The controls, shared by the cards, the batch bar and the session view. Each goes through the API (the
// same engine operations as the CLI); a refusal shows as a toast and changes nothing.
import { api, ApiError } from "./api";
import { h } from "./dom";
import type { SessionStore } from "./store";
import type { Mode, SessionInfo } from "./types";
import { MODES } from "./types";
import { ask, choose, confirm, errorText, toast, toastError } from "./ui";

const RANK: Record<Mode, number> = { direct: 0, worktree: 1, container: 2 };

function who(names: string[]): string {
  return names.length === 1 ? names[0] : `${names.length} sessions (${names.join(", ")})`;
}

export class Actions {
  constructor(private readonly store: SessionStore, readonly readOnly: () => boolean) {}

  private guard(): boolean {
    if (this.readOnly()) {
      toast("This page has a read-only token: it can watch but not act.", "error");
      return false;
    }
    return true;
  }

  /** Run `op` on each session one after another; report the failures, refresh the rows. */
  private async each(verb: string, names: string[], op: (name: string) => Promise<unknown>): Promise<string[]> {
    const done: string[] = [];
    for (const name of names) {
      try {
        await op(name);
        done.push(name);
      } catch (exc) {
        toastError(`${verb} ${name}`, exc);
      }
      void this.store.refresh(name);
    }
    if (done.length) toast(`${verb}: ${done.join(", ")}`, "ok");
    return done;
  }

  async send(names: string[], preset?: string): Promise<void> {
    if (!names.length || !this.guard()) return;
    const text = preset ?? await ask(`Send to ${who(names)}`, { label: "Message", yes: "Send", multiline: true, id: "send-dialog" });
    if (!text) return;
    await this.each("sent to", names, (n) => api.send(n, text));
  }

  async pause(names: string[]): Promise<void> {
    if (!names.length || !this.guard()) return;
    await this.each("paused", names, (n) => api.pause(n));
  }

  async resume(names: string[]): Promise<void> {
    if (!names.length || !this.guard()) return;
    await this.each("resumed", names, (n) => api.resume(n));
  }

  async autoYes(session: SessionInfo, on: boolean): Promise<void> {
    if (!this.guard()) return;
    try {
      const r = await api.autoYes(session.name, on);
      toast(`auto-yes ${r.auto_yes ? "on" : "off"} for ${session.name}`, "ok");
    } catch (exc) {
      toastError(`auto-yes ${session.name}`, exc);
    }
    await this.store.refresh(session.name);
  }

  /** Kill: one confirmation; sessions holding uncommitted work ask again before `force`, saying where it goes. */
  async kill(names: string[]): Promise<string[]> {
    if (!names.length || !this.guard()) return [];
    const deleteBranch = h("input", { type: "checkbox", name: "delete_branch" });
    const ok = await confirm({
      title: `Kill ${who(names)}?`, yes: "Kill", danger: true, id: "kill-dialog",
      body: [
        "The agent stops. A worktree is removed only if it holds no uncommitted work; the branch is kept.",
        h("label", { class: "check" }, deleteBranch, " also delete the branch (refused if it has unmerged commits)"),
      ],
    });
    if (!ok) return [];
    const killed: string[] = [];
    const blocked: string[] = [];
    for (const name of names) {
      try {
        await api.kill(name, false, deleteBranch.checked);
        killed.push(name);
      } catch (exc) {
        if (exc instanceof ApiError && exc.code === "uncommitted_work") blocked.push(name);
        else toastError(`kill ${name}`, exc);
      }
    }
    if (blocked.length) {
      const where = blocked.map((n) => {
        const s = this.store.all.get(n);
        const repo = s?.repo_root ?? s?.workdir ?? "its repository";
        return h("li", {}, h("b", {}, n), `: its staged, unstaged and untracked files (${s?.worktree_path ?? s?.workdir ?? "the worktree"}) `
          + `are committed to refs/trails/saved/${n}/<time> in ${repo}, then the worktree is removed.`);
      });
      const force = await confirm({
        title: `${blocked.join(", ")}: uncommitted work`, yes: "Save and kill (force)", danger: true, id: "force-dialog",
        body: [
          "Kill anyway? Nothing is deleted:",
          h("ul", {}, ...where),
          "Restore with: git checkout refs/trails/saved/NAME/<time> -- .",
        ],
      });
      if (force) {
        for (const name of blocked) {
          try {
            const r = await api.kill(name, true, deleteBranch.checked);
            killed.push(name);
            if (r.saved_refs.length) toast(`${name}: work saved to ${r.saved_refs.join(", ")}`, "ok");
          } catch (exc) {
            toastError(`kill --force ${name}`, exc);
          }
        }
      }
    }
    if (killed.length) toast(`killed: ${killed.join(", ")}`, "ok");
    for (const n of killed) this.store.selected.delete(n);
    await this.store.reload();
    return killed;
  }

  async upgrade(session: SessionInfo): Promise<void> {
    if (!this.guard()) return;
    const options = MODES.filter((m) => RANK[m] > RANK[session.mode]).map((m) => ({ value: m, label: m }));
    if (!options.length) {
      toast(`${session.name} is already in the most isolated mode (${session.mode})`, "error");
      return;
    }
    const to = await choose(`Upgrade ${session.name} from ${session.mode} to…`, options,
      ["The agent restarts in the new mode and continues its conversation where it can; its work moves with it."]);
    if (!to) return;
    toast(`upgrading ${session.name} to ${to}…`);
    try {
      const r = await api.upgrade(session.name, to);
      toast(`${session.name} is now in ${r.session.mode} mode`, "ok", r.notes.join("\n") || undefined);
    } catch (exc) {
      toastError(`upgrade ${session.name}`, exc);
    }
    await this.store.refresh(session.name);
  }

  async export(session: SessionInfo): Promise<void> {
    if (!this.guard()) return;
    const options = MODES.filter((m) => RANK[m] < RANK[session.mode]).map((m) => ({ value: m, label: m }));
    if (!options.length) {
      toast(`${session.name} is in direct mode: there is nothing less isolated`, "error");
      return;
    }
    const to = await choose(`Export ${session.name} from ${session.mode} to…`, options);
    if (!to) return;
    const ok = await confirm({
      title: `Downgrade ${session.name} to ${to}?`, yes: "Downgrade (force)", danger: true,
      body: [`It loses the isolation of ${session.mode} mode. Its work is kept.`],
    });
    if (!ok) return;
    try {
      const r = await api.export(session.name, to, true);
      toast(`${session.name} is now in ${r.session.mode} mode`, "ok", r.notes.join("\n") || undefined);
    } catch (exc) {
      toastError(`export ${session.name}`, exc);
    }
    await this.store.refresh(session.name);
  }

  /** Merge into the main checkout's branch; a conflict is aborted by the server and its files listed here. */
  async merge(session: SessionInfo): Promise<void> {
    if (!this.guard()) return;
    if (!session.branch) {
      toast(`${session.name} has no branch of its own: nothing to merge`, "error");
      return;
    }
    const strategy = h("select", { name: "strategy", "aria-label": "strategy" },
      h("option", { value: "" }, "the merge_strategy setting (--no-ff by default)"),
      ...["no-ff", "squash", "rebase"].map((s) => h("option", { value: s }, s)));
    const message = h("input", { type: "text", name: "message", placeholder: "merge commit message (optional)" });
    const ok = await confirm({
      title: `Merge ${session.branch} into the main checkout?`, yes: "Merge", id: "merge-dialog",
      body: [
        "Refused on a dirty main checkout; a conflict is aborted and its files listed. Nothing is forced.",
        h("label", { class: "field" }, "strategy", strategy),
        h("label", { class: "field" }, "message", message),
      ],
    });
    if (!ok) return;
    try {
      const r = await api.merge(session.name, strategy.value || null, message.value.trim() || null);
      toast(r.commit ? `merged ${r.branch} into ${r.into} (${r.commit.slice(0, 10)})` : `nothing to merge from ${r.branch}`,
        "ok", r.notes.join("\n") || undefined);
    } catch (exc) {
      const { text, detail } = errorText(exc);
      if (exc instanceof ApiError && exc.files.length) {
        await confirm({
          title: `Merge of ${session.name} aborted: conflicts`, yes: "OK", id: "conflicts-dialog",
          body: [text, h("ul", { class: "conflicts" }, ...exc.files.map((f) => h("li", {}, h("code", {}, f)))),
            "Nothing was changed. Resolve them in the session (ask the agent to rebase), then merge again."],
        });
      } else {
        toast(`merge ${session.name}: ${text}`, "error", detail);
      }
    }
    await this.store.refresh(session.name);
  }
}
