// URL state (the research's R8): where the page is lives in `?session=…&view=…&worktree=…` (plus `file`
// and `run`), so a link opens the same view, back/forward move between places and a reload keeps it.

export type SessionTab = "terminal" | "diff" | "files" | "details";
export const SESSION_TABS: SessionTab[] = ["terminal", "diff", "files", "details"];

export interface Place {
  session: string | null;
  view: string; // a SessionTab with a session; "sessions" | "runs" | "new" without
  worktree: string | null;
  file: string | null;
  run: string | null;
}

const KEYS = ["session", "view", "worktree", "file", "run"] as const;

export function readPlace(search = location.search): Place {
  const q = new URLSearchParams(search);
  const session = q.get("session") || null;
  let view = q.get("view") || (session ? "terminal" : "sessions");
  if (session && !SESSION_TABS.includes(view as SessionTab)) view = "terminal";
  if (!session && !["sessions", "runs", "new"].includes(view)) view = "sessions";
  return { session, view, worktree: q.get("worktree") || null, file: q.get("file") || null, run: q.get("run") || null };
}

export function placeUrl(place: Place): string {
  const q = new URLSearchParams();
  for (const key of KEYS) {
    const value = place[key];
    if (!value) continue;
    if (key === "view" && value === (place.session ? "terminal" : "sessions")) continue; // the default
    if (key === "file" && place.view !== "files") continue; // a file is the Files tab's
    if (key === "run" && place.view !== "runs") continue;
    q.set(key, value);
  }
  const s = q.toString();
  return `${location.pathname}${s ? `?${s}` : ""}`;
}

type Listener = (place: Place) => void;
const listeners: Listener[] = [];

export function onPlace(listener: Listener): void {
  listeners.push(listener);
}

function notify(): void {
  const place = readPlace();
  for (const l of listeners) l(place);
}

/** Go somewhere: a new history entry (or `replace` the current one, for refinements like the file). */
export function go(change: Partial<Place>, opts: { replace?: boolean; fresh?: boolean } = {}): void {
  const base: Place = opts.fresh
    ? { session: null, view: "sessions", worktree: null, file: null, run: null }
    : readPlace();
  const next = { ...base, ...change };
  const url = placeUrl(next);
  if (url === `${location.pathname}${location.search}`) return;
  if (opts.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  notify();
}

window.addEventListener("popstate", notify);
