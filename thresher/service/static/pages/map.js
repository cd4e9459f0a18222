// The embedding map (docs/architecture.md, 'The embedding map'): every point of a layout drawn with WebGL
// from binary columns (map/renderer.js), coloured by class, cluster, kept/removed or a score; pan and zoom;
// hover shows the sample's thumbnail, a click opens it; a lasso or box previews the samples inside
// (counts and a gallery, computed by the server), saves them as a subset (a `select --method ids` job)
// and publishes it, each job followed to its end.
//
// Routes: #/map (the layouts, and a form to compute one), #/map/<layout>?color=label|cluster:RUN|kept:REF|score:RUN
// (&renderer=webgl or canvas overrides the choice of map/renderer.js).
import { attempt, get, post, segment, thumbnailUrl, url } from "../api.js";
import { append, facts, h, link, loading, section, table } from "../dom.js";
import * as fmt from "../format.js";
import { sampleGrid } from "../grid.js";
import { colouring, fetchColumns } from "../map/columns.js";
import { GridIndex, View, bounds, insidePolygon } from "../map/geometry.js";
import { followJob, legendPanel, previewCounts } from "../map/panels.js";
import { createRenderer } from "../map/renderer.js";
import { saveForm } from "../map/subset_forms.js";

const PARAM = { cluster: "clustering", kept: "subset", score: "score_run" };
const SOURCE_PAGE = 60; // the sources page's grid: the page holding a sample starts at a multiple of it
const CLICK_SLOP = 4; // pixels a press may move and still be a click
const HOVER_RADIUS = 8; // pixels around the pointer a hovered point may be

// "label" | "cluster:RUN" | "kept:NAME@vN" | "score:RUN" → {column, query}
function parseColour(text) {
  const [column, ...rest] = String(text || "label").split(":");
  const value = rest.join(":");
  if (!(column in PARAM) || !value) return { column: "label", query: {}, text: "label" };
  return { column, query: { [PARAM[column]]: value }, text: `${column}:${value}` };
}

const pointsUrl = (id, columns, query = {}) => url(`/api/layouts/${segment(id)}/points`, { columns: columns.join(","), ...query });

async function list(main) {
  const [layouts, status] = await Promise.all([get("/api/layouts"), get("/api/status")]);
  const rows = layouts.map((l) => [link(`#/map/${segment(l.id)}`, l.id), l.source, l.embedder, l.method, fmt.number(l.n), fmt.when(l.finished)]);
  const embeddings = status.embeddings || [];
  const pick = h("select", { id: "layout-embedding" }, embeddings.map((e, i) => h("option", { value: String(i) }, `${e.source}: ${e.embedder}`)));
  const method = h("select", { id: "layout-method" }, ["pca", "umap"].map((m) => h("option", { value: m }, m)));
  const progress = h("div", { id: "layout-job" });
  const stops = [];
  const form = h("form", { class: "filters", id: "layout-form" },
    h("div", { class: "field" }, h("label", { for: "layout-embedding" }, "embeddings"), pick),
    h("div", { class: "field" }, h("label", { for: "layout-method" }, "method"), method),
    h("button", { type: "submit", disabled: !embeddings.length }, "compute layout"), progress);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = embeddings[Number(pick.value)];
    attempt(async () => {
      const job = await post("/api/jobs", { command: "layout", config: { source: chosen.source, embedder: chosen.embedder, method: method.value } });
      const [ended, stop] = followJob(job.id, progress);
      stops.push(stop);
      const view = await ended;
      const made = view.result?.result?.layout;
      if (made) progress.append(h("p", {}, "made ", link(`#/map/${segment(made)}`, made)));
    });
  });
  main.append(
    h("h1", {}, "embedding map"),
    rows.length ? table(["layout", "source", "embedder", "method", "points", "made"], rows, { numeric: ["points"] }) : h("p", { class: "muted" }, "no layouts yet: compute one from a source's embeddings"),
    section("compute a layout", embeddings.length ? form : h("p", { class: "muted" }, "no embeddings yet: run `embed` first")),
  );
  return () => stops.forEach((stop) => stop());
}

export async function render(main, route) {
  if (!route.args.length) return list(main);
  const id = route.args[0];
  const colour = parseColour(route.params.color);
  const [info, first, legend] = await Promise.all([
    get(`/api/layouts/${segment(id)}`),
    fetchColumns(pointsUrl(id, ["xy", colour.column], colour.query)),
    get(url(`/api/layouts/${segment(id)}/legend`, { column: colour.column, ...colour.query })),
  ]);
  performance.mark("map-points-received"); // the columns are here and decoded (benchmarks/map_scale.py)
  const map = new MapPage(main, route, info, first, colour, legend);
  await map.firstPaint();
  return () => map.leave();
}

