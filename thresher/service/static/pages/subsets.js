// Subsets and versions: the list; one version's counts before/after per class and cluster, its kept
// samples, its dataset card (rendered by the server with every string escaped) and its gallery.
import { get, segment, url } from "../api.js";
import { facts, h, link, loading, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { pager, sampleGrid } from "../grid.js";
import { safeFragment } from "../safe_html.js";

const LIMIT = 60;

function countsTable(kind, before, after, names) {
  const keys = Object.keys(before || {});
  if (!keys.length) return h("p", { class: "muted" }, `no ${kind}es`);
  return table(
    [kind, "before", "after", "kept"],
    keys.map((k) => {
      const b = before[k], a = (after || {})[k] ?? 0;
      return [kind === "class" ? fmt.className(Number(k), names) : k, fmt.number(b), fmt.number(a), fmt.percent(b ? a / b : 0)];
    }),
    { numeric: ["before", "after", "kept"] },
  );
}

async function list(main) {
  const subsets = await get("/api/subsets");
  const rows = subsets.flatMap((s) =>
    s.versions.map((v) => [link(`#/subsets/${segment(s.name)}/${v.version}`, `${s.name}@v${v.version}`), v.source, v.method, fmt.number(v.n), fmt.number(v.n_source), fmt.when(v.created), v.destination || "–"]),
  );
  main.append(
    h("h1", {}, "subsets"),
    rows.length ? table(["version", "source", "method", "kept", "of", "created", "published to"], rows, { numeric: ["kept", "of"] }) : h("p", { class: "muted" }, "no subsets yet: run `select` from the dashboard"),
  );
}

async function cardInto(holder, base) {
  try {
    const card = await get(`${base}/card`);
    holder.replaceChildren(h("div", { class: "card-html", id: "card" }, safeFragment(card.html)));
  } catch (error) {
    holder.replaceChildren(h("p", { class: "muted" }, `no card: ${error.message}`));
  }
}

async function galleryInto(holder, base) {
  try {
    const gallery = await get(`${base}/gallery`);
    if (gallery.error) {
      holder.replaceChildren(h("p", { class: "muted" }, gallery.error));
      return;
    }
    holder.replaceChildren(
      h("p", {}, h("a", { href: gallery.page, target: "_blank", rel: "noopener", id: "gallery-page" }, "the gallery as one page ›")),
      h("div", { class: "gallery", id: "gallery" }, gallery.images.map((i) => h("figure", {}, h("img", { src: i.url, alt: i.caption }), h("figcaption", {}, i.caption)))),
    );
  } catch (error) {
    holder.replaceChildren(h("p", { class: "muted" }, `no gallery: ${error.message}`));
  }
}

export async function render(main, route) {
  if (!route.args.length) return list(main);
  const [name, version = "latest"] = route.args;
  const base = `/api/subsets/${segment(name)}/versions/${segment(version)}`;
  const offset = Number(route.params.offset || 0);
  const [row, kept, all] = await Promise.all([get(base), get(url(`${base}/samples`, { offset, limit: LIMIT })), get("/api/subsets")]);
  const names = row.label_names;
  const stats = row.stats;
  const ref = `${row.name}@v${row.version}`;
  const others = all.flatMap((s) => s.versions.map((v) => `${s.name}@v${v.version}`)).filter((r) => r !== ref);
  const against = h("select", { id: "diff-against" }, others.map((r) => h("option", { value: r }, r)));
  const compare = h("button", { type: "button", id: "diff-button", disabled: !others.length, on: { click: () => { location.hash = `#/diff?` + new URLSearchParams({ a: ref, b: against.value }); } } }, "diff");
  const cardHolder = h("div", {}, loading("drawing the card…"));
  const galleryHolder = h("div", {}, loading("drawing the gallery…"));
  main.append(
    h("h1", {}, `subset ${ref}`),
    facts([
      ["source", link(`#/sources/${segment(row.source)}`, row.source)],
      ["method", row.method],
      ["kept", `${fmt.number(row.n)} of ${fmt.number(row.n_source)} (${fmt.percent(row.n / row.n_source)})`],
      ["parameters", Object.entries(row.params).filter(([, v]) => v !== null && v !== false).map(([k, v]) => `${k}=${v}`).join("  ")],
      ["score run", row.score_run ? link(`#/scores/${segment(row.score_run)}`, row.score_run) : "–"],
      ["created", fmt.when(row.created)],
      ["published to", row.destination || "not published"],
      ["files", row.folder],
    ]),
    h("p", {}, "compare with ", against, " ", compare),
    h("div", { class: "two" }, section("classes", countsTable("class", stats.class_counts_before, stats.class_counts_after, names)), section("clusters", countsTable("cluster", stats.cluster_counts_before, stats.cluster_counts_after, names))),
    section("kept samples", pager(kept.total, offset, LIMIT, (o) => route.go({ offset: o })), sampleGrid(row.source, kept.rows, (r) => `#${r.sample_id} · ${fmt.className(r.label, names)}${r.cluster === null ? "" : ` · c${r.cluster}`}`)),
    section("gallery", galleryHolder),
    section("dataset card", cardHolder),
  );
  await Promise.all([galleryInto(galleryHolder, base), cardInto(cardHolder, base)]);
}
