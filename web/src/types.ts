// The API's JSON as the page reads it: the msgspec types of trails.api.types (the fields the page uses;
// /api/openapi.json is the full schema).

export type Mode = "direct" | "worktree" | "container";
export type Status =
  | "creating" | "loading" | "running" | "ready" | "waiting" | "paused" | "error" | "completed" | "killed";

export const MODES: Mode[] = ["direct", "worktree", "container"];
export const LIVE: ReadonlySet<Status> = new Set(["creating", "loading", "running", "ready", "waiting"]);
/** What a frozen session's mark says (extra.frozen: core/freeze.py stopped its idle agent). */
export const FROZEN = "idle: its agent is stopped until a send, an attach or a pause reaches it";

export interface SessionInfo {
  id: number;
  name: string;
  agent: string;
  command: string[];
  mode: Mode;
  status: Status;
  workdir: string;
  repo_root: string | null;
  worktree_path: string | null;
  branch: string | null;
  base_commit: string | null;
  tmux_session: string;
  env: Record<string, string>;
  status_reason: string | null;
  auto_yes: boolean;
  conversation_id: string | null;
  container_id: string | null;
  limits: Record<string, unknown>;
  extra: Record<string, unknown>;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  status_source?: string | null; // what set the status: "hook" (the agent's own hooks), "screen", null (trails)
  coordinator?: boolean; // the user made it a coordinator: its agent runs workers
  parent?: string | null; // the coordinator that created it
  host?: string; // the remote host it runs on (absent: this machine); the page names it HOST:NAME
}

/** Each remote host's reachability at the listing (its sessions are in `sessions`, each with its `host`). */
export interface HostState { reachable: boolean; error?: ApiErrorBody }
export interface SessionList { sessions: SessionInfo[]; hosts?: Record<string, HostState> }

export interface CheckpointInfo {
  id: number; session_name: string; kind: string; ref: string; commit: string; note: string; created_at: number;
}

export interface AuditEntryInfo {
  id: number; ts: number; session_name: string | null; action: string; detail: Record<string, unknown>;
}

export interface DiskReport { path: string; bytes: number; mb: number; warn_mb: number; warning?: string }

export interface ShowResult {
  session: SessionInfo;
  checkpoints: CheckpointInfo[];
  audit: AuditEntryInfo[];
  disk?: DiskReport;
}

export interface DiffStat { insertions: number; deletions: number; files: number }
export interface DiffResult { session: string; base_commit: string; diff: string; stat: DiffStat }
export interface OutputResult { session: string; output: string }
export interface SendResult { session: string; sent: string }
export interface CreateResult { session: SessionInfo; mode_decision: { mode: Mode; source: string; reason: string }; notes: string[] }
export interface KillResult { session: SessionInfo; notes: string[]; saved_refs: string[] }
export interface PauseResult { session: string; notes: string[]; ref?: string }
export interface ResumeResult { session: string; notes: string[] }
export interface AutoYesResult { session: string; auto_yes: boolean }
export interface MoveResult { session: SessionInfo; notes: string[] }
export interface MergeResult {
  session: string; branch: string; into: string; commit: string | null; notes: string[]; strategy: string;
}

export interface EventInfo {
  id: number;
  ts: number;
  session: string | null;
  kind: string;
  data: Record<string, unknown>;
  caller?: string | null;
  host?: string; // a remote host's event (absent: this machine's)
  remote_id?: number;
}

export interface ApiErrorBody {
  code: string;
  message: string;
  hint?: string | null;
  field?: string | null;
  files?: string[] | null;
}

export interface Me { read_only: boolean; version?: string; cwd?: string; runs_dir?: string }

export interface Create {
  name: string;
  agent: string;
  cwd?: string | null;
  mode?: string | null;
  prompt?: string | null;
  branch?: string | null;
  base?: string | null;
  auto_yes?: boolean;
  no_mcp?: boolean;
  coordinator?: boolean;
}

export interface ReviewComment { path: string; line_start: number; line_end: number; text: string }

// Worktree-scoped git and files (trails.api.types: FileList, FileMatches, GitFileResult, GitStatusResult).
export interface FileEntry { name: string; path: string; kind: "file" | "dir" | "link" | "other" | string; size: number }
export interface FileList { worktree: string; path: string; entries: FileEntry[] }
export interface FileFind { worktree: string; q: string; paths: string[]; truncated: boolean }
export interface GitFile {
  worktree: string; path: string; head: string | null; work: string | null; binary?: boolean; truncated?: boolean;
}
export interface GitStatusEntry { path: string; status: string; orig_path?: string | null }
export interface GitStatus { worktree: string; branch: string | null; head: string | null; entries: GitStatusEntry[] }
export interface WorktreeInfo { path: string; repo: string; primary: boolean; branch: string | null; head: string | null; session?: string | null }
export interface WorktreeList { worktrees: WorktreeInfo[] }

// Runs (RunList, RunDetail, RunFileText).
export interface RunRow {
  name: string; out: string; resume?: string | null; status: string | null; planned: number; done: number; ok: number; failed: number;
  cost_usd: number; started_at: number | null; tags: string[]; hypothesis: string | null; backend?: string;
}
export interface RunResult {
  label?: string; status?: string; duration_s?: number | null; cost_usd?: number | null; turns?: number | null;
  resumed_from?: string | null; forked?: boolean; error?: string | null;
  files_changed?: ({ path: string } | string)[];
}
export interface RunDetail { summary: Record<string, unknown>; results: Record<string, RunResult> }
export interface RunSessionDetail { label: string; result: RunResult; diff: string | null; transcript: string | null }
export interface RunFileText { out: string; session: string; file: string; text: string; truncated: boolean }
