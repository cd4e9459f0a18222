// From a map selection to a published subset: the save form (the server turns the region into the ids it
// holds and queues `select --method ids`), then, once saved, publish (a `publish` job) and a diff against
// another subset. Each job is followed to its end in the form; `stops` collects what to end on leaving.
import { attempt, get, post, segment } from "../api.js";
import { h, link } from "../dom.js";
import { followJob } from "./panels.js";

export function saveForm(layoutId, region, empty, stops) {
  const name = h("input", { id: "map-subset-name", type: "text", placeholder: "subset name", required: true });
  const inverse = h("input", { id: "map-inverse", type: "checkbox" });
  const save = h("button", { type: "submit", id: "map-save", disabled: empty }, "save as subset");
  const job = h("div", { id: "map-save-job" });
  const after = h("div", { id: "map-after-save" });
  const form = h("form", { id: "map-save-form", class: "map-form" },
    h("div", { class: "field" }, h("label", { for: "map-subset-name" }, "name"), name),
    h("label", { class: "inline" }, inverse, " keep the rest instead"), save, job, after);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save.disabled = true;
    attempt(async () => {
      try {
        const answer = await post(`/api/layouts/${segment(layoutId)}/save`, { ...region, name: name.value.trim(), inverse: inverse.checked });
        const [ended, stop] = followJob(answer.job.id, job);
        stops.push(stop);
        const view = await ended;
        if (view.state === "succeeded") after.replaceChildren(...savedPanel(view.result.result, stops));
      } finally {
        save.disabled = false;
      }
    });
  });
  return form;
}

function savedPanel(result, stops) {
  const ref = `${result.name}@v${result.version}`;
  const to = h("input", { id: "map-publish-to", type: "text", value: `published/${result.name}` });
  const job = h("div", { id: "map-publish-job" });
  const diffHolder = h("div", { id: "map-diff-holder" });
  const publish = h("button", { type: "submit", id: "map-publish" }, "publish");
  const form = h("form", { class: "map-form", id: "map-publish-form" },
    h("div", { class: "field" }, h("label", { for: "map-publish-to" }, "publish to (a folder in the workspace)"), to), publish, job);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    publish.disabled = true;
    attempt(async () => {
      try {
        const queued = await post("/api/jobs", { command: "publish", config: { ref, to: to.value.trim() } });
        const [ended, stop] = followJob(queued.id, job);
        stops.push(stop);
        const view = await ended;
        if (view.state === "succeeded") job.append(h("p", { id: "map-published" }, `published ${ref} to ${to.value.trim()}`));
      } finally {
        publish.disabled = false;
      }
    });
  });
  attempt(async () => {
    const subsets = await get("/api/subsets");
    const others = subsets.flatMap((s) => s.versions.map((v) => `${s.name}@v${v.version}`)).filter((r) => r !== ref);
    if (!others.length) return;
    const against = h("select", { id: "map-diff-against" }, others.map((r) => h("option", { value: r }, r)));
    const go = () => {
      location.hash = `#/diff?${new URLSearchParams({ a: ref, b: against.value })}`;
    };
    diffHolder.replaceChildren(h("p", {}, "compare with ", against, " ", h("button", { type: "button", id: "map-diff", on: { click: go } }, "diff")));
  });
  return [h("p", {}, "saved as ", link(`#/subsets/${segment(result.name)}/${result.version}`, ref, { id: "map-saved", dataset: { ref } })), form, diffHolder];
}
