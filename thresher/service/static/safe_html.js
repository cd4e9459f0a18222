// HTML the server rendered from Markdown (a dataset card, a sweep report), put into the page through an
// allow-list. The server already escapes every string of the Markdown (service/markdown_html.py); this is
// the second wall: the text is parsed by DOMParser (which runs nothing) and only known elements and
// attributes are copied, links only to this server or http(s), pictures only from this server.

const ELEMENTS = new Set([
  "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
  "code", "pre", "em", "strong", "a", "img", "blockquote", "hr", "br",
]);

function safeUrl(value, { images }) {
  if (!value) return null;
  if (value.startsWith("/api/")) return value;
  if (!images && /^https?:\/\//i.test(value)) return value;
  return null;
}

function copy(node) {
  if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.textContent);
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const tag = node.tagName.toLowerCase();
  if (!ELEMENTS.has(tag)) {
    // an unknown element keeps only its text
    return document.createTextNode(node.textContent);
  }
  const out = document.createElement(tag);
  if (tag === "a") {
    const href = safeUrl(node.getAttribute("href"), { images: false });
    if (href) out.setAttribute("href", href);
    if (href && !href.startsWith("/")) out.setAttribute("rel", "noopener noreferrer");
  }
  if (tag === "img") {
    const src = safeUrl(node.getAttribute("src"), { images: true });
    if (src) out.setAttribute("src", src);
    out.setAttribute("alt", node.getAttribute("alt") || "");
  }
  const className = node.getAttribute("class");
  if ((tag === "th" || tag === "td") && ["left", "right", "center"].includes(className)) out.className = className;
  for (const child of node.childNodes) {
    const copied = copy(child);
    if (copied) out.append(copied);
  }
  return out;
}

export function safeFragment(html) {
  const parsed = new DOMParser().parseFromString(String(html), "text/html");
  const fragment = document.createDocumentFragment();
  for (const child of parsed.body.childNodes) {
    const copied = copy(child);
    if (copied) fragment.append(copied);
  }
  return fragment;
}
