// The order ticket (single-leg orders of every type and time in force), the multi-leg builder and
// the replace dialog. The server validates; the page hints, and shows its errors at the field.

import { byId, fillBody, formValues, h, showFieldErrors } from "./dom.js";
import { money } from "./format.js";

const MARKET_OR_LIMIT_TIFS = new Set(["IMMEDIATE_OR_CANCEL", "FILL_OR_KILL", "AT_THE_OPENING", "AT_THE_CLOSE", "AT_CROSSING", "GOOD_THROUGH_CROSSING"]);
const EXTENDED_TIFS = new Set(["DAY", "GOOD_TILL_CANCEL", "GOOD_TILL_DATE"]);
const TYPE_HINTS = {
  MARKET: "Fills at the touch: the ask for a buy, the bid for a sell.",
  LIMIT: "Fills at the limit or better. Prices are on the tick: $0.01 at or above $1, $0.0001 below.",
  STOP: "Becomes a market order once the market trades or quotes through the stop (buy: ask or last ≥ stop).",
  STOP_LIMIT: "Becomes a limit order at the limit price once the stop is reached.",
  TRAILING_STOP: "The stop trails the best price by the offset (in $ or basis points) and then works as a market order.",
  TRAILING_STOP_LIMIT: "A trailing stop whose limit is the stop plus the signed limit offset.",
};
const TIF_HINTS = {
  DAY: "Expires at today's regular close (the after-hours close with extended hours).",
  GOOD_TILL_CANCEL: "Works until filled or canceled.",
  GOOD_TILL_DATE: "Works until the Expires at instant (at most 3 years ahead).",
  IMMEDIATE_OR_CANCEL: "Fills what it can at once; the rest is canceled.",
  FILL_OR_KILL: "Fills in full at once or is canceled.",
  AT_THE_OPENING: "Takes part in the opening auction only.",
  AT_THE_CLOSE: "Takes part in the closing auction only.",
  AT_CROSSING: "Joins only the next crossing (opening before the open, else closing).",
  GOOD_TILL_CROSSING: "Works in the continuous session; canceled when the closing crossing starts.",
  GOOD_THROUGH_CROSSING: "Works in the continuous session, then joins the closing crossing.",
};

/** Keep in `values` only what the request should carry (empty text fields are left out). */
function body(values) {
  const out = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === "" || value === false) continue;
    out[name] = value;
  }
  return out;
}

