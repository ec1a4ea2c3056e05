// Toasts and modal dialogs (native <dialog>): every refusal or failure is shown, never swallowed.
import { ApiError } from "./api";
import { h } from "./dom";

let toasts: HTMLElement | null = null;

export function toast(text: string, kind: "info" | "error" | "ok" = "info", detail?: string): void {
  if (!toasts) {
    toasts = h("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toasts);
  }
  const el = h("div", { class: `toast toast-${kind}` }, h("div", { class: "toast-text" }, text),
    detail ? h("div", { class: "toast-detail" }, detail) : null);
  el.addEventListener("click", () => el.remove());
  toasts.append(el);
  window.setTimeout(() => el.remove(), kind === "error" ? 9000 : 4500);
}

export function errorText(exc: unknown): { text: string; detail?: string } {
  if (exc instanceof ApiError) {
    const files = exc.files.length ? `\nfiles: ${exc.files.join(", ")}` : "";
    return { text: exc.message, detail: [exc.hint, files.trim()].filter(Boolean).join("\n") || undefined };
  }
  return { text: exc instanceof Error ? exc.message : String(exc) };
}

export function toastError(what: string, exc: unknown): void {
  const { text, detail } = errorText(exc);
  toast(`${what}: ${text}`, "error", detail);
}

interface DialogOpts {
  title: string;
  body?: (string | Node)[];
  yes: string;
  no?: string;
  danger?: boolean;
  id?: string;
}

/** A modal with the given body; resolves with the button pressed (true for `yes`). */
export function dialog(opts: DialogOpts): { el: HTMLDialogElement; result: Promise<boolean> } {
  const yes = h("button", { class: opts.danger ? "danger" : "primary", value: "yes", type: "submit" }, opts.yes);
  const no = h("button", { value: "no", type: "submit", formnovalidate: true }, opts.no ?? "Cancel");
  const form = h("form", { method: "dialog" },
    h("h2", {}, opts.title),
    h("div", { class: "dialog-body" }, ...(opts.body ?? []).map((b) => (typeof b === "string" ? h("p", {}, b) : b))),
    h("div", { class: "dialog-buttons" }, no, yes));
  const el = h("dialog", { class: "modal", id: opts.id }, form);
  document.body.append(el);
  const result = new Promise<boolean>((resolve) => {
    el.addEventListener("close", () => {
      resolve(el.returnValue === "yes");
      el.remove();
    });
  });
  el.showModal();
  yes.focus();
  return { el, result };
}

export function confirm(opts: DialogOpts): Promise<boolean> {
  return dialog(opts).result;
}

/** Ask for one line (or a block) of text; null when cancelled. */
export async function ask(title: string, opts: { label: string; yes: string; multiline?: boolean; value?: string; id?: string }):
    Promise<string | null> {
  const input = opts.multiline
    ? h("textarea", { name: "text", rows: 4, required: true, "aria-label": opts.label })
    : h("input", { name: "text", type: "text", required: true, "aria-label": opts.label, autocomplete: "off" });
  input.value = opts.value ?? "";
  const { el, result } = dialog({ title, yes: opts.yes, id: opts.id, body: [h("label", { class: "field" }, opts.label, input)] });
  input.focus();
  el.querySelector("form")?.addEventListener("keydown", (e) => {
    if (opts.multiline && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      el.close("yes");
    }
  });
  const ok = await result;
  const text = input.value.trim();
  return ok && text ? input.value : null;
}

/** Pick one of `choices`; null when cancelled. */
export async function choose(title: string, choices: { value: string; label: string }[], body: string[] = []):
    Promise<string | null> {
  if (!choices.length) return null;
  const select = h("select", { name: "choice", "aria-label": title },
    ...choices.map((c) => h("option", { value: c.value }, c.label)));
  const ok = await dialog({ title, yes: "Continue", body: [...body, select] }).result;
  return ok ? select.value : null;
}
