// The map's side panels: the legend of the current colouring, a job followed to its end (the service's
// events, with a look at the job now and then in case an event was missed), and a preview's counts.
import { get, segment } from "../api.js";
import { h, table } from "../dom.js";
import { subscribe } from "../events.js";
import * as fmt from "../format.js";
import { KEPT, REMOVED, categoryColour, rampColour } from "./columns.js";

const FINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
const SHOWN_ENTRIES = 40;

function swatch(colour) {
  const box = h("span", { class: "swatch" });
  box.style.background = colour; // CSSOM, which the Content-Security-Policy allows
  return box;
}

export function legendPanel(kind, legend) {
  if (kind === "score") {
    const ramp = h("canvas", { class: "ramp", width: 200, height: 10 });
    const context = ramp.getContext("2d");
    for (let x = 0; x < 200; x++) {
      context.fillStyle = rampColour(x / 199);
      context.fillRect(x, 0, 1, 10);
    }
    return h("div", { class: "legend", id: "map-legend" },
      h("p", {}, `score of ${legend.score_run}`), ramp,
      h("div", { class: "ramp-ends" }, h("span", {}, fmt.number(legend.min)), h("span", {}, fmt.number(legend.max))),
      legend.n_missing ? h("p", { class: "muted" }, `${fmt.number(legend.n_missing)} points without a score (grey)`) : null);
  }
  const entries = kind === "kept" ? legend.entries.map((e) => ({ ...e, colour: e.code === 1 ? KEPT : REMOVED })) : legend.entries.map((e) => ({ ...e, colour: categoryColour(e.code) }));
  const items = entries.slice(0, SHOWN_ENTRIES).map((e) => h("li", {}, swatch(e.colour), h("span", {}, e.text), h("span", { class: "muted" }, fmt.number(e.n))));
  return h("div", { class: "legend", id: "map-legend" },
    kind === "kept" ? h("p", {}, `kept by ${legend.subset}`) : null,
    h("ul", {}, items),
    entries.length > SHOWN_ENTRIES ? h("p", { class: "muted" }, `… ${entries.length - SHOWN_ENTRIES} more (colours repeat)`) : null,
    legend.n_missing ? h("p", { class: "muted" }, `${fmt.number(legend.n_missing)} points without a ${kind} (grey)`) : null);
}

// The counts of a preview (POST /api/layouts/{id}/preview) as two tables.
export function previewCounts(preview, labelNames) {
  const classRows = preview.classes.map((c) => [c.label < 0 ? "none" : fmt.className(c.label, labelNames), fmt.number(c.n), fmt.number(c.of)]);
  const out = [h("div", { class: "map-counts" }, table(["class", "selected", "of"], classRows, { numeric: ["selected", "of"] }))];
  if (preview.clusters) {
    const clusterRows = preview.clusters.filter((c) => c.n > 0).map((c) => [c.cluster < 0 ? "none" : String(c.cluster), fmt.number(c.n), fmt.number(c.of)]);
    out.push(h("div", { class: "map-counts" }, table([`cluster (${preview.clustering})`, "selected", "of"], clusterRows, { numeric: ["selected", "of"] })));
  }
  return out;
}

// Follow job `id` in `holder` (a bar and a line of text) until it ends; resolves with its final view.
// Returns [promise, stop]: stop() ends the following when the page is left.
export function followJob(id, holder) {
  const bar = h("progress", { max: 1 });
  const text = h("span", { class: "bar-text" }, "queued");
  holder.replaceChildren(h("div", { class: "bar" }, bar, text));
  holder.dataset.job = id;
  holder.dataset.state = "queued";
  let ended = false, timer = null, unsubscribe = () => {};
  const stop = () => {
    ended = true;
    unsubscribe();
    clearInterval(timer);
  };
  const promise = new Promise((resolve) => {
    const look = async () => {
      if (ended) return;
      let view;
      try {
        view = await get(`/api/jobs/${segment(id)}`);
      } catch {
        return; // the next look tries again
      }
      if (ended || !FINAL.has(view.state)) return;
      stop();
      bar.max = 1;
      bar.value = view.state === "succeeded" ? 1 : 0;
      text.textContent = view.state === "succeeded" ? `done in ${fmt.duration(view.finished - view.started)}` : `${view.state}: ${view.error || ""}`;
      holder.dataset.state = view.state;
      resolve(view);
    };
    unsubscribe = subscribe((event) => {
      if (event.job !== id || ended) return;
      if (event.type === "progress" && event.event.kind !== "note") {
        const e = event.event;
        if (e.total) {
          bar.max = Math.max(e.total, 1e-9);
          bar.value = Math.min(e.done, e.total);
        }
        text.textContent = [e.stage, e.total ? `${fmt.number(e.done)}/${fmt.number(e.total)} ${e.unit}` : ""].filter(Boolean).join(" · ");
      } else if (event.type === "job") {
        if (FINAL.has(event.record.state)) look(); // its state is shown once its result is read
        else {
          holder.dataset.state = event.record.state;
          text.textContent = event.record.state;
        }
      }
    });
    timer = setInterval(look, 2000);
    look();
  });
  return [promise, stop];
}
