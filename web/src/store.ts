// What the page knows about sessions: the list from /api/sessions, kept current by the event stream
// (a status event repaints one card without a request), plus filter, sort and the multi-selection.
import { api } from "./api";
import type { DiffStat, EventInfo, Mode, SessionInfo, Status } from "./types";
import { LIVE } from "./types";

export type StatusFilter = "all" | "attention" | "live" | "paused";
export type SortKey = "name" | "status" | "age" | "mode";

export interface Filter { text: string; status: StatusFilter; mode: Mode | "all" }

/** What needs the user: a permission prompt, an error, or a prompt auto-yes refused. */
export function needsAttention(s: SessionInfo): boolean {
  return s.status === "waiting" || s.status === "error" || s.extra?.needs_user === true;
}

/** A remote host's session is kept under its address, HOST:NAME (what every request about it names). */
export function addressed(s: SessionInfo, address?: string): SessionInfo {
  if (address?.includes(":") && !s.host) s.host = address.slice(0, address.indexOf(":"));
  if (s.host && !s.name.startsWith(`${s.host}:`)) s.name = `${s.host}:${s.name}`;
  return s;
}

/** The name a card shows: without its host, which the card shows beside it. */
export function shownName(s: SessionInfo): string {
  return s.host && s.name.startsWith(`${s.host}:`) ? s.name.slice(s.host.length + 1) : s.name;
}

/** A host's key among the sessions' in SessionStore.touched (no session name has a NUL). */
const hostKey = (host: string): string => `\u0000${host}`;

const STATUS_ORDER: Status[] = ["waiting", "error", "ready", "running", "loading", "creating", "paused", "completed", "killed"];

export type Change = { kind: "list" } | { kind: "session"; name: string } | { kind: "selection" };
type Listener = (change: Change) => void;
export type Transition = (session: SessionInfo, previous: Status | null) => void;

export class SessionStore {
  readonly all = new Map<string, SessionInfo>();
  readonly stats = new Map<string, DiffStat>();
  readonly selected = new Set<string>();
  /** Each visible session's depth under its coordinator, as the last visible() ordered them. */
  readonly depths = new Map<string, number>();
  /** Remote hosts that cannot be reached now: their sessions stay, greyed, until they are back. */
  readonly hostDown = new Set<string>();
  filter: Filter = { text: "", status: "all", mode: "all" };
  sort: SortKey = "name";
  loaded = false;
  loadError: string | null = null;
  private listeners: Listener[] = [];
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private refreshTimers = new Map<string, number>();
  private statsQueue: string[] = [];
  private statsRunning = 0;
  /** Events applied so far, and the count when each session last had one: a list or row asked for
   *  before a session's latest event may predate it (the socket and the request race), so it does
   *  not overwrite what that event said; the row is read again instead. */
  private applied = 0;
  private touched = new Map<string, number>();
  /** Called when a session changes status (for browser notifications). */
  onTransition: Transition | null = null;

  subscribe(l: Listener): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  private emit(change: Change): void {
    for (const l of this.listeners) l(change);
  }

