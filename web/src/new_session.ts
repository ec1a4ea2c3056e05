// The new-session form: the dashboard's fields (plus the directory to work in, since the browser has no
// cwd). A refusal lands under the field it names (ApiError.field), or above the buttons.
import { api, ApiError } from "./api";
import { h } from "./dom";
import type { SessionStore } from "./store";
import type { Create } from "./types";
import { MODES } from "./types";
import { toast } from "./ui";
import { go } from "./url";

type FieldName = "name" | "agent" | "cwd" | "mode" | "prompt" | "branch" | "base";

// Errors whose code says which field they are about, for the few the engine raises without `field`.
const FIELD_OF_CODE: Record<string, FieldName> = {
  invalid_name: "name", session_exists: "name", mode_unavailable: "mode", rule_violation: "mode", branch_error: "branch",
};

export class NewSessionForm {
  readonly el: HTMLElement;
  private readonly inputs = new Map<FieldName, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>();
  private readonly errors = new Map<string, HTMLElement>();
  private readonly formError: HTMLElement;
  private readonly autoYes: HTMLInputElement;
  private readonly noMcp: HTMLInputElement;
  private readonly coordinator: HTMLInputElement;
  private readonly submit: HTMLButtonElement;

  constructor(private readonly store: SessionStore, readOnly: boolean, private readonly serverCwd: string | null) {
    const field = (name: FieldName, label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, help = "") => {
      input.id = `new-${name}`;
      input.setAttribute("name", name);
      this.inputs.set(name, input);
      const err = h("div", { class: "field-error", id: `new-${name}-error`, role: "alert" });
      this.errors.set(name, err);
      input.addEventListener("input", () => { err.textContent = ""; });
      return h("div", { class: "field" }, h("label", { for: input.id }, label), input, help ? h("div", { class: "hint" }, help) : null, err);
    };
    const text = (placeholder: string) => h("input", { type: "text", placeholder, autocomplete: "off", spellcheck: "false" });
    this.autoYes = h("input", { type: "checkbox", id: "new-auto_yes", name: "auto_yes" });
    this.noMcp = h("input", { type: "checkbox", id: "new-no_mcp", name: "no_mcp" });
    this.coordinator = h("input", { type: "checkbox", id: "new-coordinator", name: "coordinator" });
    // The checkbox a refusal is about gets it under it, as a text field does (ApiError.field).
    const coordinatorError = h("div", { class: "field-error", id: "new-coordinator-error", role: "alert" });
    this.errors.set("coordinator", coordinatorError);
    for (const box of [this.noMcp, this.coordinator]) box.addEventListener("change", () => { coordinatorError.textContent = ""; });
    this.formError = h("div", { class: "form-error", id: "new-form-error", role: "alert" });
    this.submit = h("button", { type: "submit", class: "primary act", id: "new-create", disabled: readOnly }, "Create");
    const form = h("form", { class: "new-session", novalidate: true },
      h("h2", {}, "New session"),
      readOnly ? h("p", { class: "ro-note" }, "This page has a read-only token: it cannot start sessions.") : null,
      field("name", "Name", text("e.g. fix-login"), "lowercase letters, digits, . _ -; it becomes part of the branch trails/NAME"),
      field("agent", "Agent", text("claude, codex, aider, gemini, or a command line")),
      field("cwd", "Directory", text("the repository (or any folder) to work in"), "an absolute path on the machine trails runs on"),
      field("mode", "Mode", h("select", {}, h("option", { value: "" }, "from the settings (worktree by default)"),
        ...MODES.map((m) => h("option", { value: m }, m)))),
      field("prompt", "First prompt", h("textarea", { rows: 3, placeholder: "optional" })),
      field("branch", "Branch", text("default: <branch_prefix><name>")),
      field("base", "Base", text("default: HEAD")),
      h("label", { class: "check" }, this.autoYes, " auto-yes (answer permission prompts, within the guards)"),
      h("label", { class: "check" }, this.noMcp, " no MCP (its agent is not given trails' MCP server)"),
      h("label", { class: "check" }, this.coordinator, " coordinator (its agent may create, prompt, merge and end worker sessions)"),
      coordinatorError,
      this.formError,
      h("div", { class: "buttons" },
        h("button", { type: "button", onclick: () => history.length > 1 ? history.back() : go({}, { fresh: true }) }, "Cancel"),
        this.submit));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.create();
    });
    this.el = h("section", { id: "new-screen", class: "screen" }, form);
  }

  /** Fill the directory with the last one used, or the repository of the newest session. */
  prepare(): void {
    const cwd = this.inputs.get("cwd")!;
    if (!cwd.value) {
      const newest = [...this.store.all.values()].sort((a, b) => b.created_at - a.created_at)[0];
      cwd.value = localStorage.getItem("trails.lastCwd") ?? newest?.repo_root ?? newest?.workdir ?? this.serverCwd ?? "";
    }
    this.inputs.get("name")!.focus();
  }

  private value(name: FieldName): string | null {
    const v = this.inputs.get(name)!.value.trim();
    return v ? v : null;
  }

  private async create(): Promise<void> {
    for (const e of this.errors.values()) e.textContent = "";
    this.formError.textContent = "";
    const body: Create = {
      name: this.value("name") ?? "", agent: this.value("agent") ?? "", cwd: this.value("cwd"), mode: this.value("mode"),
      prompt: this.inputs.get("prompt")!.value.trim() ? this.inputs.get("prompt")!.value : null,
      branch: this.value("branch"), base: this.value("base"), auto_yes: this.autoYes.checked,
      no_mcp: this.noMcp.checked, coordinator: this.coordinator.checked,
    };
    let missing = false;
    for (const f of ["name", "agent"] as const) {
      if (!body[f]) {
        this.errors.get(f)!.textContent = `${f} is required`;
        missing = true;
      }
    }
    if (missing) return;
    this.submit.disabled = true;
    this.submit.textContent = "Creating…";
    try {
      const r = await api.create(body);
      if (body.cwd) localStorage.setItem("trails.lastCwd", body.cwd);
      toast(`started ${r.session.name} (${r.session.mode}: ${r.mode_decision.reason})`, "ok", r.notes.join("\n") || undefined);
      for (const input of this.inputs.values()) if (input.getAttribute("name") !== "cwd") input.value = "";
      this.autoYes.checked = false;
      this.noMcp.checked = false;
      this.coordinator.checked = false;
      await this.store.reload();
      go({ session: r.session.name, view: "terminal", worktree: null, file: null, run: null }, { replace: true });
    } catch (exc) {
      const err = exc instanceof ApiError ? exc : null;
      const field = err ? (err.field ?? FIELD_OF_CODE[err.code] ?? null) : null;
      const target = field ? this.errors.get(field) : undefined;
      const text = exc instanceof Error ? exc.message : String(exc);
      const hint = err?.hint ? ` (${err.hint})` : "";
      if (target) {
        target.textContent = text + hint;
        (field === "coordinator" ? this.coordinator : this.inputs.get(field as FieldName))?.focus();
      } else {
        this.formError.textContent = text + hint;
      }
    } finally {
      this.submit.disabled = false;
      this.submit.textContent = "Create";
    }
  }
}
