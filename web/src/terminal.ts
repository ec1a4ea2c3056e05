// A live terminal: xterm.js over /api/sessions/NAME/terminal (or /shell), bridged by the server to the
// session's tmux pane. Output frames carry the pane's bytes (base64); typing goes back as input frames,
// and the size follows the element (fit addon) as resize frames. A read-only token gets output only.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { h } from "./dom";

interface OutputFrame { type: "output"; data?: string; text?: string }
interface SizeFrame { type: "size"; cols: number; rows: number }
interface OtherFrame { type: string; message?: string; reason?: string }

function decode(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function themeColors(): { background: string; foreground: string; cursor: string; selectionBackground: string } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    background: v("--term-bg", "#111418"), foreground: v("--term-fg", "#e6e6e6"),
    cursor: v("--term-fg", "#e6e6e6"), selectionBackground: v("--term-sel", "#3a4a63"),
  };
}

export class TerminalPane {
  readonly el: HTMLElement;
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly state: HTMLElement;
  private readonly note: HTMLElement;
  private ws: WebSocket | null = null;
  private disposed = false;
  private retry = 0;
  private timer: number | undefined;
  private readonly observer: ResizeObserver;
  private readonly themeWatch: MediaQueryList;

  constructor(private readonly urlFor: (cols: number, rows: number) => string, private readonly readOnly: boolean, label: string) {
    this.state = h("span", { class: "term-state", "data-state": "connecting" }, "connecting…");
    const host = h("div", { class: "term-host" });
    this.note = h("span", { class: "term-note" });
    this.el = h("div", { class: "terminal-pane", "data-kind": label },
      h("div", { class: "term-bar" }, this.state,
        readOnly ? h("span", { class: "ro-note" }, "read-only: output only") : h("span", { class: "hint" }, "typing goes to the agent"),
        this.note),
      host);
    this.term = new Terminal({
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace', fontSize: 13, cursorBlink: !readOnly,
      scrollback: 5000, disableStdin: readOnly, allowProposedApi: false, theme: themeColors(),
    });
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.term.onData((data) => this.sendFrame({ type: "input", data }));
    this.term.onResize(({ cols, rows }) => this.sendFrame({ type: "resize", cols, rows }));
    // Fit to the element whenever it changes size (window, phone rotation, the tab shown again).
    let pending = false;
    this.observer = new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        this.refit();
        if (!this.started) this.start(); // laid out: open the pane at the page's size
      });
    });
    this.observer.observe(host);
    this.themeWatch = matchMedia("(prefers-color-scheme: dark)");
    this.themeWatch.addEventListener("change", this.retheme);
    document.addEventListener("trails-theme", this.retheme);
    this.startTimer = window.setTimeout(() => this.start(), 300); // in case it is never laid out (a hidden tab)
  }

  private started = false;
  private startTimer: number | undefined;

  private start(): void {
    if (this.started || this.disposed) return;
    this.started = true;
    window.clearTimeout(this.startTimer);
    this.connect();
  }

  private readonly retheme = (): void => {
    this.term.options.theme = themeColors();
  };

  refit(): void {
    if (this.readOnly && this.ws) return; // the pane's size, from its size frames
    if (this.disposed || !this.el.isConnected || this.el.offsetParent === null) return;
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
  }

  focus(): void {
    this.term.focus();
  }

  private setState(state: string, text: string): void {
    this.state.dataset.state = state;
    this.state.textContent = text;
  }

  private sendFrame(frame: object): void {
    if (this.readOnly && (frame as { type: string }).type === "input") return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private connect(): void {
    this.setState("connecting", "connecting…");
    this.refit(); // open the pane at the page's size
    const ws = new WebSocket(this.urlFor(this.term.cols, this.term.rows));
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.setState("live", "live");
      this.refit();
      this.sendFrame({ type: "resize", cols: this.term.cols, rows: this.term.rows });
    };
    ws.onmessage = (msg: MessageEvent) => {
      let frame: OutputFrame | OtherFrame;
      try {
        frame = JSON.parse(String(msg.data)) as OutputFrame | OtherFrame;
      } catch {
        return;
      }
      if (frame.type === "output") {
        const f = frame as OutputFrame;
        if (typeof f.data === "string") this.term.write(decode(f.data));
        else if (typeof f.text === "string") this.term.write(f.text);
      } else if (frame.type === "size") {
        // A viewer never resizes the agent's window: it shows the pane at the pane's size.
        const f = frame as SizeFrame;
        if (this.readOnly && f.cols > 0 && f.rows > 0) this.term.resize(f.cols, f.rows);
      } else if (frame.type === "exit") {
        this.setState("ended", (frame as OtherFrame).reason ?? "the session's terminal ended");
      } else if (frame.type === "error") {
        // A refusal (read-only input, a bad frame); a fatal one is followed by the socket's close.
        this.note.textContent = (frame as OtherFrame).message ?? "refused";
      }
    };
    ws.onclose = (e: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.disposed) return;
      // 1000: the server ended it (the session stopped); 1008/4xxx: refused; otherwise retry.
      if (e.code === 1000 || e.code === 1008 || (e.code >= 4000 && e.code < 5000)) {
        if (this.state.dataset.state !== "ended") this.setState("ended", e.reason || `closed (${e.code})`);
        return;
      }
      const delay = Math.min(5000, 500 * 2 ** this.retry++);
      this.setState("down", `disconnected — retrying in ${Math.round(delay / 100) / 10}s`);
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
  }

  dispose(): void {
    this.disposed = true;
    window.clearTimeout(this.timer);
    window.clearTimeout(this.startTimer);
    this.observer.disconnect();
    this.themeWatch.removeEventListener("change", this.retheme);
    document.removeEventListener("trails-theme", this.retheme);
    this.ws?.close();
    this.term.dispose();
  }
}
