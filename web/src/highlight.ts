// Syntax highlighting with highlight.js (its common languages), chosen by file name. hljs escapes the
// text it returns, so its HTML is the only HTML the page puts in from data.
import hljs from "highlight.js/lib/common";

const BY_NAME: Record<string, string> = {
  Makefile: "makefile", Dockerfile: "dockerfile", "CMakeLists.txt": "cmake",
};

export function languageOf(path: string): string | null {
  const base = path.split("/").pop() ?? path;
  if (BY_NAME[base]) return hljs.getLanguage(BY_NAME[base]) ? BY_NAME[base] : null;
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return null;
  const ext = base.slice(dot + 1).toLowerCase();
  return hljs.getLanguage(ext) ? ext : null;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** One line (or a whole file) as highlighted HTML; plain escaped text without a known language. */
export function highlight(text: string, language: string | null): string {
  if (!language) return escape(text);
  try {
    return hljs.highlight(text, { language, ignoreIllegals: true }).value;
  } catch {
    return escape(text);
  }
}

/**
 * A whole file highlighted, split into lines with every open span closed and reopened at line ends, so
 * multi-line strings and comments keep their colour in a line-numbered viewer.
 */
export function highlightLines(text: string, language: string | null): string[] {
  const html = highlight(text, language);
  const out: string[] = [];
  const open: string[] = [];
  let line = "";
  const re = /(<span[^>]*>)|(<\/span>)|(\n)|([^<\n]+|<)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(html)) !== null) {
    if (m[1]) {
      open.push(m[1]);
      line += m[1];
    } else if (m[2]) {
      open.pop();
      line += m[2];
    } else if (m[3]) {
      out.push(line + "</span>".repeat(open.length));
      line = open.join("");
    } else {
      line += m[4];
    }
  }
  out.push(line + "</span>".repeat(open.length));
  return out;
}
