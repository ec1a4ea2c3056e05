// The Diff tab: the session's diff against its base commit, file by file, highlighted, unified or side by
// side (diff2html parses it; the page draws it so lines can be picked). Review comments: click a line
// number (shift-click to extend), write, add; "Send" hands every comment to the agent as one message.
import { parse } from "diff2html";
import type { DiffFile, DiffLine } from "diff2html/lib/types";
import { api } from "./api";
import { clear, h } from "./dom";
import { highlight, languageOf } from "./highlight";
import type { ReviewComment } from "./types";
import { toast, toastError } from "./ui";

type Layout = "unified" | "split";

interface Row {
  type: "ins" | "del" | "ctx";
  old?: number;
  new?: number;
  text: string;
}

interface Selection { path: string; anchor: number; from: number; to: number } // row indices within the file

const MAX_HIGHLIGHT_LINES = 4000;

function rowsOf(file: DiffFile): (Row | { hunk: string })[] {
  const out: (Row | { hunk: string })[] = [];
  for (const block of file.blocks) {
    out.push({ hunk: block.header });
    for (const line of block.lines as DiffLine[]) {
      const text = line.content.slice(1);
      if (line.type === "insert") out.push({ type: "ins", new: line.newNumber, text });
      else if (line.type === "delete") out.push({ type: "del", old: line.oldNumber, text });
      else out.push({ type: "ctx", old: line.oldNumber, new: line.newNumber, text });
    }
  }
  return out;
}

function pathOf(file: DiffFile): string {
  return file.isDeleted ? file.oldName : file.newName;
}

