// Sweeps: the list with progress, and one sweep's cells with their metrics and its report (rendered by the
// server with every string escaped).
import { get, segment } from "../api.js";
import { h, link, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { safeFragment } from "../safe_html.js";

const METRICS = ["fid", "kid", "precision", "recall", "density", "coverage", "vendi"];

export async function render(main, route) {
  if (!route.args.length) {
    const sweeps = await get("/api/sweeps");
    main.append(
      h("h1", {}, "sweeps"),
      sweeps.length
        ? table(["sweep", "cells done", "cells", "report"], sweeps.map((s) => [link(`#/sweeps/${segment(s.name)}`, s.name), fmt.number(s.done), fmt.number(s.cells), s.report ? "written" : "–"]), { numeric: ["cells done", "cells"] })
        : h("p", { class: "muted" }, "no sweeps yet"),
    );
    return;
  }
  const sweep = await get(`/api/sweeps/${segment(route.args[0])}`);
  const keys = [...new Set(sweep.cells.flatMap((c) => Object.keys(c.description || {})))];
  const metrics = METRICS.filter((m) => sweep.cells.some((c) => typeof c.metrics?.[m] === "number"));
  main.append(
    h("h1", {}, `sweep ${sweep.name}`),
    h("p", {}, `${sweep.cells.length} of ${sweep.total} cells finished · updated ${fmt.when(sweep.updated)}`),
    section(
      "cells",
      sweep.cells.length
        ? table([...keys, "subset", "run", ...metrics], sweep.cells.map((c) => [
            ...keys.map((k) => String(c.description?.[k] ?? "–")),
            c.subset || "–",
            c.run ? link(`#/runs/${segment(c.run)}`, c.run) : "–",
            ...metrics.map((m) => fmt.number(c.metrics?.[m])),
          ]))
        : h("p", { class: "muted" }, "no cell has finished yet"),
    ),
    section(
      "report",
      sweep.report_html
        ? [h("p", {}, h("a", { href: sweep.report_page, target: "_blank", rel: "noopener" }, "the report as one page ›")), h("div", { class: "card-html", id: "report" }, safeFragment(sweep.report_html))]
        : h("p", { class: "muted" }, "no report yet: run `report` with this sweep from the dashboard"),
    ),
  );
}
