// The "new job" form of a command, generated from its config schema (GET /api/commands, built by
// config_json.config_schema): one typed input per field, nested configs (train's `train`) as their own
// group. Only the fields the user set are sent; the server validates and names a wrong field.
import { h } from "./dom.js";

function shown(value) {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(",") : String(value);
}

function input(field, path) {
  const id = `job-field-${path.replaceAll(".", "-")}`;
  let control;
  if (field.type === "boolean" && !field.nullable) {
    control = h("input", { type: "checkbox", id, name: path, checked: Boolean(field.default) });
  } else if (field.type === "boolean") {
    control = h("select", { id, name: path }, ["", "true", "false"].map((v) => h("option", { value: v }, v || "(default)")));
  } else if (field.choices) {
    const options = field.required ? [] : [h("option", { value: "" }, field.default === undefined || field.default === null ? "(none)" : `(default: ${shown(field.default)})`)];
    control = h("select", { id, name: path }, options, field.choices.map((c) => h("option", { value: String(c) }, String(c))));
  } else {
    const numeric = field.type === "integer" || field.type === "number";
    control = h("input", {
      type: numeric ? "number" : "text",
      step: field.type === "number" ? "any" : null,
      id,
      name: path,
      placeholder: field.required ? "required" : shown(field.default),
    });
  }
  control.dataset.type = field.type;
  if (field.default !== undefined) control.dataset.default = JSON.stringify(field.default);
  const label = h("label", { for: id, title: field.help }, field.name, field.required ? h("span", { class: "required" }, " *") : null);
  return h("div", { class: "field", dataset: { field: path } }, label, control, h("small", { class: "muted" }, field.help));
}

function fields(schema, prefix) {
  return schema.map((field) => {
    const path = prefix ? `${prefix}.${field.name}` : field.name;
    if (field.fields) {
      return h("details", { class: "nested", dataset: { field: path } }, h("summary", {}, `${field.name}: ${field.help || "options"}`), h("div", { class: "fields" }, fields(field.fields, path)));
    }
    return input(field, path);
  });
}

// The config object of what the user set in the form.
export function formValues(form) {
  const config = {};
  for (const control of form.querySelectorAll("[name]")) {
    if (!control.name || control.name === "command") continue;
    let value;
    if (control.type === "checkbox") {
      const fallback = control.dataset.default ? JSON.parse(control.dataset.default) : false;
      if (control.checked === Boolean(fallback)) continue;
      value = control.checked;
    } else {
      if (control.value.trim() === "") continue;
      value = control.type === "number" ? Number(control.value) : control.value.trim();
    }
    const parts = control.name.split(".");
    let target = config;
    for (const part of parts.slice(0, -1)) target = target[part] ??= {};
    target[parts.at(-1)] = value;
  }
  return config;
}

// Point at the field a refusal named (422 {"field": ...}).
export function markInvalid(form, field) {
  for (const old of form.querySelectorAll(".invalid")) old.classList.remove("invalid");
  if (!field) return;
  const box = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (box) box.classList.add("invalid");
}

export function commandFields(command) {
  return h("div", { class: "fields" }, fields(command.fields, ""));
}
