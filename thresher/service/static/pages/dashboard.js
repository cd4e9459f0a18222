// The dashboard: what is in the workspace, every job with its live progress (bar, rate, ETA) fed by the
// service's events, cancel and retry, and a form for a new job of any command.
import { attempt, del, get, post, segment } from "../api.js";
import { append, h, link, section } from "../dom.js";
import { subscribe } from "../events.js";
import * as fmt from "../format.js";
import { commandFields, formValues, markInvalid } from "../jobform.js";

const FINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2, interrupted: 2 };

class JobView {
  constructor(record, defaults) {
    this.record = record;
    this.defaults = defaults;
    this.tasks = new Map(); // open tasks: task id → latest event
    this.last = null; // the latest event of the outermost task, kept when it ends
    this.notes = [];
    this.seen = 0; // progress events received live
    this.element = h("li", { class: "job" });
    this.logShown = false;
  }

  progress(summary) {
    if (!summary) return;
    for (const event of [summary.main, ...(summary.inner || [])].filter(Boolean)) this.tasks.set(event.task, event);
    this.notes = summary.notes || [];
  }

  event(event) {
    this.seen += 1;
    if (event.kind === "note") {
      this.notes = [...this.notes, event.message].slice(-5);
      return;
    }
    const outermost = this.tasks.size ? Math.min(...this.tasks.keys()) : event.task;
    if (event.task <= outermost) this.last = event;
    if (event.kind === "end") this.tasks.delete(event.task);
    else this.tasks.set(event.task, event);
  }

  bar(event, className) {
    const total = event.total ?? null;
    const value = total === null ? null : Math.min(event.done, total);
    const progress = h("progress", { class: className, max: total === null ? null : Math.max(total, 1e-9) });
    if (value !== null) progress.value = value;
    const parts = [
      event.stage,
      total === null ? `${fmt.number(event.done)} ${event.unit}` : `${fmt.number(event.done)}/${fmt.number(total)} ${event.unit}`,
      fmt.rate(event.rate, event.unit),
      event.kind !== "end" && event.eta !== null && event.eta !== undefined ? `ETA ${fmt.duration(event.eta)}` : "",
      event.message || "",
    ].filter(Boolean);
    return h("div", { class: "bar" }, progress, h("span", { class: "bar-text" }, parts.join(" · ")));
  }

  draw(actions) {
    const r = this.record;
    const open = [...this.tasks.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
    const bars = [];
    if (r.state === "running" && open.length) {
      bars.push(this.bar(open[0], "main"));
      for (const inner of open.slice(1, 3)) bars.push(this.bar(inner, "inner"));
    } else if (r.state === "succeeded") {
      const finished = h("progress", { class: "main", max: 1 });
      finished.value = 1;
      bars.push(h("div", { class: "bar" }, finished, h("span", { class: "bar-text" }, `done in ${fmt.duration(r.finished - r.started)}`)));
    } else if (this.last) {
      bars.push(this.bar(this.last, "main"));
    }
    const buttons = [];
    if (!FINAL.has(r.state)) buttons.push(h("button", { type: "button", class: "cancel", on: { click: () => actions.cancel(r.id) } }, "cancel"));
    if (["failed", "cancelled", "interrupted"].includes(r.state)) buttons.push(h("button", { type: "button", class: "retry", on: { click: () => actions.retry(r.id) } }, "retry"));
    buttons.push(h("button", { type: "button", class: "log", on: { click: () => this.toggleLog() } }, this.logShown ? "hide log" : "log"));
    const since = r.started ? (FINAL.has(r.state) ? r.finished - r.started : Date.now() / 1000 - r.started) : null;
    this.element.dataset.job = r.id;
    this.element.dataset.state = r.state;
    this.element.dataset.events = String(this.seen);
    this.element.replaceChildren();
    append(this.element, [
      h("div", { class: "job-head" },
        h("strong", { class: "job-command" }, r.command),
        h("span", { class: `state state-${r.state}` }, r.state),
        h("span", { class: "muted" }, `${r.id} · ${fmt.when(r.created)}${since !== null ? ` · ${fmt.duration(since)}` : ""}`),
        h("span", { class: "buttons" }, buttons)),
      h("div", { class: "job-config muted" }, this.summary()),
      bars,
      r.error ? h("div", { class: "job-error" }, r.error) : null,
      this.notes.length && !FINAL.has(r.state) ? h("div", { class: "muted" }, this.notes.at(-1)) : null,
      this.logShown ? h("pre", { class: "log-text" }, this.logText ?? "loading…") : null,
    ]);
  }

  summary() {
    // the fields set to something other than their default, nested configs as name.field
    const changed = (config, defaults, prefix) =>
      Object.entries(config).flatMap(([key, value]) => {
        const fallback = defaults[key];
        if (value && typeof value === "object" && !Array.isArray(value)) return changed(value, fallback || {}, `${prefix}${key}.`);
        return JSON.stringify(value) === JSON.stringify(fallback) ? [] : [`${prefix}${key}=${Array.isArray(value) ? value.join(",") : value}`];
      });
    return changed(this.record.config, this.defaults, "").join("  ") || "(defaults)";
  }

  async toggleLog() {
    this.logShown = !this.logShown;
    this.logText = null;
    this.draw(this.actions);
    if (this.logShown) {
      this.logText = await attempt(() => fetch(`/api/jobs/${segment(this.record.id)}/log`).then((r) => r.text()));
      this.draw(this.actions);
    }
  }
}

function statusPanel(status) {
  if (status.schema_version === null) return section("workspace", h("p", {}, "The workspace is empty: ingest a source with the form below."));
  const list = (items, render) => (items.length ? h("ul", { class: "compact" }, items.map((i) => h("li", {}, render(i)))) : h("span", { class: "muted" }, "none"));
  return section(
    "workspace",
    h("div", { class: "status-grid" },
      h("div", {}, h("h3", {}, `sources (${status.sources.length})`), list(status.sources, (s) => [link(`#/sources/${segment(s.id)}`, s.id), ` ${fmt.number(s.n_ok)}/${fmt.number(s.n_rows)} ok`])),
      h("div", {}, h("h3", {}, `embeddings (${status.embeddings.length})`), list(status.embeddings, (e) => `${e.source}: ${e.embedder} (${fmt.number(e.n)} × ${e.dim})`)),
      h("div", {}, h("h3", {}, `clusterings (${status.clusterings.length})`), list(status.clusterings, (c) => [link(`#/clusterings/${segment(c.id)}`, c.id), ` k=${c.k}`])),
      h("div", {}, h("h3", {}, `subsets (${status.subsets.length})`), list(status.subsets, (s) => [link(`#/subsets/${segment(s.name)}/${s.version}`, `${s.name}@v${s.version}`), ` ${fmt.number(s.n)}/${fmt.number(s.n_source)} ${s.method}`])),
      h("div", {}, h("h3", {}, `training runs (${status.trainings.length})`), list(status.trainings, (t) => [link(`#/runs/${segment(t.id)}`, t.id), ` ${t.status}`])),
      h("div", {}, h("h3", {}, `sweeps (${status.sweeps.length})`), list(status.sweeps, (s) => [link(`#/sweeps/${segment(s.name)}`, s.name), ` ${s.done}/${s.cells} cells`])),
      h("div", {}, h("h3", {}, "other"), h("p", {}, `${status.score_runs.length} gradient score runs · ${status.pretrainings.length} pretrainings · ${status.evaluations} evaluations · ${status.stores.length} image stores`)),
    ),
  );
}

function jobForm(commands, onQueued) {
  const runnable = commands.filter((c) => c.job);
  const picker = h("select", { id: "job-command", name: "command" }, runnable.map((c) => h("option", { value: c.name }, c.name)));
  const help = h("p", { class: "muted" });
  const holder = h("div", {});
  const message = h("p", { class: "form-message", role: "status" });
  const form = h("form", { id: "job-form", class: "job-form" },
    h("div", { class: "field" }, h("label", { for: "job-command" }, "command"), picker), help, holder,
    h("button", { type: "submit", id: "job-submit" }, "queue job"), message);
  const show = () => {
    const command = runnable.find((c) => c.name === picker.value);
    help.textContent = command.help;
    holder.replaceChildren(commandFields(command));
    message.textContent = "";
  };
  picker.addEventListener("change", show);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      const job = await post("/api/jobs", { command: picker.value, config: formValues(holder) });
      markInvalid(form, null);
      message.textContent = `queued ${job.id}`;
      onQueued(job);
    } catch (error) {
      markInvalid(form, error.field);
      message.textContent = `error: ${error.message}`;
    }
  });
  show();
  return form;
}

