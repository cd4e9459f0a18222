// Score runs: the list, and one run's histogram (bins computed by the server, drawn on a canvas); a click
// on a bar opens the grid of the samples in that score range.
import { get, segment, url } from "../api.js";
import { facts, h, link, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { histogram } from "../charts.js";

const BINS = [10, 20, 40, 80, 160];

export async function render(main, route) {
  if (!route.args.length) {
    const runs = await get("/api/score_runs");
    main.append(
      h("h1", {}, "score runs"),
      runs.length
        ? table(["run", "kind", "method", "source", "finished"], runs.map((r) => [link(`#/scores/${segment(r.id)}`, r.id), r.kind, r.method, r.source, fmt.when(r.finished)]))
        : h("p", { class: "muted" }, "no score runs yet"),
    );
    return;
  }
  const id = route.args[0];
  const bins = Number(route.params.bins || 40);
  const run = await get(url(`/api/score_runs/${segment(id)}`, { bins }));
  const canvas = h("canvas", { id: "histogram", "aria-label": `histogram of the scores of ${id}` });
  const hint = h("p", { class: "muted" }, "click a bar to see its samples");
  const picker = h("select", { id: "bins" }, BINS.map((b) => h("option", { value: String(b) }, `${b} bins`)));
  picker.value = String(bins);
  picker.addEventListener("change", () => route.go({ bins: picker.value }));
  main.append(
    h("h1", {}, `score run ${id}`),
    facts([["kind", run.kind], ["method", run.method], ["source", link(`#/sources/${segment(run.source)}`, run.source)], ["samples", fmt.number(run.n)], ["without a score", fmt.number(run.n_missing)], ["range", `${fmt.number(run.min)} … ${fmt.number(run.max)}`], ["mean", fmt.number(run.mean)], ["finished", fmt.when(run.finished)]]),
    section("histogram", picker, canvas, hint),
    section("config", h("pre", { class: "config" }, JSON.stringify(run.config, null, 1))),
  );
  const binAt = histogram(canvas, run.edges, run.counts, { xLabel: "score" });
  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    const drawn = canvas.width / (window.devicePixelRatio || 1); // the CSS box may be narrower than drawn
    const bin = binAt(((event.clientX - box.left) * drawn) / box.width);
    if (bin < 0) return;
    location.hash = `#/sources/${segment(run.source)}?` + new URLSearchParams({ score_run: id, min: run.edges[bin], max: run.edges[bin + 1] });
  });
}
