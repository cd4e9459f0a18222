// The read-only SQL console: one SELECT over the catalog's views (as `thresher query`), the result as a
// text table.
import { post } from "../api.js";
import { h } from "../dom.js";

const EXAMPLE = "SELECT clustering, cluster, size, round(purity, 3) AS purity\nFROM clusters ORDER BY size DESC LIMIT 20";
const VIEWS = "views: samples, scores, subsets, subset_members, clusters, score_runs, sources, runs, evaluations, embeddings_meta";

function cell(value) {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(6)));
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function textTable(columns, rows) {
  const cells = rows.map((r) => (Array.isArray(r) ? r : columns.map((c) => r[c])).map(cell));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join(" | ").trimEnd();
  return [line(columns), widths.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n");
}

export async function render(main, route) {
  const editor = h("textarea", { id: "sql", name: "sql", rows: 6, spellcheck: "false" });
  editor.value = route.params.sql || EXAMPLE;
  const output = h("pre", { id: "query-result", class: "query-result" });
  const message = h("p", { class: "form-message", id: "query-message", role: "status" });
  const form = h("form", { id: "query-form" }, h("label", { for: "sql" }, "SQL"), editor, h("div", {}, h("button", { type: "submit", id: "run-query" }, "run"), h("span", { class: "muted" }, " ctrl+enter")));
  const run = async () => {
    message.textContent = "running…";
    output.textContent = "";
    try {
      const result = await post("/api/query", { sql: editor.value });
      const columns = result.columns || [];
      const rows = result.rows || [];
      output.textContent = textTable(columns, rows);
      message.textContent = result.truncated ? `first ${rows.length} rows shown` : "";
    } catch (error) {
      message.textContent = `error: ${error.message}`;
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  });
  main.append(h("h1", {}, "SQL console"), h("p", { class: "muted" }, `Read-only. ${VIEWS}.`), form, message, output);
}
