// The service's live events (Server-Sent Events on /api/events): job state changes and progress.
// One EventSource for the whole app; pages subscribe while they are shown.

const listeners = new Set();
let source = null;

function connect() {
  source = new EventSource("/api/events");
  for (const type of ["job", "progress"]) {
    source.addEventListener(type, (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      for (const listener of listeners) listener(event);
    });
  }
  source.addEventListener("open", () => document.body.classList.remove("offline"));
  source.addEventListener("error", () => document.body.classList.add("offline"));
}

// listener(event) for every event; returns the function that stops it.
export function subscribe(listener) {
  if (source === null) connect();
  listeners.add(listener);
  return () => listeners.delete(listener);
}