export class Ticket {
  constructor(app) {
    this.app = app;
    this.legs = [];
    this.form = byId("ticket-form");
    this.legsForm = byId("legs-form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitSingle();
    });
    this.legsForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitLegs();
    });
    for (const id of ["t-type", "t-tif", "t-side", "m-type", "m-tif", "t-ext"]) byId(id).addEventListener("change", () => this.refresh());
    for (const button of document.querySelectorAll("[data-ticket]")) {
      button.addEventListener("click", () => this.showKind(button.dataset.ticket));
    }
    byId("leg-add").addEventListener("click", () => {
      const symbol = byId("leg-symbol").value.trim();
      if (symbol) this.addLeg(symbol, "BUY");
      byId("leg-symbol").value = "";
    });
    this.dialog = this.buildReplaceDialog();
    this.refresh();
    this.renderLegs();
  }

  showKind(kind) {
    for (const button of document.querySelectorAll("[data-ticket]")) button.setAttribute("aria-pressed", String(button.dataset.ticket === kind));
    this.form.hidden = kind !== "single";
    this.legsForm.hidden = kind !== "multi";
  }

  /** Show the fields the chosen type and time in force take, and the hints that apply. */
  refresh() {
    for (const form of [this.form, this.legsForm]) {
      const type = form.querySelector("[data-name=order_type]").value;
      const tif = form.querySelector("[data-name=time_in_force]").value;
      for (const field of form.querySelectorAll("[data-types]")) field.hidden = !field.dataset.types.split(" ").includes(type);
      for (const field of form.querySelectorAll("[data-tifs]")) field.hidden = !field.dataset.tifs.split(" ").includes(tif);
    }
    const type = byId("t-type").value;
    const tif = byId("t-tif").value;
    const hints = [TYPE_HINTS[type], TIF_HINTS[tif]];
    if (MARKET_OR_LIMIT_TIFS.has(tif) && !["MARKET", "LIMIT"].includes(type)) hints.push(`${tif} takes MARKET or LIMIT orders only.`);
    if (byId("t-ext").checked && (type !== "LIMIT" || !EXTENDED_TIFS.has(tif))) hints.push("Extended hours is for LIMIT orders with DAY, GOOD_TILL_CANCEL or GOOD_TILL_DATE.");
    if (byId("t-side").value === "SELL_SHORT") hints.push("SELL SHORT opens a short; SELL may not exceed the long position.");
    byId("ticket-hint").textContent = hints.filter(Boolean).join(" ");
  }

  /** Put a symbol in the ticket (from the watchlist or the chain). */
  useSymbol(symbol) {
    this.showKind("single");
    byId("t-symbol").value = symbol;
    byId("t-quantity").focus();
  }

  async submitSingle() {
    const values = formValues(this.form);
    const order = body(values);
    if (values.extended_hours) order.extended_hours = true;
    if (order.symbol) order.symbol = order.symbol.toUpperCase();
    const button = byId("ticket-submit");
    await this.send(this.form, byId("ticket-error"), order, button, () => {
      byId("t-client-id").value = "";
    });
  }

  /** Send one order (or strategy); errors the server names by field go under that field. */
  async send(form, errorBox, order, button, onSuccess) {
    const app = this.app;
    errorBox.textContent = "";
    showFieldErrors(form, new Map());
    if (!app.api || !app.accountId) {
      errorBox.textContent = "Sign in with a user key and choose an account first.";
      return;
    }
    if (button) button.disabled = true;
    try {
      const { data } = await app.api.call("POST", `/v1/accounts/${app.accountId}/orders`, [order]);
      const placed = data[0];
      // The order's own row: the answer is what a REST read shows now; the stream follows it.
      if (!app.orders.has(placed.id)) {
        app.orders.set(placed.id, placed);
        app.schedule("orders");
      }
      onSuccess(placed);
      app.afterChange();
    } catch (error) {
      const fields = error.fields ? error.fields() : new Map();
      showFieldErrors(form, fields);
      const shown = [...fields.keys()].some((name) => form.querySelector(`[data-field="${name}"]:not([hidden])`));
      errorBox.textContent = shown ? `${error.status}: fix the field marked below.` : `${error.status || ""} ${error.describe ? error.describe() : error.message}`.trim();
      const first = form.querySelector("[aria-invalid]");
      if (first) first.focus();
    } finally {
      if (button) button.disabled = false;
    }
  }

  addLeg(symbol, side) {
    if (this.legs.length >= 4) {
      byId("legs-error").textContent = "A strategy has at most 4 legs.";
      return;
    }
    this.legs.push({ security: symbol, side, ratio: "1" });
    this.showKind("multi");
    this.renderLegs();
  }

  renderLegs() {
    const tbody = byId("legs-table").tBodies[0];
    fillBody(
      tbody,
      this.legs.map((leg, index) => {
        const side = h("select", { "aria-label": `Leg ${index + 1} side`, onchange: (e) => { leg.side = e.target.value; } },
          ...["BUY", "SELL"].map((s) => h("option", { value: s, selected: s === leg.side }, s)));
        side.value = leg.side;
        const ratio = h("input", { className: "num", size: 3, value: leg.ratio, "aria-label": `Leg ${index + 1} ratio`, inputmode: "numeric", oninput: (e) => { leg.ratio = e.target.value.trim(); } });
        return h("tr", { dataset: { field: `legs[${index}]` } },
          h("td", { className: "mono" }, leg.security),
          h("td", {}, side),
          h("td", { className: "num" }, ratio),
          h("td", {}, h("button", { type: "button", className: "small ghost", "aria-label": `Remove leg ${index + 1}`, onclick: () => { this.legs.splice(index, 1); this.renderLegs(); } }, "\u00d7")));
      }),
      "No legs: add them from the option chain (B / S) or by symbol.",
    );
  }

  async submitLegs() {
    const values = formValues(this.legsForm);
    const order = body(values);
    order.legs = this.legs.map((leg) => ({ security: leg.security, side: leg.side, ratio: leg.ratio }));
    await this.send(this.legsForm, byId("legs-error"), order, null, () => {
      this.legs = [];
      this.renderLegs();
    });
  }

  buildReplaceDialog() {
    const field = (name, label) =>
      h("div", { className: "field", dataset: { field: name } },
        h("label", { for: `r-${name}` }, label),
        h("input", { id: `r-${name}`, dataset: { name }, inputmode: "decimal" }));
    const error = h("p", { className: "form-error", role: "alert" });
    const title = h("h2", { id: "replace-title" }, "Replace order");
    const form = h("form", { className: "grid-form", novalidate: true },
      field("quantity", "Quantity"), field("limit_price", "Limit price"), field("stop_price", "Stop price"),
      field("trailing_offset", "Trailing offset"), field("limit_offset", "Limit offset"),
      error,
      h("div", { className: "wide actions" },
        h("button", { type: "submit" }, "Replace"),
        h("button", { type: "button", className: "ghost", onclick: () => dialog.close() }, "Keep as is")));
    const dialog = h("dialog", { "aria-labelledby": "replace-title", dataset: { testid: "replace-dialog" } }, title, form);
    this.replaceParts = { error, form, title };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitReplace();
    });
    document.body.append(dialog);
    return dialog;
  }

  /** Open the replace dialog on an open order, its current values filled in. */
  openReplace(order) {
    const { dialog, replaceParts: parts } = this;
    this.replacing = order;
    parts.title.textContent = `Replace ${order.symbol || "strategy"} ${order.side} ${order.order_type}`;
    const applies = {
      quantity: true,
      limit_price: ["LIMIT", "STOP_LIMIT"].includes(order.order_type),
      stop_price: ["STOP", "STOP_LIMIT"].includes(order.order_type),
      trailing_offset: order.order_type.startsWith("TRAILING"),
      limit_offset: order.order_type === "TRAILING_STOP_LIMIT",
    };
    for (const [name, shown] of Object.entries(applies)) {
      const wrapper = parts.form.querySelector(`[data-field=${name}]`);
      wrapper.hidden = !shown;
      wrapper.querySelector("input").value = order[name] || "";
    }
    parts.error.textContent = `Filled so far: ${order.filled_quantity}. Average fill ${order.average_fill_price ? money(order.average_fill_price) : "\u2014"}.`;
    showFieldErrors(parts.form, new Map());
    dialog.showModal();
  }

  async submitReplace() {
    const { app, dialog, replacing: order } = this;
    const { error: box, form } = this.replaceParts;
    const values = formValues(form);
    const change = {};
    for (const [name, value] of Object.entries(values)) if (value !== "" && value !== (order[name] || "")) change[name] = value;
    if (!Object.keys(change).length) {
      box.textContent = "Nothing changed.";
      return;
    }
    const shown = app.orders.get(order.id);
    try {
      const { data } = await app.api.call("PATCH", `/v1/accounts/${app.accountId}/orders/${order.id}`, change);
      // The answer (PENDING_REPLACE) may arrive after the stream's newer messages on the order:
      // it is shown only while the row is still the one the replace began from.
      if (data && data.id && app.orders.get(data.id) === shown) {
        app.orders.set(data.id, data);
        app.schedule("orders");
      }
      dialog.close();
      app.afterChange();
    } catch (error) {
      const fields = new Map();
      for (const [name, message] of error.fields()) fields.set(name, message);
      // A replace names its fields without an index: `limit_price: ...`.
      const bare = /^([a-z_]+): (.*)$/.exec(error.message);
      if (bare && !fields.size) fields.set(bare[1], bare[2]);
      showFieldErrors(form, fields);
      const shown = [...fields.keys()].some((name) => form.querySelector(`[data-field="${name}"]:not([hidden])`));
      box.textContent = shown ? `${error.status}: fix the field marked above.` : `${error.status}: ${error.describe()}`;
    }
  }
}
