// The HTTP API (DESIGN_11.md): JSON under /api, the token in an HttpOnly cookie the server set, and the
// CSRF header on every request that changes something.
import type {
  ApiErrorBody, AutoYesResult, Create, CreateResult, DiffResult, FileFind, FileList, GitFile, GitStatus,
  KillResult, Me, WorktreeList, MergeResult, MoveResult, OutputResult, PauseResult, ResumeResult, ReviewComment, RunDetail,
  RunFileText, RunRow, RunSessionDetail, SendResult, SessionInfo, SessionList, ShowResult,
} from "./types";

export class ApiError extends Error {
  readonly code: string;
  readonly field: string | null;
  readonly hint: string | null;
  readonly status: number;
  readonly files: string[];

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.status = status;
    this.code = body.code;
    this.field = body.field ?? null;
    this.hint = body.hint ?? null;
    this.files = body.files ?? [];
  }
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

async function call<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-Trails-CSRF"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, { code: "unreachable", message: `the trails web server did not answer (${String(exc)})` });
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = (data as { error?: ApiErrorBody } | null)?.error;
    throw new ApiError(response.status, err ?? {
      code: response.status === 401 ? "unauthorized" : "http_error",
      message: response.status === 401
        ? "not signed in: open the URL `trails web` printed (it carries the token)"
        : `${method} ${path}: HTTP ${response.status}`,
    });
  }
  return data as T;
}

const enc = encodeURIComponent;

function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

const s = (name: string, rest = ""): string => `/api/sessions/${enc(name)}${rest}`;

export const api = {
  me: () => call<Me>("GET", "/api/me"),
  sessions: () => call<SessionList>("GET", "/api/sessions"),
  session: (name: string) => call<ShowResult>("GET", s(name)),
  create: (body: Create) => call<CreateResult>("POST", "/api/sessions", body),
  send: (name: string, text: string) => call<SendResult>("POST", s(name, "/send"), { text }),
  pause: (name: string) => call<PauseResult>("POST", s(name, "/pause")),
  resume: (name: string) => call<ResumeResult>("POST", s(name, "/resume")),
  kill: (name: string, force: boolean, deleteBranch: boolean) =>
    call<KillResult>("POST", s(name, "/kill"), { force, delete_branch: deleteBranch }),
  autoYes: (name: string, on: boolean) => call<AutoYesResult>("POST", s(name, "/auto-yes"), { on }),
  upgrade: (name: string, to: string) => call<MoveResult>("POST", s(name, "/upgrade"), { to }),
  export: (name: string, to: string, force: boolean) => call<MoveResult>("POST", s(name, "/export"), { to, force }),
  merge: (name: string, strategy: string | null, message: string | null) =>
    call<MergeResult>("POST", s(name, "/merge"), { strategy, message }),
  diff: (name: string, stat = false) => call<DiffResult>("GET", s(name, `/diff${query({ stat: stat || null })}`)),
  output: (name: string, lines: number) => call<OutputResult>("GET", s(name, `/output${query({ lines })}`)),
  comments: (name: string, comments: ReviewComment[]) => call<SendResult>("POST", s(name, "/comments"), { comments }),

  runs: () => call<{ directory: string; runs: RunRow[] }>("GET", "/api/runs"),
  run: (id: string) => call<RunDetail>("GET", `/api/runs/${enc(id)}`),
  runSession: (id: string, label: string) => call<RunSessionDetail>("GET", `/api/runs/${enc(id)}/sessions/${enc(label)}`),
  runFile: (id: string, label: string, file: string) =>
    call<RunFileText>("GET", `/api/runs/${enc(id)}/sessions/${enc(label)}/files/${enc(file)}`),
  startRun: (file: string) => call<{ job?: number }>("POST", "/api/runs", { file }),
  cancelRun: (id: string) => call<unknown>("POST", `/api/runs/${enc(id)}/cancel`),

  // `host`: a remote host's worktree (its server checks the paths: the checkout is the host's).
  worktrees: (host?: string) => call<WorktreeList>("GET", `/api/git/worktrees${query({ host })}`),
  gitStatus: (worktree: string, host?: string) => call<GitStatus>("GET", `/api/git/status${query({ worktree, host })}`),
  gitDiff: (worktree: string, host?: string) =>
    call<{ worktree: string; diff: string }>("GET", `/api/git/diff${query({ worktree, host })}`),
  gitFile: (worktree: string, path: string, host?: string) =>
    call<GitFile>("GET", `/api/git/file${query({ worktree, path, host })}`),
  filesList: (worktree: string, path: string, host?: string) =>
    call<FileList>("GET", `/api/files/list${query({ worktree, path, host })}`),
  filesFind: (worktree: string, q: string, host?: string) =>
    call<FileFind>("GET", `/api/files/find${query({ worktree, q, host })}`),
};

/** A WebSocket URL on this page's origin (the cookie goes with it). */
export function wsUrl(path: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

export function sessionWs(name: string, kind: "terminal" | "shell", cols?: number, rows?: number): string {
  return wsUrl(s(name, `/${kind}${query({ cols, rows })}`));
}

export type { SessionInfo };