export async function render(main) {
  const [status, jobs, commands] = await Promise.all([get("/api/status"), get("/api/jobs"), get("/api/commands")]);
  const defaultsOf = (fields) => Object.fromEntries(fields.map((f) => [f.name, f.fields ? defaultsOf(f.fields) : (f.default ?? null)]));
  const defaults = Object.fromEntries(commands.map((c) => [c.name, defaultsOf(c.fields)]));
  const views = new Map();
  const list = h("ul", { id: "jobs", class: "jobs" });
  const statusHolder = h("div", {}, statusPanel(status));
  const actions = {
    cancel: (id) => attempt(() => del(`/api/jobs/${segment(id)}`)),
    retry: (id) => attempt(async () => add(await post(`/api/jobs/${segment(id)}/retry`))),
  };
  const add = (record) => {
    let view = views.get(record.id);
    if (!view) {
      view = new JobView(record, defaults[record.command] || {});
      view.actions = actions;
      views.set(record.id, view);
      list.prepend(view.element);
    }
    // The POST's answer can arrive after the event of the job's start: never step a record back.
    if (RANK[record.state] >= RANK[view.record.state]) view.record = { ...view.record, ...record };
    if (record.progress) view.progress(record.progress);
    view.draw(actions);
    return view;
  };
  for (const record of [...jobs].reverse()) add(record);
  const refreshStatus = async () => {
    const fresh = await attempt(() => get("/api/status"));
    if (fresh) statusHolder.replaceChildren(statusPanel(fresh));
  };
  main.append(
    h("h1", {}, "dashboard"),
    statusHolder,
    section("jobs", list, jobs.length ? null : h("p", { class: "muted", id: "no-jobs" }, "no jobs yet")),
    section("new job", jobForm(commands, add)),
  );
  const stop = subscribe((event) => {
    main.querySelector("#no-jobs")?.remove();
    if (event.type === "job") {
      const before = views.get(event.job)?.record.state;
      add(event.record);
      if (before !== event.record.state && event.record.state !== "queued") refreshStatus(); // what it made
    } else if (event.type === "progress") {
      const view = views.get(event.job);
      if (!view) return;
      view.event(event.event);
      view.draw(actions);
    }
  });
  const ticker = setInterval(() => {
    for (const view of views.values()) if (view.record.state === "running") view.draw(actions);
  }, 1000);
  return () => {
    stop();
    clearInterval(ticker);
  };
}
