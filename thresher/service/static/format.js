// Numbers, durations and rates as people read them.

export function number(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return Number(value.toPrecision(digits)).toString();
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function rate(value, unit) {
  if (!value) return "";
  return value >= 1 ? `${number(value)} ${unit}/s` : `${number(1 / value)} s/${unit}`;
}

export function when(timestamp) {
  if (!timestamp) return "–";
  const date = typeof timestamp === "number" ? new Date(timestamp * 1000) : new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toLocaleString();
}

// The name of a class: "3 (cat)" when the names say more than the id.
export function className(label, names) {
  if (label === null || label === undefined) return "–";
  const name = names && label >= 0 && label < names.length ? String(names[label]) : null;
  return name === null || name === String(label) ? String(label) : `${label} (${name})`;
}
