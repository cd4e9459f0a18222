// The web app: hash routes (#/page/arg/...?key=value) to page modules loaded by name from pages/.
//
// A page is a module pages/<name>.js exporting `render(main, route)`, which fills `main` and may return a
// function to call when the page is left (to stop listening to events). route = {page, args, params,
// go(params)}. Adding a page is adding its module and its name to NAV (the embedding map: pages/map.js
// and {page: "map", label: "map"}).
import { showError } from "./api.js";
import { h } from "./dom.js";

export const NAV = [
  { page: "dashboard", label: "dashboard" },
  { page: "sources", label: "sources" },
  { page: "map", label: "map" },
  { page: "clusterings", label: "clusterings" },
  { page: "scores", label: "score runs" },
  { page: "subsets", label: "subsets" },
  { page: "diff", label: "diff" },
  { page: "runs", label: "training runs" },
  { page: "sweeps", label: "sweeps" },
  { page: "console", label: "SQL console" },
];
const PAGE_NAME = /^[a-z][a-z0-9_]*$/;

let leave = null;
let rendering = 0;

export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#\/?/, "");
  const [path, query = ""] = text.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query));
  return { page: parts[0] || "dashboard", args: parts.slice(1), params };
}

export function hashOf(page, args = [], params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const path = [page, ...args].map((p) => encodeURIComponent(String(p))).join("/");
  const text = query.toString();
  return `#/${path}${text ? `?${text}` : ""}`;
}

function drawNav(current) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(
    ...NAV.map(({ page, label }) => h("a", { href: `#/${page}`, class: page === current ? "current" : null }, label)),
    h("a", { href: "/docs", class: "api-docs" }, "API"),
  );
}

async function route() {
  const ticket = ++rendering;
  const hash = location.hash || "#/dashboard";
  const { page, args, params } = parseHash(hash);
  if (leave) {
    leave();
    leave = null;
  }
  showError("");
  drawNav(page);
  const main = document.getElementById("main");
  if (!PAGE_NAME.test(page)) {
    main.replaceChildren(h("p", {}, "no such page"));
    return;
  }
  let module;
  try {
    module = await import(`./pages/${page}.js`);
  } catch {
    main.replaceChildren(h("p", {}, "no such page"));
    return;
  }
  if (ticket !== rendering) return; // the user went on meanwhile
  // Each route renders into a container of its own: a render still awaiting its data when the user (or a
  // reload) goes on finishes into a detached container, never beside the newer page in main.
  const view = h("div", { class: "page" });
  main.replaceChildren(view);
  delete main.dataset.ready;
  main.dataset.page = page;
  const go = (next) => {
    location.hash = hashOf(page, args, next);
  };
  try {
    const stop = await module.render(view, { page, args, params, go });
    if (ticket === rendering) leave = typeof stop === "function" ? stop : null;
    else if (typeof stop === "function") stop();
  } catch (error) {
    showError(error.message || String(error));
  }
  if (ticket === rendering) main.dataset.ready = hash; // which route the page shows, finished (for tests)
}

window.addEventListener("hashchange", route);
route();
