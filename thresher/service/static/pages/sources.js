// Sources: the list, and one source's samples as a paged grid filtered by label, status, cluster and
// score range (the filter lives in the URL, so a filtered grid can be linked to).
import { get, segment, url } from "../api.js";
import { h, link, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { pager, sampleGrid } from "../grid.js";

const LIMIT = 60;

async function list(main) {
  const sources = await get("/api/sources");
  main.append(
    h("h1", {}, "sources"),
    sources.length
      ? table(
          ["source", "rows ok", "rows", "kind", "revision", "classes"],
          sources.map((s) => [
            link(`#/sources/${segment(s.id)}`, s.id),
            fmt.number(s.n_ok),
            fmt.number(s.n_rows),
            `${s.kind}: ${s.uri}`,
            s.revision,
            s.label_names ? s.label_names.join(", ") : "–",
          ]),
          { numeric: ["rows ok", "rows"] },
        )
      : h("p", { class: "muted" }, "no sources yet: ingest one from the dashboard"),
  );
}

function select(name, options, value, labelText) {
  const id = `filter-${name}`;
  const control = h("select", { id, name }, h("option", { value: "" }, "any"), options.map(([v, text]) => h("option", { value: String(v) }, text)));
  control.value = value ?? "";
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control);
}

function numberInput(name, value, labelText, step = "any") {
  const id = `filter-${name}`;
  return h("div", { class: "field" }, h("label", { for: id }, labelText), h("input", { id, name, type: "number", step, value: value ?? "" }));
}

export async function render(main, route) {
  if (!route.args.length) return list(main);
  const id = route.args[0];
  const p = route.params;
  const summary = await get(`/api/sources/${segment(id)}`);
  const names = summary.label_names;
  const offset = Number(p.offset || 0);
  const page = await get(
    url(`/api/sources/${segment(id)}/samples`, {
      offset, limit: LIMIT, label: p.label, status: p.status, clustering: p.clustering, cluster: p.cluster,
      score_run: p.score_run, min: p.min, max: p.max,
    }),
  );
  const form = h("form", { class: "filters", id: "sample-filters" },
    select("label", summary.labels.map((l) => [l.label ?? "", `${fmt.className(l.label, names)} (${fmt.number(l.n)})`]).filter(([v]) => v !== ""), p.label, "label"),
    select("status", summary.statuses.map((s) => [s.status, `${s.status} (${fmt.number(s.n)})`]), p.status, "status"),
    select("clustering", summary.clusterings.map((c) => [c, c]), p.clustering, "clustering"),
    numberInput("cluster", p.cluster, "cluster", "1"),
    select("score_run", summary.score_runs.map((r) => [r, r]), p.score_run, "score run"),
    numberInput("min", p.min, "min score"),
    numberInput("max", p.max, "max score"),
    h("button", { type: "submit" }, "filter"),
    h("a", { href: `#/sources/${segment(id)}`, class: "button-like" }, "clear"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    route.go(values);
  });
  const caption = (row) => {
    const parts = [`#${row.sample_id}`, fmt.className(row.label, names)];
    if (row.cluster !== undefined) parts.push(`c${row.cluster ?? "–"}`);
    if (row.score !== undefined) parts.push(`s=${fmt.number(row.score)}`);
    if (row.status !== "ok") parts.push(row.status);
    return parts.join(" · ");
  };
  main.append(
    h("h1", {}, `source ${summary.id}`),
    h("p", { class: "muted" }, `${summary.kind}: ${summary.uri} · revision ${summary.revision} · ${fmt.number(summary.n_ok)} of ${fmt.number(summary.n_rows)} rows ok`),
    section("classes", table(["label", "rows"], summary.labels.map((l) => [fmt.className(l.label, names), fmt.number(l.n)]), { numeric: ["rows"] })),
    section("samples", form, pager(page.total, offset, LIMIT, (o) => route.go({ ...p, offset: o })), sampleGrid(id, page.rows, caption)),
  );
}
