// The server's event stream over /api/events: one EventInfo per frame. After a drop the page reconnects
// with `since` = the last id it saw, so it misses nothing and sees nothing twice. No polling anywhere.
import { wsUrl } from "./api";
import type { EventInfo } from "./types";

export type FeedState = "connecting" | "live" | "down";

export interface FeedHandlers {
  event(e: EventInfo): void;
  state(s: FeedState, detail?: string): void;
  /** The socket is (re)connected; `resumed` when it continued from a known id. */
  connected(resumed: boolean): void;
}

export class EventFeed {
  private ws: WebSocket | null = null;
  private last: number | null = null;
  private retry = 0;
  private stopped = false;
  private timer: number | undefined;

  constructor(private readonly handlers: FeedHandlers) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.ws?.close();
  }

  private open(): void {
    this.handlers.state("connecting");
    const since = this.last === null ? "" : `?since=${this.last}`;
    const ws = new WebSocket(wsUrl(`/api/events${since}`));
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.handlers.state("live");
      this.handlers.connected(this.last !== null);
    };
    ws.onmessage = (msg: MessageEvent) => {
      let event: EventInfo;
      try {
        event = JSON.parse(String(msg.data)) as EventInfo;
      } catch {
        return;
      }
      if (typeof event.id === "number") {
        if (this.last !== null && event.id <= this.last) return; // a replay we already applied
        this.last = event.id;
      }
      this.handlers.event(event);
    };
    ws.onclose = (e: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.handlers.state("down", e.reason || (e.code === 1008 ? "not permitted" : `closed (${e.code})`));
      const delay = Math.min(5000, 500 * 2 ** this.retry++);
      this.timer = window.setTimeout(() => this.open(), delay);
    };
  }
}
