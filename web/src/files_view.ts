// The Files tab: a worktree's tree and a file viewer, through the worktree-scoped endpoints
// (/api/files/*, /api/git/*). The worktree and the open file are part of the URL. A remote host's
// session's worktree is the host's: every request names its host, whose server reads it.
import { api } from "./api";
import { clear, h } from "./dom";
import { highlightLines, languageOf } from "./highlight";
import type { FileEntry, GitFile, SessionInfo } from "./types";
import { go } from "./url";

const MAX_VIEW_BYTES = 400_000;

export class FilesView {
  readonly el: HTMLElement;
  private readonly tree: HTMLElement;
  private readonly viewer: HTMLElement;
  private readonly changed: HTMLElement;
  private readonly findResults: HTMLElement;
  private worktree: string;
  private file: string | null = null;
  private statusOf = new Map<string, string>();
  private findTimer: number | undefined;

  constructor(private readonly session: SessionInfo, worktree: string | null, file: string | null) {
    this.worktree = worktree ?? session.worktree_path ?? session.workdir;
    const choices = [...new Set([session.worktree_path, session.repo_root, session.workdir].filter((x): x is string => !!x))];
    if (!choices.includes(this.worktree)) choices.unshift(this.worktree);
    const select = h("select", { class: "worktree-select", "aria-label": "worktree",
      onchange: () => go({ worktree: select.value === this.defaultWorktree() ? null : select.value, file: null }) },
      ...choices.map((c) => h("option", { value: c, selected: c === this.worktree },
        c === session.worktree_path ? `session worktree: ${c}` : c === session.repo_root ? `main checkout: ${c}` : c)));
    const find = h("input", { type: "search", class: "find", placeholder: "find a file…", "aria-label": "find a file",
      oninput: () => {
        window.clearTimeout(this.findTimer);
        this.findTimer = window.setTimeout(() => void this.find(find.value), 200);
      } });
    this.findResults = h("ul", { class: "find-results" });
    this.changed = h("div", { class: "changed" });
    this.tree = h("ul", { class: "tree", role: "tree" });
    this.viewer = h("div", { class: "viewer" }, h("div", { class: "empty" }, "Pick a file."));
    this.el = h("div", { class: "files-view" },
      h("div", { class: "files-side" }, select, find, this.findResults, this.changed, this.tree),
      this.viewer);
    void this.loadRoot();
    void this.loadWorktrees(select);
    if (file) void this.open(file, false);
  }

  /** Every worktree of the session's repository, for the picker (the server's list; the guess above until then). */
  private async loadWorktrees(select: HTMLSelectElement): Promise<void> {
    try {
      const { worktrees } = await api.worktrees(this.session.host);
      const repo = this.session.repo_root;
      const mine = worktrees.filter((w) => !repo || w.repo === repo);
      if (!mine.length) return;
      clear(select);
      const paths = mine.map((w) => w.path);
      if (!paths.includes(this.worktree)) select.append(h("option", { value: this.worktree, selected: true }, this.worktree));
      for (const w of mine) {
        const label = `${w.primary ? "main checkout" : w.session ? `session ${w.session}` : w.branch ?? "worktree"}: ${w.path}`;
        select.append(h("option", { value: w.path, selected: w.path === this.worktree }, label));
      }
    } catch {
      // no list: the session's own worktree and repository stay the choices
    }
  }

  private defaultWorktree(): string {
    return this.session.worktree_path ?? this.session.workdir;
  }

  /** The URL moved (back/forward): show its file. */
  show(worktree: string | null, file: string | null): boolean {
    if ((worktree ?? this.defaultWorktree()) !== this.worktree) return false; // another worktree: rebuild
    if (file && file !== this.file) void this.open(file, false);
    return true;
  }

