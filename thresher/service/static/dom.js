// Building the page's elements. Every string goes in as text (textContent / text nodes), never as HTML:
// class names, subset names, card text and SQL results come from data (docs/architecture.md, 'The service').

// h("a", {href: "#/x", class: "link", on: {click: fn}}, "text", child, ...): an element with attributes,
// event listeners and children (strings become text nodes; null/false children are skipped).
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (key === "class") {
      element.className = value;
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key in element && typeof value !== "string") {
      element[key] = value; // properties such as value, checked, disabled, max
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

// A table from column names and rows (arrays of cells: strings, numbers or nodes).
export function table(columns, rows, { className = "data", numeric = [] } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: numeric.includes(c) ? "num" : null }, c)));
  const body = rows.map((row) =>
    h("tr", {}, row.map((cell, i) => h("td", { class: numeric.includes(columns[i]) ? "num" : null }, cell ?? "–"))),
  );
  return h("table", { class: className }, h("thead", {}, head), h("tbody", {}, body));
}

// Two columns of key → value (a record's fields).
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter((p) => p).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
}

export function link(href, text, attributes = {}) {
  return h("a", { href, ...attributes }, text);
}

export function section(title, ...children) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}

export function loading(text = "loading…") {
  return h("p", { class: "muted" }, text);
}