export class DiffView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly statEl: HTMLElement;
  private readonly commentBar: HTMLElement;
  private files: DiffFile[] = [];
  private layout: Layout;
  private selection: Selection | null = null;
  private comments: ReviewComment[];
  private loading = false;
  private readonly storageKey: string;

  /** `source` replaces the session's diff (a run's session): comments are then off. */
  constructor(private readonly name: string, private readOnly: boolean,
              private readonly source?: () => Promise<{ diff: string; label: string }>) {
    if (source) this.readOnly = true;
    this.layout = (localStorage.getItem("trails.diffLayout") as Layout | null) ?? (innerWidth < 900 ? "unified" : "split");
    this.storageKey = `trails.comments.${name}`;
    this.comments = JSON.parse(sessionStorage.getItem(this.storageKey) ?? "[]") as ReviewComment[];
    this.statEl = h("span", { class: "diff-stat" });
    const layoutBtn = (l: Layout, label: string) => h("button", {
      class: "layout-btn", "data-layout": l, "aria-pressed": String(this.layout === l),
      onclick: () => this.setLayout(l),
    }, label);
    this.commentBar = h("span", { class: "comment-bar" });
    this.body = h("div", { class: "diff-body" });
    this.el = h("div", { class: "diff-view", "data-layout": this.layout },
      h("div", { class: "diff-toolbar" }, this.statEl,
        h("span", { class: "layout-toggle", role: "group", "aria-label": "diff layout" },
          layoutBtn("unified", "Unified"), layoutBtn("split", "Side by side")),
        h("button", { class: "reload", title: "reload the diff", onclick: () => void this.load() }, "Reload"),
        this.commentBar),
      this.body);
    this.renderCommentBar();
  }

  /** Reload unless the user is in the middle of writing a comment. */
  refreshQuietly(): void {
    if (!this.el.querySelector(".comment-form") && this.el.isConnected) void this.load();
  }

  async load(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    this.el.classList.add("loading");
    try {
      if (this.source) {
        const got = await this.source();
        this.files = parse(got.diff);
        const ins = this.files.reduce((n, f) => n + f.addedLines, 0);
        const del = this.files.reduce((n, f) => n + f.deletedLines, 0);
        this.statEl.textContent = `+${ins} −${del} · ${this.files.length} files ${got.label}`;
      } else {
        const result = await api.diff(this.name);
        this.files = parse(result.diff);
        const st = result.stat;
        this.statEl.textContent = `+${st.insertions} −${st.deletions} · ${st.files} file${st.files === 1 ? "" : "s"} against ${result.base_commit.slice(0, 10)}`;
      }
      this.render();
    } catch (exc) {
      clear(this.body);
      this.body.append(h("div", { class: "error-box" }, `Could not load the diff: ${exc instanceof Error ? exc.message : String(exc)}`));
    } finally {
      this.loading = false;
      this.el.classList.remove("loading");
    }
  }

  private setLayout(l: Layout): void {
    this.layout = l;
    localStorage.setItem("trails.diffLayout", l);
    this.el.dataset.layout = l;
    for (const b of this.el.querySelectorAll<HTMLElement>(".diff-toolbar .layout-btn")) b.setAttribute("aria-pressed", String(b.dataset.layout === l));
    this.render();
  }

  private render(): void {
    clear(this.body);
    if (!this.files.length) {
      this.body.append(h("div", { class: "empty" }, "No changes against the base commit."));
      return;
    }
    const index = h("nav", { class: "diff-index" }, ...this.files.map((f) => h("a", {
      href: `#diff-${encodeURIComponent(pathOf(f))}`,
      onclick: (e: Event) => {
        e.preventDefault();
        this.body.querySelector(`[data-path="${CSS.escape(pathOf(f))}"]`)?.scrollIntoView({ block: "start" });
      },
    }, h("span", { class: "ins" }, `+${f.addedLines}`), " ", h("span", { class: "del" }, `−${f.deletedLines}`), " ", pathOf(f))));
    this.body.append(index);
    for (const file of this.files) this.body.append(this.renderFile(file));
  }

  private renderFile(file: DiffFile): HTMLElement {
    const path = pathOf(file);
    const rows = rowsOf(file);
    const lang = rows.length < MAX_HIGHLIGHT_LINES ? languageOf(path) : null;
    const rename = file.isRename && file.oldName !== file.newName ? `${file.oldName} → ` : "";
    const tag = file.isNew ? "added" : file.isDeleted ? "deleted" : file.isRename ? "renamed" : "";
    const table = h("table", { class: `diff-table ${this.layout}` });
    const wrap = h("section", { class: "diff-file", "data-path": path, id: `diff-${encodeURIComponent(path)}` },
      h("header", { class: "diff-file-head" },
        h("button", { class: "fold", "aria-label": `fold ${path}`, onclick: () => wrap.classList.toggle("folded") }, "▾"),
        h("span", { class: "path" }, rename, path), tag ? h("span", { class: `tag tag-${tag}` }, tag) : null,
        h("span", { class: "ins" }, `+${file.addedLines}`), h("span", { class: "del" }, `−${file.deletedLines}`)),
      table);
    if (file.isBinary) {
      table.append(h("tr", {}, h("td", { class: "binary" }, "binary file")));
      return wrap;
    }
    const tbody = h("tbody");
    // Fixed column widths: with table-layout fixed the first row (a hunk header) would set them otherwise.
    const cols = this.layout === "unified" ? ["ln", "ln", "code"] : ["ln", "code", "ln", "code"];
    table.append(h("colgroup", {}, ...cols.map((c) => h("col", { class: `col-${c}` }))), tbody);
    const code = (r: Row | undefined) => {
      const td = h("td", { class: `code ${r ? r.type : "empty"}` });
      if (r) {
        const c = h("code");
        c.innerHTML = highlight(r.text, lang); // escaped by hljs
        td.append(h("span", { class: "sign" }, r.type === "ins" ? "+" : r.type === "del" ? "-" : " "), c);
      }
      return td;
    };
    const lineCell = (r: Row | undefined, which: "old" | "new", idx: number) => {
      const n = r ? r[which] : undefined;
      const td = h("td", { class: `ln ln-${which}` }, n === undefined ? "" : String(n));
      if (r && n !== undefined && !this.readOnly) {
        td.classList.add("pickable");
        td.title = "comment on this line (shift-click: a range)";
        td.addEventListener("click", (e) => this.pick(path, idx, (e as MouseEvent).shiftKey));
      }
      return td;
    };
    // Row indices count the file's lines (hunk headers excluded); a split row is one index for its pair.
    let idx = 0;
    const rowsByIndex: HTMLTableRowElement[] = [];
    const addRow = (tr: HTMLTableRowElement, lines: Row[]) => {
      tr.dataset.idx = String(idx);
      tr.dataset.lines = JSON.stringify(lines.map((l) => [l.old ?? null, l.new ?? null]));
      rowsByIndex.push(tr);
      tbody.append(tr);
      idx++;
    };
    if (this.layout === "unified") {
      for (const r of rows) {
        if ("hunk" in r) {
          tbody.append(h("tr", { class: "hunk" }, h("td", { colspan: 3 }, r.hunk)));
          continue;
        }
        const i = idx;
        addRow(h("tr", { class: `dl ${r.type}`, "data-old": r.old ?? "", "data-new": r.new ?? "" },
          lineCell(r, "old", i), lineCell(r, "new", i), code(r)), [r]);
      }
    } else {
      let k = 0;
      while (k < rows.length) {
        const r = rows[k];
        if ("hunk" in r) {
          tbody.append(h("tr", { class: "hunk" }, h("td", { colspan: 4 }, r.hunk)));
          k++;
          continue;
        }
        if (r.type === "ctx") {
          const i = idx;
          addRow(h("tr", { class: "dl ctx", "data-old": r.old ?? "", "data-new": r.new ?? "" },
            lineCell(r, "old", i), code(r), lineCell(r, "new", i), code(r)), [r]);
          k++;
          continue;
        }
        // A run of deletions then insertions: side by side, pair by pair.
        const dels: Row[] = [];
        const inss: Row[] = [];
        while (k < rows.length && !("hunk" in rows[k]) && (rows[k] as Row).type === "del") dels.push(rows[k++] as Row);
        while (k < rows.length && !("hunk" in rows[k]) && (rows[k] as Row).type === "ins") inss.push(rows[k++] as Row);
        for (let j = 0; j < Math.max(dels.length, inss.length); j++) {
          const d = dels[j];
          const n = inss[j];
          const i = idx;
          addRow(h("tr", { class: "dl change", "data-old": d?.old ?? "", "data-new": n?.new ?? "" },
            lineCell(d, "old", i), code(d), lineCell(n, "new", i), code(n)), [d, n].filter(Boolean) as Row[]);
        }
      }
    }
    this.decorate(path, rowsByIndex);
    return wrap;
  }

  /** The comments and the selection drawn onto one file's rows. */
  private decorate(path: string, rows: HTMLTableRowElement[]): void {
    const cols = this.layout === "unified" ? 3 : 4;
    const sel = this.selection?.path === path ? this.selection : null;
    for (const tr of rows) {
      const i = Number(tr.dataset.idx);
      tr.classList.toggle("picked", !!sel && i >= sel.from && i <= sel.to);
    }
    for (const c of this.comments.filter((c) => c.path === path)) {
      const last = [...rows].reverse().find((tr) => this.linesOf(tr).some((n) => n >= c.line_start && n <= c.line_end));
      const anchor = last ?? rows[rows.length - 1];
      if (!anchor) continue;
      const k = this.comments.indexOf(c);
      anchor.after(h("tr", { class: "comment-row" }, h("td", { colspan: cols },
        h("div", { class: "comment" },
          h("span", { class: "comment-where" }, `${c.path}:${c.line_start}${c.line_end !== c.line_start ? `–${c.line_end}` : ""}`),
          h("span", { class: "comment-text" }, c.text),
          h("button", { class: "small", "aria-label": "remove comment", onclick: () => this.removeComment(k) }, "Remove")))));
    }
    if (sel) {
      const end = rows[sel.to];
      if (end) end.after(this.commentForm(path, cols));
    }
  }

  /** New-file line numbers where the rows have them (the agent sees the file as it is now), else old ones. */
  private linesOf(tr: HTMLTableRowElement): number[] {
    const pairs = JSON.parse(tr.dataset.lines ?? "[]") as [number | null, number | null][];
    return pairs.map(([o, n]) => n ?? o).filter((x): x is number => x !== null);
  }

  private pick(path: string, idx: number, extend: boolean): void {
    if (extend && this.selection && this.selection.path === path) {
      const anchor = this.selection.anchor;
      this.selection = { path, anchor, from: Math.min(anchor, idx), to: Math.max(anchor, idx) };
    } else {
      this.selection = { path, anchor: idx, from: idx, to: idx };
    }
    const keep = this.el.querySelector<HTMLTextAreaElement>(".comment-form textarea")?.value ?? "";
    this.render();
    const area = this.el.querySelector<HTMLTextAreaElement>(".comment-form textarea");
    if (area) {
      area.value = keep;
      area.focus();
    }
  }

  private commentForm(path: string, cols: number): HTMLTableRowElement {
    const area = h("textarea", { rows: 3, "aria-label": "review comment", placeholder: "Comment for the agent on these lines…" });
    const add = () => {
      const text = area.value.trim();
      if (!text || !this.selection) return;
      const table = this.body.querySelector(`[data-path="${CSS.escape(path)}"] tbody`);
      const rows = [...(table?.querySelectorAll<HTMLTableRowElement>("tr[data-idx]") ?? [])]
        .filter((tr) => Number(tr.dataset.idx) >= this.selection!.from && Number(tr.dataset.idx) <= this.selection!.to);
      const nums = rows.flatMap((tr) => this.linesOf(tr));
      if (!nums.length) return;
      this.comments.push({ path, line_start: Math.min(...nums), line_end: Math.max(...nums), text });
      this.saveComments();
      this.selection = null;
      this.render();
      this.renderCommentBar();
    };
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        add();
      } else if (e.key === "Escape") {
        this.selection = null;
        this.render();
      }
    });
    return h("tr", { class: "comment-form-row" }, h("td", { colspan: cols },
      h("div", { class: "comment-form" }, area,
        h("div", { class: "buttons" },
          h("button", { class: "primary", "data-act": "add-comment", onclick: add }, "Add comment"),
          h("button", { onclick: () => { this.selection = null; this.render(); } }, "Cancel")))));
  }

  private removeComment(k: number): void {
    this.comments.splice(k, 1);
    this.saveComments();
    this.render();
    this.renderCommentBar();
  }

  private saveComments(): void {
    sessionStorage.setItem(this.storageKey, JSON.stringify(this.comments));
  }

  private renderCommentBar(): void {
    clear(this.commentBar);
    if (!this.comments.length) {
      if (!this.readOnly) this.commentBar.append(h("span", { class: "hint" }, "click a line number to comment"));
      return;
    }
    const n = this.comments.length;
    this.commentBar.append(
      h("span", {}, `${n} comment${n === 1 ? "" : "s"}`),
      h("button", { class: "primary act", id: "send-comments", onclick: () => void this.sendComments() }, `Send ${n === 1 ? "it" : "all"} to the agent`),
      h("button", { class: "small", onclick: () => { this.comments = []; this.saveComments(); this.render(); this.renderCommentBar(); } }, "Discard"));
  }

  private async sendComments(): Promise<void> {
    if (this.readOnly) return;
    try {
      await api.comments(this.name, this.comments);
      toast(`${this.comments.length} comment${this.comments.length === 1 ? "" : "s"} sent to ${this.name}`, "ok");
      this.comments = [];
      this.saveComments();
      this.render();
      this.renderCommentBar();
    } catch (exc) {
      toastError(`comments to ${this.name}`, exc);
    }
  }
}