class MapPage {
  constructor(main, route, info, first, colour, legend) {
    this.main = main;
    this.route = route;
    this.info = info;
    this.n = first.n;
    this.xy = first.columns.xy;
    this.bytes = first.bytes;
    this.colour = colour;
    this.values = first.columns[colour.column];
    this.legend = legend;
    this.ids = null; // the id column, fetched after the first paint
    this.index = null; // the grid index, built on the first hover
    this.tool = "pan";
    this.region = null; // the current lasso or box: {polygon} or {box}, in data coordinates
    this.stops = [];
    this.build();
  }

  build() {
    const info = this.info;
    const options = [["label", "class"], ...info.clusterings.map((r) => [`cluster:${r}`, `cluster: ${r}`]),
      ...info.subsets.map((s) => [`kept:${s}`, `kept by ${s}`]), ...info.score_runs.map((r) => [`score:${r}`, `score: ${r}`])];
    this.colourPicker = h("select", { id: "map-colour" }, options.map(([v, text]) => h("option", { value: v }, text)));
    this.colourPicker.value = this.colour.text;
    this.colourPicker.addEventListener("change", () => attempt(() => this.recolour(parseColour(this.colourPicker.value))));
    const tool = (name, text) => h("button", { type: "button", id: `map-tool-${name}`, class: name === this.tool ? "tool current" : "tool", on: { click: () => this.setTool(name) } }, text);
    this.tools = [tool("pan", "pan / zoom"), tool("lasso", "lasso"), tool("box", "box")];
    const toolbar = h("div", { class: "map-toolbar" },
      h("label", { for: "map-colour" }, "colour by "), this.colourPicker, ...this.tools,
      h("button", { type: "button", id: "map-fit", on: { click: () => { this.view.fit(); this.schedule(); } } }, "fit"),
      h("button", { type: "button", id: "map-clear", on: { click: () => this.clearSelection() } }, "clear selection"));
    this.canvas = h("canvas", { id: "map-canvas", class: "map-points" });
    this.overlay = h("canvas", { id: "map-overlay", class: "map-overlay" });
    this.tooltip = h("div", { id: "map-tooltip", class: "map-tooltip", hidden: true });
    this.stage = h("div", { class: "map-stage", id: "map-stage" }, this.canvas, this.overlay, this.tooltip);
    this.legendHolder = h("div", {}, legendPanel(this.colour.column, this.legend));
    this.sampleHolder = h("div", { id: "map-sample" }, h("p", { class: "muted" }, "hover a point to see it; click it to open it"));
    this.selectionHolder = h("div", { id: "map-selection" }, h("p", { class: "muted" }, "draw a lasso or a box around points to select them"));
    this.main.append(
      h("h1", {}, `map: ${info.id}`),
      facts([["source", link(`#/sources/${segment(info.source)}`, info.source)], ["embeddings", info.embedder], ["method", info.method], ["points", fmt.number(this.n)]]),
      toolbar,
      h("div", { class: "map-layout" }, this.stage,
        h("aside", { class: "map-side" }, section("legend", this.legendHolder), section("sample", this.sampleHolder), section("selection", this.selectionHolder))),
    );
  }

  async firstPaint() {
    const prefer = ["webgl", "canvas"].includes(this.route.params.renderer) ? this.route.params.renderer : "auto";
    this.renderer = createRenderer(this.canvas, prefer);
    this.canvas = this.renderer.canvas;
    this.view = new View(bounds(this.xy, this.n), 1, 1);
    this.fitCanvas();
    this.view.fit();
    this.renderer.setPoints(this.xy, this.n);
    const { codes, palette } = colouring(this.colour.column, this.values, this.legend);
    this.renderer.setColours(codes, palette);
    this.draw();
    this.renderer.finish();
    performance.mark("map-points-drawn"); // benchmarks/map_scale.py: navigation start to this mark
    this.canvas.dataset.drawn = String(this.n);
    this.canvas.dataset.renderer = this.renderer.kind;
    this.canvas.dataset.bytes = String(this.bytes);
    this.listen();
    fetchColumns(pointsUrl(this.info.id, ["id"])).then((answer) => {
      this.ids = answer.columns.id;
    }, () => {});
  }

