// A few DOM helpers: elements are built with properties and children, text never parsed as HTML.

/** An element: `h("td", {className: "num", dataset: {id}}, "text", child)`. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "className" || name === "textContent" || name === "value" || name === "checked" || name === "disabled" || name === "hidden" || name === "type") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** The element of id `id` (throws if the page lacks it: a broken page should say so). */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/** A table cell holding a number (right-aligned), with an optional CSS class. */
export function numCell(text, extra = "") {
  return h("td", { className: `num ${extra}`.trim() }, text);
}

/** Replace a table body's rows, or show `empty` in one full-width row when there are none. */
export function fillBody(tbody, rows, empty) {
  const columns = tbody.closest("table").querySelectorAll("thead th").length || 1;
  tbody.replaceChildren(...(rows.length ? rows : [h("tr", { className: "empty" }, h("td", { colspan: columns }, empty))]));
}

/** The values of a form's named controls as an object of trimmed strings (and booleans). */
export function formValues(form) {
  const out = {};
  for (const control of form.querySelectorAll("[data-name]")) {
    if (control.closest("[hidden]")) continue;
    out[control.dataset.name] = control.type === "checkbox" ? control.checked : control.value.trim();
  }
  return out;
}

/** Show each field's error under it (`errors`: Map field -> message); clear the others. */
export function showFieldErrors(form, errors) {
  for (const field of form.querySelectorAll("[data-field]")) {
    const message = errors.get(field.dataset.field);
    const control = field.querySelector("input, select, textarea");
    let note = field.querySelector(".field-error");
    if (!note) {
      note = h("p", { className: "field-error", id: `${control ? control.id : field.dataset.field}-error` });
      field.append(note);
    }
    note.textContent = message || "";
    if (control) {
      control.toggleAttribute("aria-invalid", Boolean(message));
      if (message) control.setAttribute("aria-describedby", note.id);
      else control.removeAttribute("aria-describedby");
    }
  }
}

/** Show a message in the notices area (errors stay until dismissed, others fade). */
export function notify(text, kind = "error") {
  const close = h("button", { type: "button", className: "ghost", "aria-label": "Dismiss" }, "\u00d7");
  const note = h("div", { className: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, h("span", {}, text), close);
  close.addEventListener("click", () => note.remove());
  byId("notices").append(note);
  if (kind !== "error") setTimeout(() => note.remove(), 6000);
}

