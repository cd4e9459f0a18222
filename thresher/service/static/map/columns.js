// The map's binary columns (service/map_points.py): "TMP1", a uint32 header length, a JSON header naming
// each column's dtype, offset and length, then the columns, little-endian. Decoding makes typed-array
// views on the response's buffer, no copies (every browser WebGL runs on is little-endian).
import { ApiError } from "../api.js";

const TYPES = { float32: Float32Array, uint32: Uint32Array, uint16: Uint16Array, uint8: Uint8Array };

export function decodeColumns(buffer) {
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "TMP1") throw new Error("the server's answer is not map points");
  const length = new DataView(buffer).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  const columns = {};
  for (const column of header.columns) {
    const Type = TYPES[column.dtype];
    if (!Type) throw new Error(`unknown column type ${column.dtype}`);
    columns[column.name] = new Type(buffer, column.offset, column.length);
  }
  return { n: header.n, columns, bytes: buffer.byteLength };
}

// GET (or POST with a JSON body) a binary answer and decode it; a refusal is an ApiError with its message.
export async function fetchColumns(url, body) {
  const options = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.method = "POST";
    options.headers = { "Content-Type": "application/json", "X-Thresher-Request": "1" };
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(String(detail), response.status, null);
  }
  return decodeColumns(await response.arrayBuffer());
}

// Colours. A point's colour is a palette index 0..254 (255: no value), so every colouring is one byte per
// point on the graphics card and one 256-entry palette.
export const NONE = 255;
const CATEGORIES = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#79706e",
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79",
];
const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]; // viridis, low to high
const MISSING = "#cfd3d8";
export const KEPT = "#2f6fb5";
export const REMOVED = "#d9a441";

function rgb(hex) {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

function palette(colourOf) {
  const out = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = rgb(i === NONE ? MISSING : colourOf(i));
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}

export function categoryColour(code) {
  return CATEGORIES[code % CATEGORIES.length];
}

export function rampColour(t) {
  const scaled = Math.min(Math.max(t, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(scaled), RAMP.length - 2);
  const [a, b] = [rgb(RAMP[i]), rgb(RAMP[i + 1])];
  const f = scaled - i;
  return `#${a.map((v, k) => Math.round(v + (b[k] - v) * f).toString(16).padStart(2, "0")).join("")}`;
}

// The palette indices and palette of a column: class or cluster codes (uint8/uint16, the dtype's largest
// value = none), kept (0/1) or scores (float32, NaN = none, scaled over the legend's range).
export function colouring(kind, values, legend) {
  const n = values.length;
  if (kind === "kept") {
    return { codes: values, palette: palette((i) => (i === 1 ? KEPT : i === 0 ? REMOVED : MISSING)) };
  }
  if (kind === "score") {
    const codes = new Uint8Array(n);
    const low = legend.min ?? 0, span = (legend.max ?? 1) - low || 1;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      codes[i] = Number.isNaN(v) ? NONE : Math.round(((v - low) / span) * 254);
    }
    return { codes, palette: palette((i) => rampColour(i / 254)) };
  }
  let codes = values;
  if (!(values instanceof Uint8Array)) {
    // uint16 codes: 240 is a multiple of the palette's length, so code c keeps its colour
    codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) codes[i] = values[i] === legend.missing ? NONE : values[i] % 240;
  }
  return { codes, palette: palette(categoryColour) };
}