  /** The whole list again (first load, a session the page does not know yet, a reconnect). */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.reloadAgain = false;
          const asked = this.applied;
          const list = await api.sessions();
          for (const [host, state] of Object.entries(list.hosts ?? {})) {
            if (this.newerThan(hostKey(host), asked)) continue; // its host event came after: that says
            if (state.reachable) this.hostDown.delete(host);
            else this.hostDown.add(host);
          }
          const seen = new Set<string>();
          for (const s of list.sessions.map((one) => addressed(one))) {
            seen.add(s.name);
            const before = this.all.get(s.name);
            if (before && this.newerThan(s.name, asked)) {
              this.refreshSoon(s.name);
              continue;
            }
            this.all.set(s.name, s);
            if (!before || before.updated_at !== s.updated_at) this.queueStats([s.name]);
          }
          for (const [name, gone] of [...this.all.entries()]) {
            if (!seen.has(name) && !(gone.host && this.hostDown.has(gone.host))) {
              this.all.delete(name);
              this.selected.delete(name);
              if (LIVE.has(gone.status) || gone.status === "paused") this.onTransition?.({ ...gone, status: "killed" }, gone.status);
            }
          }
          this.loaded = true;
          this.loadError = null;
        } while (this.reloadAgain);
      } catch (exc) {
        this.loadError = exc instanceof Error ? exc.message : String(exc);
      } finally {
        this.reloading = null;
        this.emit({ kind: "list" });
      }
    })();
    return this.reloading;
  }

  /** One session's row again (after an action, or an event whose effect the page cannot compute). */
  async refresh(name: string): Promise<void> {
    try {
      const asked = this.applied;
      const shown = await api.session(name);
      if (this.newerThan(name, asked)) {
        this.refreshSoon(name);
        return;
      }
      this.put(addressed(shown.session, name));
    } catch {
      await this.reload();
    }
  }

  put(session: SessionInfo): void {
    const before = this.all.get(session.name);
    if (session.status === "killed") {
      this.all.delete(session.name); // killed: it leaves the list, as in `trails ls`
      this.selected.delete(session.name);
      this.emit({ kind: "list" });
      return;
    }
    this.all.set(session.name, session);
    this.emit(before ? { kind: "session", name: session.name } : { kind: "list" });
    if (before && before.status !== session.status) this.onTransition?.(session, before.status);
  }

  /** Whether an event about this session (or host) came after `asked` events had been applied. */
  private newerThan(name: string, asked: number): boolean {
    return (this.touched.get(name) ?? 0) > asked;
  }

  private refreshSoon(name: string): void {
    window.clearTimeout(this.refreshTimers.get(name));
    this.refreshTimers.set(name, window.setTimeout(() => {
      this.refreshTimers.delete(name);
      void this.refresh(name);
    }, 80));
  }

  apply(event: EventInfo): void {
    if (event.kind === "host" && event.host) {
      this.touched.set(hostKey(event.host), ++this.applied);
      const up = event.data?.reachable === true;
      if (up) this.hostDown.delete(event.host);
      else this.hostDown.add(event.host);
      this.emit({ kind: "list" });
      if (up) void this.reload(); // what changed there while it was away
      return;
    }
    const name = event.session && event.host ? `${event.host}:${event.session}` : event.session;
    if (!name) return;
    this.touched.set(name, ++this.applied);
    const session = this.all.get(name);
    if (!session) {
      void this.reload();
      return;
    }
    const data = event.data ?? {};
    if (event.kind === "status" && typeof data.status === "string") {
      const status = data.status as Status;
      if (status === "killed") {
        this.all.delete(name);
        this.selected.delete(name);
        this.emit({ kind: "list" });
        this.onTransition?.({ ...session, status }, session.status);
        return;
      }
      const previous = session.status;
      session.status = status;
      session.status_reason = typeof data.reason === "string" ? data.reason : null;
      session.status_source = typeof data.status_source === "string" ? data.status_source : null;
      const { frozen, ...extra } = session.extra;
      // A frozen agent cannot change its status: any other than ready means it was thawed. A ready
      // one may just have been frozen (the event does not say): its row tells.
      session.extra = { ...(status === "ready" ? session.extra : extra), needs_user: data.needs_user === true };
      if (status === "ready" || frozen) this.refreshSoon(name);
      session.updated_at = event.ts || session.updated_at;
      this.emit({ kind: "session", name });
      if (previous !== status) this.onTransition?.(session, previous);
      if (status === "ready" || status === "waiting" || status === "completed") this.queueStats([name]);
      return;
    }
    if (event.kind === "refused") {
      session.extra = { ...session.extra, needs_user: true };
      this.emit({ kind: "session", name });
      return;
    }
    if (event.kind === "auto_yes" || event.kind === "trust") return; // an answer given; the status event follows
    this.refreshSoon(name); // paused, resumed, and kinds this page does not know: read the row again
  }

  /** Diff stats for the cards, a few requests at a time (they run git). */
  queueStats(names: string[]): void {
    for (const n of names) if (!this.statsQueue.includes(n)) this.statsQueue.push(n);
    while (this.statsRunning < 3 && this.statsQueue.length) {
      const name = this.statsQueue.shift()!;
      const s = this.all.get(name);
      if (!s || (!s.worktree_path && !s.repo_root)) continue;
      this.statsRunning++;
      api.diff(name, true)
        .then((d) => {
          this.stats.set(name, d.stat);
          this.emit({ kind: "session", name });
        })
        .catch(() => undefined)
        .finally(() => {
          this.statsRunning--;
          this.queueStats([]);
        });
    }
  }

  visible(): SessionInfo[] {
    const text = this.filter.text.trim().toLowerCase();
    const rows = [...this.all.values()].filter((s) => {
      if (this.filter.mode !== "all" && s.mode !== this.filter.mode) return false;
      switch (this.filter.status) {
        case "attention": if (!needsAttention(s)) return false; break;
        case "live": if (!LIVE.has(s.status)) return false; break;
        case "paused": if (s.status !== "paused") return false; break;
        default: break;
      }
      if (!text) return true;
      return [s.name, s.agent, s.branch ?? "", s.status, s.mode, s.host ?? "local"].some((f) => f.toLowerCase().includes(text));
    });
    const byName = (a: SessionInfo, b: SessionInfo) => a.name.localeCompare(b.name);
    const rank = (s: SessionInfo) => (needsAttention(s) ? -1 : STATUS_ORDER.indexOf(s.status));
    const cmp: Record<SortKey, (a: SessionInfo, b: SessionInfo) => number> = {
      name: byName,
      status: (a, b) => rank(a) - rank(b) || byName(a, b),
      age: (a, b) => b.created_at - a.created_at || byName(a, b),
      mode: (a, b) => a.mode.localeCompare(b.mode) || byName(a, b),
    };
    return treeOrder(rows.sort(cmp[this.sort]), this.depths);
  }

  toggleSelected(name: string, on?: boolean): void {
    const want = on ?? !this.selected.has(name);
    if (want) this.selected.add(name);
    else this.selected.delete(name);
    this.emit({ kind: "selection" });
  }

  selectOnly(names: string[]): void {
    this.selected.clear();
    for (const n of names) this.selected.add(n);
    this.emit({ kind: "selection" });
  }

  /** The batch's targets: the selected sessions, or every one shown when none is selected. */
  targets(): string[] {
    const shown = this.visible().map((s) => s.name);
    const picked = shown.filter((n) => this.selected.has(n));
    return picked.length ? picked : shown;
  }
}

/** The rows in their order, each coordinator's workers (and theirs) right under it; `depths` gets each
 * one's depth in that tree (0: a root, or a worker whose coordinator is not among the rows). */
export function treeOrder(rows: SessionInfo[], depths: Map<string, number>): SessionInfo[] {
  const names = new Set(rows.map((s) => s.name));
  const children = new Map<string | null, SessionInfo[]>();
  for (const s of rows) {
    const up = s.parent && s.parent !== s.name && names.has(s.parent) ? s.parent : null;
    children.set(up, [...(children.get(up) ?? []), s]);
  }
  const out: SessionInfo[] = [];
  depths.clear();
  const walk = (s: SessionInfo, depth: number): void => {
    if (depths.has(s.name)) return; // a loop of reused names: each once
    depths.set(s.name, depth);
    out.push(s);
    for (const c of children.get(s.name) ?? []) walk(c, depth + 1);
  };
  for (const s of children.get(null) ?? []) walk(s, 0);
  for (const s of rows) if (!depths.has(s.name)) walk(s, 0);
  return out;
}
