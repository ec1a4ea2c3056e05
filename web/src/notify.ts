// Browser notifications (with the page's permission) when a session starts waiting for you or ends.
import type { SessionInfo, Status } from "./types";
import { go, readPlace } from "./url";

const ENDED: ReadonlySet<Status> = new Set(["completed", "error", "killed"]);

export function notificationsSupported(): boolean {
  return "Notification" in window;
}

export async function askPermission(): Promise<NotificationPermission> {
  if (!notificationsSupported()) return "denied";
  return Notification.permission === "default" ? Notification.requestPermission() : Notification.permission;
}

export function onTransition(session: SessionInfo, previous: Status | null): void {
  if (!notificationsSupported() || Notification.permission !== "granted") return;
  const waiting = session.status === "waiting" && previous !== "waiting";
  const ended = ENDED.has(session.status) && (previous === null || !ENDED.has(previous));
  if (!waiting && !ended) return;
  // Not for the session the user is looking at right now.
  if (document.visibilityState === "visible" && document.hasFocus() && readPlace().session === session.name) return;
  const title = waiting ? `${session.name} is waiting for you` : `${session.name} ${session.status}`;
  const n = new Notification(title, { body: session.status_reason ?? `${session.agent} · ${session.mode}`, tag: `trails-${session.name}` });
  n.onclick = () => {
    window.focus();
    go({ session: session.name, view: "terminal", worktree: null, file: null, run: null });
    n.close();
  };
}
