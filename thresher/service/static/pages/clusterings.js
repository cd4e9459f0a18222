// Clusterings: the list, and one clustering's clusters, largest first: size, purity, majority class and a
// strip of the samples nearest the centroid.
import { get, segment, url } from "../api.js";
import { facts, h, link, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { pager, strip } from "../grid.js";

const LIMIT = 20;

export async function render(main, route) {
  if (!route.args.length) {
    const runs = await get("/api/clusterings");
    main.append(
      h("h1", {}, "clusterings"),
      runs.length
        ? table(["clustering", "source", "k", "embedder", "finished"], runs.map((r) => [link(`#/clusterings/${segment(r.id)}`, r.id), r.source, r.k, r.embedder, fmt.when(r.finished)]))
        : h("p", { class: "muted" }, "no clusterings yet: run `cluster` from the dashboard"),
    );
    return;
  }
  const id = route.args[0];
  const offset = Number(route.params.offset || 0);
  const [run, source] = await Promise.all([
    get(url(`/api/clusterings/${segment(id)}`, { offset, limit: LIMIT, strip: 12 })),
    get("/api/sources"),
  ]);
  const names = source.find((s) => s.id === run.source)?.label_names;
  const clusters = run.clusters.map((c) =>
    h("div", { class: "cluster", dataset: { cluster: c.cluster } },
      h("div", { class: "cluster-head" },
        h("strong", {}, `cluster ${c.cluster}`),
        h("span", {}, `${fmt.number(c.size)} samples`),
        h("span", {}, c.purity === null ? "no labels" : `purity ${fmt.percent(c.purity)}, majority ${fmt.className(c.majority_label, names)}`),
        h("span", { class: "muted" }, `mean distance ${fmt.number(c.mean_distance)}`),
        link(`#/sources/${segment(run.source)}?clustering=${encodeURIComponent(id)}&cluster=${c.cluster}`, "all samples ›")),
      strip(run.source, c.strip, { title: (sample) => `#${sample} (cluster ${c.cluster})` })),
  );
  main.append(
    h("h1", {}, `clustering ${id}`),
    facts([["source", link(`#/sources/${segment(run.source)}`, run.source)], ["k", run.k], ["embedder", run.embedder], ["samples", fmt.number(run.n)], ["mean purity", fmt.percent(run.mean_purity)], ["finished", fmt.when(run.finished)]]),
    section("clusters, largest first (strips: nearest the centroid first)", pager(run.total, offset, LIMIT, (o) => route.go({ offset: o })), h("div", { class: "clusters" }, clusters)),
  );
}
