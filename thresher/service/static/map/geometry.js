// Geometry of the map: the view (data ↔ screen ↔ clip space, pan and zoom), a grid index of the points
// for picking the one under the pointer, and point-in-polygon for the lasso's immediate highlight (the
// server decides what a saved lasso holds: service/map_selection.py).

export function bounds(xy, n) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (!(x1 >= x0)) return { x0: -1, y0: -1, x1: 1, y1: 1 };
  return { x0, y0, x1, y1 };
}

// One data unit is the same number of screen pixels on both axes (`scale`), so the layout keeps its shape.
export class View {
  constructor(box, width, height) {
    this.box = box;
    this.resize(width, height);
    this.fit();
  }

  resize(width, height) {
    this.width = Math.max(1, width);
    this.height = Math.max(1, height);
  }

  fit() {
    const { x0, y0, x1, y1 } = this.box;
    const spanX = Math.max(x1 - x0, 1e-9), spanY = Math.max(y1 - y0, 1e-9);
    this.scale = 0.92 * Math.min(this.width / spanX, this.height / spanY);
    this.fitted = this.scale;
    this.cx = (x0 + x1) / 2;
    this.cy = (y0 + y1) / 2;
  }

  get zoom() {
    return this.scale / this.fitted;
  }

  toScreen(x, y) {
    return [this.width / 2 + (x - this.cx) * this.scale, this.height / 2 - (y - this.cy) * this.scale];
  }

  toData(px, py) {
    return [this.cx + (px - this.width / 2) / this.scale, this.cy - (py - this.height / 2) / this.scale];
  }

  zoomAt(px, py, factor) {
    const [x, y] = this.toData(px, py);
    this.scale = Math.min(Math.max(this.scale * factor, this.fitted * 0.25), this.fitted * 4000);
    this.cx = x - (px - this.width / 2) / this.scale;
    this.cy = y + (py - this.height / 2) / this.scale;
  }

  panBy(dx, dy) {
    this.cx -= dx / this.scale;
    this.cy += dy / this.scale;
  }

  // clip = data * scale + offset, per axis (the vertex shader's uniforms)
  clip() {
    const sx = (2 * this.scale) / this.width, sy = (2 * this.scale) / this.height;
    return { scale: [sx, sy], offset: [-this.cx * sx, -this.cy * sy] };
  }
}

// Points bucketed by a grid over their bounds (a counting sort: one pass to count, one to place), so the
// point nearest the pointer is found among a few cells, not among every point.
export class GridIndex {
  constructor(xy, n, box) {
    this.xy = xy;
    this.box = box;
    this.size = Math.max(1, Math.ceil(Math.sqrt(n / 8)));
    const cells = this.size * this.size;
    this.cellWidth = Math.max((box.x1 - box.x0) / this.size, 1e-12);
    this.cellHeight = Math.max((box.y1 - box.y0) / this.size, 1e-12);
    const cellOf = new Uint32Array(n);
    this.start = new Uint32Array(cells + 1);
    for (let i = 0; i < n; i++) {
      const c = this.cell(xy[2 * i], xy[2 * i + 1]);
      cellOf[i] = c;
      this.start[c + 1] += 1;
    }
    for (let c = 0; c < cells; c++) this.start[c + 1] += this.start[c];
    const next = this.start.slice(0, cells);
    this.items = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.items[next[cellOf[i]]++] = i;
  }

  column(x) {
    return Math.min(this.size - 1, Math.max(0, Math.floor((x - this.box.x0) / this.cellWidth)));
  }

  row(y) {
    return Math.min(this.size - 1, Math.max(0, Math.floor((y - this.box.y0) / this.cellHeight)));
  }

  cell(x, y) {
    return this.row(y) * this.size + this.column(x);
  }

  // The point nearest (x, y) within `radius` (data units), or -1.
  nearest(x, y, radius) {
    let best = -1, bestDistance = radius * radius;
    const [c0, c1, r0, r1] = [this.column(x - radius), this.column(x + radius), this.row(y - radius), this.row(y + radius)];
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.size + c;
        for (let k = this.start[cell]; k < this.start[cell + 1]; k++) {
          const i = this.items[k];
          const dx = this.xy[2 * i] - x, dy = this.xy[2 * i + 1] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestDistance) {
            bestDistance = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
}

// 1 for every point inside `polygon` ([[x, y], ...]; even-odd rule), else 0; and how many.
export function insidePolygon(xy, n, polygon) {
  const mask = new Uint8Array(n);
  const box = bounds(polygon.flat(), polygon.length);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < box.x0 || x > box.x1 || y < box.y0 || y > box.y1) continue;
    let inside = false;
    for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
      const [xa, ya] = polygon[a], [xb, yb] = polygon[b];
      if (ya > y !== yb > y && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
    }
    if (inside) {
      mask[i] = 1;
      count += 1;
    }
  }
  return { mask, count };
}
