// Pictures drawn on a <canvas>: a histogram and a line chart. Labels are drawn as canvas text, which is
// never parsed as markup.

const INK = "#222", GRID = "#ddd", BAR = "#4a78b5", HIGHLIGHT = "#d9822b";

function prepare(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = `${width}px`; // CSSOM, which the Content-Security-Policy allows (no inline style)
  canvas.style.height = `${height}px`;
  canvas.classList.add("chart");
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.clearRect(0, 0, width, height);
  context.font = "11px system-ui, sans-serif";
  return context;
}

function tick(value) {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  return magnitude >= 1e4 || magnitude < 1e-2 ? value.toExponential(1) : Number(value.toPrecision(3)).toString();
}

// Bars of counts over bin edges (edges.length == counts.length + 1). Returns the bin under an x position
// (for clicks), or -1.
export function histogram(canvas, edges, counts, { width = 640, height = 220, highlight = null, xLabel = "" } = {}) {
  const context = prepare(canvas, width, height);
  const left = 48, right = 12, top = 10, bottom = 36;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const top_count = Math.max(1, ...counts);
  context.strokeStyle = GRID;
  context.fillStyle = INK;
  context.textAlign = "right";
  for (let i = 0; i <= 4; i++) {
    const y = top + plotHeight - (plotHeight * i) / 4;
    context.beginPath();
    context.moveTo(left, y);
    context.lineTo(left + plotWidth, y);
    context.stroke();
    context.fillText(tick((top_count * i) / 4), left - 4, y + 4);
  }
  const barWidth = plotWidth / Math.max(1, counts.length);
  counts.forEach((count, i) => {
    const barHeight = (plotHeight * count) / top_count;
    context.fillStyle = highlight !== null && i === highlight ? HIGHLIGHT : BAR;
    context.fillRect(left + i * barWidth + 0.5, top + plotHeight - barHeight, Math.max(1, barWidth - 1), barHeight);
  });
  context.fillStyle = INK;
  context.textAlign = "center";
  if (edges.length) {
    for (const i of [0, Math.floor((edges.length - 1) / 2), edges.length - 1]) {
      context.fillText(tick(edges[i]), left + (plotWidth * i) / (edges.length - 1), top + plotHeight + 14);
    }
  }
  if (xLabel) context.fillText(xLabel, left + plotWidth / 2, height - 4);
  return (x) => {
    const bin = Math.floor((x - left) / barWidth);
    return bin >= 0 && bin < counts.length ? bin : -1;
  };
}

// A line through points [{x, y}], axes from the data.
export function lineChart(canvas, points, { width = 640, height = 240, xLabel = "", yLabel = "" } = {}) {
  const context = prepare(canvas, width, height);
  const left = 56, right = 12, top = 10, bottom = 36;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  if (!points.length) {
    context.fillText("no points", left, top + 20);
    return;
  }
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => left + (x1 === x0 ? plotWidth / 2 : ((x - x0) / (x1 - x0)) * plotWidth);
  const sy = (y) => top + plotHeight - (y1 === y0 ? plotHeight / 2 : ((y - y0) / (y1 - y0)) * plotHeight);
  context.strokeStyle = GRID;
  context.fillStyle = INK;
  context.textAlign = "right";
  for (let i = 0; i <= 4; i++) {
    const value = y0 + ((y1 - y0) * i) / 4;
    context.beginPath();
    context.moveTo(left, sy(value));
    context.lineTo(left + plotWidth, sy(value));
    context.stroke();
    context.fillText(tick(value), left - 4, sy(value) + 4);
  }
  context.textAlign = "center";
  context.fillText(tick(x0), left, top + plotHeight + 14);
  context.fillText(tick(x1), left + plotWidth, top + plotHeight + 14);
  if (xLabel) context.fillText(xLabel, left + plotWidth / 2, height - 4);
  if (yLabel) {
    context.save();
    context.translate(12, top + plotHeight / 2);
    context.rotate(-Math.PI / 2);
    context.fillText(yLabel, 0, 0);
    context.restore();
  }
  context.strokeStyle = BAR;
  context.lineWidth = 1.5;
  context.beginPath();
  points.forEach((p, i) => (i ? context.lineTo(sx(p.x), sy(p.y)) : context.moveTo(sx(p.x), sy(p.y))));
  context.stroke();
}
