// One long-lived React Email render process. Reads one JSON request per line on stdin:
//   {"path": "/abs/compiled.js", "props": {...}}
// and writes one JSON reply per line: {"ok": true, "subject", "html", "text"} or {"ok": false, "error", "message"}.
// It warms React, React Email and Tailwind before it says {"ready": true}, so its first real render is fast.
// A busy template is not interrupted here: IEP kills the whole process at the render timeout.
import { Body, Head, Html, Tailwind, Text } from "@react-email/components";
import { render, toPlainText } from "@react-email/render";
import { createElement } from "react";

const MAX_OUTPUT = Number(process.env.IEP_MAX_OUTPUT_CHARS ?? 16 * 1024 * 1024);

function reply(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc) + "\n");
}

// `__proto__` keys in data would set the prototype of the props object; they are never data.
function parse(line: string): any {
  return JSON.parse(line, (key, value) => (key === "__proto__" ? undefined : value));
}

async function renderOne(request: { path: string; props?: Record<string, unknown> }) {
  const mod = await import(request.path);
  if (typeof mod.default !== "function") {
    return { ok: false, error: "render", message: "the template has no default export component" };
  }
  const props = request.props ?? {};
  const html = await render(createElement(mod.default, props));
  if (html.length > MAX_OUTPUT) {
    return { ok: false, error: "too_large", message: `the rendered HTML is over ${MAX_OUTPUT} characters` };
  }
  const subject = typeof mod.subject === "function" ? mod.subject(props) : mod.subject;
  return { ok: true, subject: subject == null ? null : String(subject), html, text: toPlainText(html) };
}

const warm = createElement(
  Html,
  null,
  createElement(
    Tailwind,
    null,
    createElement(Head),
    createElement(Body, { className: "bg-white p-2 sm:p-4" }, createElement(Text, { className: "md:text-lg" }, "warm")),
  ),
);
toPlainText(await render(warm));
reply({ ready: true, pid: process.pid });

for await (const line of console) {
  if (!line.trim()) continue;
  let answer: unknown;
  try {
    answer = await renderOne(parse(line));
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    answer = { ok: false, error: "render", message: message.slice(0, 2000) };
  }
  reply(answer);
}
