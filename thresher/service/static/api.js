// Talking to the service: JSON in and out, the CSRF header on every state change (service/security.py),
// and every refusal shown as one line in the page's error bar.

export class ApiError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function request(method, url, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET") options.headers["X-Thresher-Request"] = "1";
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new ApiError(`the server did not answer (${error.message})`, 0, null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const detail = data && typeof data === "object" && data.detail ? data.detail : `${response.status} ${response.statusText}`;
    throw new ApiError(typeof detail === "string" ? detail : JSON.stringify(detail), response.status, data?.field ?? null);
  }
  return data;
}

export const get = (url) => request("GET", url);
export const post = (url, body) => request("POST", url, body);
export const del = (url) => request("DELETE", url);

// A URL with its query: undefined, null and "" values are left out.
export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function segment(text) {
  return encodeURIComponent(String(text));
}

export function thumbnailUrl(source, sampleId, size = 64) {
  return url(`/api/thumbnails/${segment(source)}/${Number(sampleId)}`, { size });
}

export function showError(message) {
  const bar = document.getElementById("error");
  if (!bar) return;
  bar.textContent = message ? `error: ${message}` : "";
  bar.hidden = !message;
}

// Run an async action; a failure becomes the one-line error, never an unhandled rejection.
export async function attempt(action) {
  try {
    showError("");
    return await action();
  } catch (error) {
    showError(error.message || String(error));
    return undefined;
  }
}