  private async loadRoot(): Promise<void> {
    clear(this.tree);
    try {
      const [listing, status] = await Promise.all([
        api.filesList(this.worktree, "", this.session.host),
        api.gitStatus(this.worktree, this.session.host).catch(() => null),
      ]);
      this.statusOf = new Map((status?.entries ?? []).map((f) => [f.path, f.status]));
      clear(this.changed);
      if (status?.entries.length) {
        this.changed.append(h("div", { class: "side-title" }, `Changed (${status.entries.length})`),
          h("ul", {}, ...status.entries.map((f) => h("li", {},
            h("a", { href: "#", class: "file-link", "data-path": f.path, onclick: (e: Event) => { e.preventDefault(); void this.open(f.path); } },
              h("span", { class: "git-status" }, f.status.trim() || f.status), " ", f.path)))));
      }
      this.fillDir(this.tree, listing.entries);
    } catch (exc) {
      this.tree.append(h("li", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
    }
  }

  private fillDir(ul: HTMLElement, entries: FileEntry[]): void {
    const sorted = [...entries].sort((a, b) => Number(b.kind === "dir") - Number(a.kind === "dir") || a.name.localeCompare(b.name));
    for (const e of sorted) {
      const st = this.statusOf.get(e.path);
      if (e.kind === "dir") {
        const children = h("ul", { role: "group" });
        const li = h("li", { class: "dir", role: "treeitem", "aria-expanded": "false", "data-path": e.path });
        const label = h("a", { href: "#", class: "dir-link", onclick: async (ev: Event) => {
          ev.preventDefault();
          const open = li.getAttribute("aria-expanded") === "true";
          li.setAttribute("aria-expanded", String(!open));
          if (!open && !children.childElementCount) {
            try {
              this.fillDir(children, (await api.filesList(this.worktree, e.path, this.session.host)).entries);
            } catch (exc) {
              children.append(h("li", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
            }
          }
        } }, `${e.name}/`);
        li.append(label, children);
        ul.append(li);
      } else {
        ul.append(h("li", { class: "file", role: "treeitem", "data-path": e.path },
          h("a", { href: "#", class: "file-link", "data-path": e.path, onclick: (ev: Event) => { ev.preventDefault(); void this.open(e.path); } },
            e.name, st ? h("span", { class: "git-status" }, ` ${st.trim()}`) : null)));
      }
    }
  }

  private async find(q: string): Promise<void> {
    clear(this.findResults);
    if (!q.trim()) return;
    try {
      const found = await api.filesFind(this.worktree, q.trim(), this.session.host);
      for (const p of found.paths.slice(0, 200)) {
        this.findResults.append(h("li", {}, h("a", { href: "#", class: "file-link", "data-path": p,
          onclick: (e: Event) => { e.preventDefault(); void this.open(p); } }, p)));
      }
      if (found.truncated) this.findResults.append(h("li", { class: "hint" }, "more matches: refine the search"));
      if (!found.paths.length) this.findResults.append(h("li", { class: "hint" }, "no match"));
    } catch (exc) {
      this.findResults.append(h("li", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
    }
  }

  private async open(path: string, navigate = true): Promise<void> {
    this.file = path;
    if (navigate) go({ file: path });
    for (const a of this.el.querySelectorAll<HTMLElement>(".file-link")) a.classList.toggle("current", a.dataset.path === path);
    clear(this.viewer);
    this.viewer.append(h("div", { class: "hint" }, `loading ${path}…`));
    let f: GitFile;
    try {
      f = await api.gitFile(this.worktree, path, this.session.host);
    } catch (exc) {
      clear(this.viewer);
      this.viewer.append(h("div", { class: "error-box" }, exc instanceof Error ? exc.message : String(exc)));
      return;
    }
    if (this.file !== path) return;
    this.render(f, f.work !== null ? "worktree" : "head");
  }

  private render(f: GitFile, side: "worktree" | "head"): void {
    clear(this.viewer);
    const text = side === "worktree" ? f.work : f.head;
    const changed = f.head !== f.work;
    const tabs = h("span", { class: "layout-toggle" },
      h("button", { class: "layout-btn", "aria-pressed": String(side === "worktree"), disabled: f.work === null,
        onclick: () => this.render(f, "worktree") }, "work tree"),
      h("button", { class: "layout-btn", "aria-pressed": String(side === "head"), disabled: f.head === null,
        onclick: () => this.render(f, "head") }, "HEAD"));
    const note = f.head === null ? "new file (not in HEAD)" : f.work === null ? "deleted in the work tree" : changed ? "changed since HEAD" : "";
    this.viewer.append(h("div", { class: "viewer-head" }, h("span", { class: "path" }, f.path), tabs,
      note ? h("span", { class: "tag" }, note) : null));
    if (f.binary) {
      this.viewer.append(h("div", { class: "empty" }, "binary file"));
      return;
    }
    if (text === null) return;
    if (f.truncated) this.viewer.append(h("div", { class: "hint" }, "large file: its start"));
    if (text.length > MAX_VIEW_BYTES) {
      this.viewer.append(h("div", { class: "hint" }, `large file: the first ${MAX_VIEW_BYTES} characters`));
    }
    const shown = text.length > MAX_VIEW_BYTES ? text.slice(0, MAX_VIEW_BYTES) : text;
    const lines = highlightLines(shown.replace(/\n$/, ""), shown.length < 200_000 ? languageOf(f.path) : null);
    const tbody = h("tbody");
    lines.forEach((html, i) => {
      const code = h("code");
      code.innerHTML = html; // escaped by hljs
      tbody.append(h("tr", {}, h("td", { class: "ln" }, String(i + 1)), h("td", { class: "code" }, code)));
    });
    this.viewer.append(h("table", { class: "file-table", "data-path": f.path, "data-side": side }, tbody));
  }
}
