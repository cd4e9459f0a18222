// A grid of sample thumbnails with captions, and the pager under it.
import { thumbnailUrl } from "./api.js";
import { h } from "./dom.js";

// rows: [{sample_id, ...}]; caption(row) → the text under each thumbnail.
export function sampleGrid(source, rows, caption = (row) => `#${row.sample_id}`, { size = 64 } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, "no samples");
  return h(
    "div",
    { class: "grid" },
    rows.map((row) => {
      const text = caption(row);
      if (row.status && row.status !== "ok") {
        // a row ingest skipped has no image to show: its error instead
        return h("figure", { class: "sample", dataset: { sampleId: row.sample_id } }, h("div", { class: "no-image", title: row.error || row.status }, row.status), h("figcaption", {}, text));
      }
      const image = h("img", {
        src: thumbnailUrl(source, row.sample_id, size),
        alt: text,
        title: text,
        loading: "lazy",
        width: size,
        height: size,
      });
      image.addEventListener("error", () => image.classList.add("missing"));
      return h("figure", { class: "sample", dataset: { sampleId: row.sample_id } }, image, h("figcaption", {}, text));
    }),
  );
}

// A strip: thumbnails in one row, no captions.
export function strip(source, ids, { size = 64, title = (id) => `#${id}` } = {}) {
  return h(
    "div",
    { class: "strip" },
    ids.map((id) => {
      const image = h("img", { src: thumbnailUrl(source, id, size), alt: title(id), title: title(id) });
      image.addEventListener("error", () => image.classList.add("missing"));
      return image;
    }),
  );
}

// "1–60 of 899" with previous/next buttons; go(offset) is called with the new offset.
export function pager(total, offset, limit, go) {
  const last = Math.min(total, offset + limit);
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", disabled: offset <= 0, on: { click: () => go(Math.max(0, offset - limit)) } }, "‹ previous"),
    h("span", {}, total ? `${offset + 1}–${last} of ${total}` : "0 of 0"),
    h("button", { type: "button", disabled: last >= total, on: { click: () => go(offset + limit) } }, "next ›"),
  );
}