  listen() {
    const overlay = this.overlay;
    const on = (target, type, handler, options) => {
      target.addEventListener(type, handler, options);
      this.stops.push(() => target.removeEventListener(type, handler, options));
    };
    on(overlay, "pointerdown", (e) => this.press(e));
    on(overlay, "pointermove", (e) => this.move(e));
    on(overlay, "pointerup", (e) => this.release(e));
    on(overlay, "pointerleave", () => this.hover(null));
    on(overlay, "wheel", (e) => {
      e.preventDefault();
      this.view.zoomAt(e.offsetX, e.offsetY, Math.exp(-e.deltaY * 0.0015));
      this.schedule();
    }, { passive: false });
    on(window, "resize", () => {
      this.fitCanvas();
      this.schedule();
    });
    on(window, "keydown", (e) => {
      if (e.key === "Escape") this.clearSelection();
    });
  }

  leave() {
    for (const stop of this.stops) stop();
    this.renderer?.release();
  }

  fitCanvas() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.stage.clientWidth, height = this.stage.clientHeight;
    for (const canvas of [this.canvas, this.overlay]) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    this.view.resize(width, height); // the same centre and scale: a resize shows more or less around them
  }

  pointSize() {
    const base = Math.min(Math.max(0.6 * Math.sqrt((this.view.width * this.view.height) / Math.max(this.n, 1)), 1), 6);
    return Math.min(base * Math.sqrt(this.view.zoom), 14);
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.draw();
    });
  }

  draw() {
    this.renderer.draw(this.view, this.pointSize());
    this.drawOverlay();
  }

  drawOverlay(trail = null) {
    const ratio = window.devicePixelRatio || 1;
    const context = this.overlay.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, this.view.width, this.view.height);
    context.lineWidth = 1.5;
    context.strokeStyle = "#1f2328";
    context.setLineDash([5, 4]);
    const outline = trail || (this.region ? this.polygonOf(this.region).map(([x, y]) => this.view.toScreen(x, y)) : null);
    if (outline && outline.length > 1) {
      context.beginPath();
      outline.forEach(([x, y], i) => (i ? context.lineTo(x, y) : context.moveTo(x, y)));
      context.closePath();
      context.stroke();
    }
    if (this.hovered !== undefined && this.hovered !== null) {
      const [x, y] = this.view.toScreen(this.xy[2 * this.hovered], this.xy[2 * this.hovered + 1]);
      context.setLineDash([]);
      context.beginPath();
      context.arc(x, y, Math.max(this.pointSize(), 3) + 2, 0, 2 * Math.PI);
      context.stroke();
    }
  }

  setTool(name) {
    this.tool = name;
    for (const button of this.tools) button.classList.toggle("current", button.id === `map-tool-${name}`);
    this.overlay.dataset.tool = name;
  }

  press(e) {
    this.overlay.setPointerCapture(e.pointerId);
    this.drag = { x: e.offsetX, y: e.offsetY, lastX: e.offsetX, lastY: e.offsetY, trail: [[e.offsetX, e.offsetY]], moved: 0 };
  }

  move(e) {
    const drag = this.drag;
    if (!drag) return this.hover(e);
    const [x, y] = [e.offsetX, e.offsetY];
    drag.moved = Math.max(drag.moved, Math.hypot(x - drag.x, y - drag.y));
    if (this.tool === "pan") {
      this.view.panBy(x - drag.lastX, y - drag.lastY);
      this.schedule();
    } else if (this.tool === "lasso") {
      const [px, py] = drag.trail.at(-1);
      if (Math.hypot(x - px, y - py) >= 3) drag.trail.push([x, y]);
      this.drawOverlay(drag.trail);
    } else {
      this.drawOverlay([[drag.x, drag.y], [x, drag.y], [x, y], [drag.x, y]]);
    }
    drag.lastX = x;
    drag.lastY = y;
  }

  release(e) {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    if (drag.moved < CLICK_SLOP) {
      if (this.tool === "pan") this.open(this.pick(e.offsetX, e.offsetY));
      this.drawOverlay();
      return;
    }
    if (this.tool === "lasso" && drag.trail.length >= 3) {
      attempt(() => this.select({ polygon: drag.trail.map(([x, y]) => this.view.toData(x, y)) }));
    } else if (this.tool === "box") {
      const [x0, y0] = this.view.toData(drag.x, drag.y), [x1, y1] = this.view.toData(e.offsetX, e.offsetY);
      attempt(() => this.select({ box: [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)] }));
    } else {
      this.drawOverlay();
    }
  }

  pick(px, py) {
    if (!this.index) this.index = new GridIndex(this.xy, this.n, this.view.box);
    const [x, y] = this.view.toData(px, py);
    const found = this.index.nearest(x, y, HOVER_RADIUS / this.view.scale);
    return found < 0 ? null : found;
  }

  hover(e) {
    const found = e ? this.pick(e.offsetX, e.offsetY) : null;
    if (found === this.hovered) return;
    this.hovered = found;
    this.drawOverlay();
    if (found === null || !this.ids) {
      this.tooltip.hidden = true;
      return;
    }
    const sampleId = this.ids[found];
    this.tooltip.replaceChildren(h("img", { src: thumbnailUrl(this.info.source, sampleId, 128), alt: `#${sampleId}`, width: 128, height: 128 }), h("div", {}, this.caption(found)));
    this.tooltip.dataset.sampleId = String(sampleId);
    const [x, y] = this.view.toScreen(this.xy[2 * found], this.xy[2 * found + 1]);
    this.tooltip.style.left = `${Math.min(x + 12, this.view.width - 150)}px`; // CSSOM, allowed by the CSP
    this.tooltip.style.top = `${Math.max(y - 150, 4)}px`;
    this.tooltip.hidden = false;
  }

  caption(position) {
    const parts = [`#${this.ids ? this.ids[position] : "?"}`];
    const value = this.values[position];
    if (this.colour.column === "score") parts.push(`score ${fmt.number(value)}`);
    else if (this.colour.column === "kept") parts.push(value === 1 ? "kept" : "removed");
    else {
      const entry = this.legend.entries.find((entry) => entry.code === value);
      parts.push(entry ? entry.text : `no ${this.colour.column}`);
    }
    return parts.join(" · ");
  }

  open(position) {
    if (position === null || !this.ids) return;
    const sampleId = this.ids[position];
    const source = this.info.source;
    const inGrid = `#/sources/${segment(source)}?offset=${Math.floor(sampleId / SOURCE_PAGE) * SOURCE_PAGE}`;
    this.sampleHolder.replaceChildren(
      h("img", { class: "map-sample-image", src: thumbnailUrl(source, sampleId, 256), alt: `sample ${sampleId}`, width: 256, height: 256 }),
      facts([["sample", String(sampleId)], ["colour", this.caption(position)]]),
      h("p", {}, link(inGrid, "in the source's grid ›", { id: "map-sample-link" })),
    );
    this.sampleHolder.dataset.sampleId = String(sampleId);
  }

  async recolour(colour) {
    const [answer, legend] = await Promise.all([
      fetchColumns(pointsUrl(this.info.id, [colour.column], colour.query)),
      get(url(`/api/layouts/${segment(this.info.id)}/legend`, { column: colour.column, ...colour.query })),
    ]);
    this.colour = colour;
    this.values = answer.columns[colour.column];
    this.legend = legend;
    const { codes, palette } = colouring(colour.column, this.values, legend);
    this.renderer.setColours(codes, palette);
    this.legendHolder.replaceChildren(legendPanel(colour.column, legend));
    const [path, query = ""] = location.hash.split("?");
    const params = new URLSearchParams(query);
    params.set("color", colour.text);
    history.replaceState(null, "", `${path}?${params}`); // the address names the colouring; no new render
    this.schedule();
  }

  polygonOf(region) {
    if (region.polygon) return region.polygon;
    const [x0, y0, x1, y1] = region.box;
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  }

  clearSelection() {
    this.region = null;
    this.renderer.setSelection(null);
    this.selectionHolder.replaceChildren(h("p", { class: "muted" }, "draw a lasso or a box around points to select them"));
    this.schedule();
  }

  async select(region) {
    this.region = region;
    const { mask, count } = insidePolygon(this.xy, this.n, this.polygonOf(region));
    this.renderer.setSelection(mask);
    this.schedule();
    this.selectionHolder.replaceChildren(loading(`${fmt.number(count)} points inside; counting…`));
    const clustering = this.colour.column === "cluster" ? this.colour.query.clustering : this.info.clusterings.length === 1 ? this.info.clusterings[0] : null;
    const preview = await post(`/api/layouts/${segment(this.info.id)}/preview`, { ...region, clustering });
    if (this.region !== region) return; // another selection since
    this.showPreview(region, preview);
  }

  showPreview(region, preview) {
    const gallery = preview.gallery.map((sampleId) => ({ sample_id: sampleId }));
    this.selectionHolder.replaceChildren();
    append(this.selectionHolder, [
      h("p", { id: "map-selected-count", dataset: { n: String(preview.n) } }, `${fmt.number(preview.n)} of ${fmt.number(preview.n_layout)} points selected`),
      preview.n === 0 ? h("p", { class: "muted" }, "nothing inside: a selection of no point cannot be saved") : null,
      previewCounts(preview, this.info.label_names),
      preview.n ? h("div", { id: "map-gallery" }, sampleGrid(this.info.source, gallery, (r) => `#${r.sample_id}`, { size: 64 })) : null,
      saveForm(this.info.id, region, preview.n === 0, this.stops),
    ]);
  }
}
