// The diff of two subset versions: counts per class and cluster side by side, how many both keep, and
// the samples only A keeps and only B keeps as grids.
import { get, segment, url } from "../api.js";
import { h, link, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { pager, sampleGrid } from "../grid.js";

const LIMIT = 48;

function delta(a, b) {
  const d = b - a;
  return d > 0 ? `+${d}` : String(d);
}

export async function render(main, route) {
  const p = route.params;
  const subsets = await get("/api/subsets");
  const refs = subsets.flatMap((s) => s.versions.map((v) => `${s.name}@v${v.version}`));
  const pick = (id, value) => {
    const control = h("select", { id, name: id }, refs.map((r) => h("option", { value: r }, r)));
    if (value) control.value = value;
    return control;
  };
  const a = pick("a", p.a || refs[0]), b = pick("b", p.b || refs[1] || refs[0]);
  const form = h("form", { class: "filters", id: "diff-form" },
    h("div", { class: "field" }, h("label", { for: "a" }, "A"), a),
    h("div", { class: "field" }, h("label", { for: "b" }, "B"), b),
    h("button", { type: "submit" }, "compare"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    route.go({ a: a.value, b: b.value });
  });
  main.append(h("h1", {}, "diff"), form);
  if (!refs.length) {
    main.append(h("p", { class: "muted" }, "no subsets yet"));
    return;
  }
  if (!p.a || !p.b) return;
  const offset = Number(p.offset || 0);
  const diff = await get(url("/api/diff", { a: p.a, b: p.b, offset, limit: LIMIT }));
  const names = diff.label_names;
  const counts = (kind, rows) =>
    table([kind, `A ${diff.a.ref}`, `B ${diff.b.ref}`, "B − A"], rows.map((r) => [kind === "class" ? fmt.className(r.key, names) : String(r.key ?? "–"), fmt.number(r.a), fmt.number(r.b), delta(r.a, r.b)]), { numeric: [`A ${diff.a.ref}`, `B ${diff.b.ref}`, "B − A"] });
  const caption = (r) => `#${r.sample_id} · ${fmt.className(r.label, names)}${r.cluster === null ? "" : ` · c${r.cluster}`}`;
  const go = (o) => route.go({ a: p.a, b: p.b, offset: o });
  main.append(
    h("p", { id: "diff-summary" },
      link(`#/subsets/${segment(diff.a.name)}/${diff.a.version}`, diff.a.ref), ` keeps ${fmt.number(diff.a.n)}, `,
      link(`#/subsets/${segment(diff.b.name)}/${diff.b.version}`, diff.b.ref), ` keeps ${fmt.number(diff.b.n)}; both keep ${fmt.number(diff.both)}, only A ${fmt.number(diff.only_a.total)}, only B ${fmt.number(diff.only_b.total)}.`,
      diff.same_clustering ? "" : " The two were selected over different clusterings: their cluster numbers are not comparable."),
    h("div", { class: "two" }, section("per class", counts("class", diff.classes)), section("per cluster", counts("cluster", diff.clusters))),
    h("div", { class: "two" },
      section(`only in A (${fmt.number(diff.only_a.total)})`, pager(diff.only_a.total, offset, LIMIT, go), h("div", { id: "only-a" }, sampleGrid(diff.source, diff.only_a.rows, caption))),
      section(`only in B (${fmt.number(diff.only_b.total)})`, pager(diff.only_b.total, offset, LIMIT, go), h("div", { id: "only-b" }, sampleGrid(diff.source, diff.only_b.rows, caption)))),
  );
}
