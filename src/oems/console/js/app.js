// The console: sign-in, the account views (REST load, then live through the stream), and the
// wiring of the ticket, quotes and admin modules.

import { Api } from "./api.js";
import { AdminPanel } from "./admin.js";
import { EquityChart } from "./chart.js";
import { byId, fillBody, h, notify, numCell } from "./dom.js";
import { clockTime, money, number, pnlClass, sign } from "./format.js";
import { Quotes } from "./quotes.js";
import { Stream } from "./stream.js";
import { Ticket } from "./ticket.js";

const KEYS = "oems.console.keys"; // sessionStorage only: the tab's life, never sent anywhere else
const ACCOUNT = "oems.console.account";
const TERMINAL = new Set(["FILLED", "CANCELED", "REJECTED", "EXPIRED"]);
const MAX_ROWS = 200;

class Console {
  constructor() {
    this.api = null;
    this.adminApi = null;
    this.stream = null;
    this.accounts = [];
    this.accountId = null;
    this.clear();
    this.ordersFilter = "all";
    this.chart = new EquityChart(byId("equity-chart"));
    this.chartDays = 1;
    this.pending = new Set();
    this.loading = null; // the promise of a REST load in progress
    this.buffer = []; // activity received while a REST load is in progress
    this.loadStartedAt = 0;
    this.ackAt = new Map();
    this.revalueTimer = null;
    this.ticket = new Ticket(this);
    this.quotes = new Quotes(this);
    this.admin = new AdminPanel(this);
  }

  clear() {
    this.balances = null;
    this.positions = new Map();
    this.orders = new Map();
    this.executions = new Map();
  }

  start() {
    byId("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn(byId("api-key").value.trim(), byId("admin-key").value.trim());
    });
    byId("sign-out").addEventListener("click", () => this.signOut());
    byId("account-picker").addEventListener("change", (event) => this.selectAccount(Number(event.target.value)));
    for (const button of document.querySelectorAll("[data-range]")) {
      button.addEventListener("click", () => {
        this.chartDays = Number(button.dataset.range);
        pressed(button);
        this.loadHistory().catch((error) => notify(`Portfolio history: ${error.describe ? error.describe() : error.message}`));
      });
    }
    for (const button of document.querySelectorAll("[data-orders]")) {
      button.addEventListener("click", () => {
        this.ordersFilter = button.dataset.orders;
        pressed(button);
        this.renderOrders();
      });
    }
    byId("close-all").addEventListener("click", () => this.closeAll());
    byId("cancel-all").addEventListener("click", () => this.cancelAll());
    this.chart.mount();
    const saved = sessionStorage.getItem(KEYS);
    if (saved) {
      const { apiKey, adminKey } = JSON.parse(saved);
      this.signIn(apiKey, adminKey);
    } else {
      byId("api-key").focus();
    }
  }

  async signIn(apiKey, adminKey) {
    const error = byId("sign-in-error");
    error.textContent = "";
    if (!apiKey) {
      error.textContent = "Enter an API key.";
      byId("api-key").focus();
      return;
    }
    const user = new Api(apiKey);
    let accounts = null;
    let admin = adminKey ? new Api(adminKey) : null;
    try {
      accounts = await user.all("/v1/accounts?page_size=100");
    } catch (failure) {
      if (failure.status !== 403) {
        error.textContent = failure.status === 401 ? "The server does not know this API key." : failure.describe();
        return;
      }
      // A 403 on /v1 is an admin key: take it for the admin panel.
      admin = user;
      accounts = null;
    }
    if (admin) {
      try {
        await admin.get("/admin/v1/clock");
      } catch (failure) {
        error.textContent = `Admin key: ${failure.status === 401 ? "the server does not know this key" : failure.status === 403 ? "this is not an admin key" : failure.describe()}`;
        return;
      }
    }
    sessionStorage.setItem(KEYS, JSON.stringify({ apiKey, adminKey: admin ? admin.key : "" }));
    byId("api-key").value = "";
    byId("admin-key").value = "";
    this.api = accounts ? user : null;
    this.adminApi = admin;
    this.accounts = accounts || [];
    byId("sign-in-view").hidden = true;
    byId("console-view").hidden = false;
    byId("session-bar").hidden = false;
    this.admin.show(Boolean(admin));
    this.renderPicker();
    if (!this.api) {
      byId("no-accounts").hidden = false;
      byId("no-accounts").textContent = "Signed in with the admin key only: the admin panel works; sign in with a user API key as well to see and trade accounts.";
      this.setStreamStatus("down", "no user key");
      return;
    }
    this.stream = new Stream(this.api.key, {
      activity: (message) => this.onActivity(message),
      quote: (snapshot) => this.quotes.onQuote(snapshot),
      acked: (id) => this.ackAt.set(id, performance.now()),
      synced: (id, fresh) => this.onSynced(id, fresh),
      reset: (id) => id === this.accountId && this.reload(),
      status: (state, text) => this.setStreamStatus(state, text),
      clock: (instant) => this.setClock(instant),
      notice: (message) => this.onNotice(message),
    });
    this.stream.connect();
    this.quotes.start();
    const saved = Number(sessionStorage.getItem(ACCOUNT));
    const first = this.accounts.find((a) => a.id === saved) || this.accounts[0];
    if (first) await this.selectAccount(first.id);
    else {
      byId("no-accounts").hidden = false;
      byId("no-accounts").textContent = "This key has no accounts.";
    }
  }

  signOut() {
    sessionStorage.removeItem(KEYS);
    if (this.stream) this.stream.close();
    location.reload();
  }

  renderPicker() {
    const picker = byId("account-picker");
    picker.replaceChildren(...this.accounts.map((a) => h("option", { value: a.id }, `${a.id} \u00b7 ${a.full_name} (${a.subtype})`)));
    picker.disabled = !this.accounts.length;
    if (this.accountId) picker.value = this.accountId;
  }

  async selectAccount(id) {
    if (this.stream && this.accountId && this.accountId !== id) this.stream.unsubscribeAccount(this.accountId);
    this.accountId = id;
    sessionStorage.setItem(ACCOUNT, String(id));
    byId("account-picker").value = String(id);
    const account = this.accounts.find((a) => a.id === id);
    byId("balances-account").textContent = account ? `${account.id} \u00b7 ${account.subtype}` : "";
    this.clear();
    this.renderAll();
    if (this.stream) this.stream.subscribeAccount(id);
    await this.reload();
  }

  /** Load the account's views over REST. Stream messages received meanwhile wait in the buffer
   * and are applied on top once it is in; a newer load supersedes an older one (and its buffer). */
  async reload() {
    const id = this.accountId;
    if (!id || !this.api) return;
    const token = {};
    this.loading = token;
    this.loadStartedAt = performance.now();
    const base = `/v1/accounts/${id}`;
    try {
      const [balances, positions, orders, executions, clock] = await Promise.all([
        this.api.get(`${base}/balances`),
        this.api.all(`${base}/positions?page_size=1000`, 5000),
        this.api.call("GET", `${base}/orders?page_size=${MAX_ROWS}`),
        this.api.call("GET", `${base}/executions?page_size=${MAX_ROWS}`),
        this.api.get("/v1/clock"),
      ]);
      if (this.loading !== token || id !== this.accountId) return;
      this.clear();
      this.balances = balances;
      for (const p of positions) this.positions.set(p.instrument_id, p);
      for (const o of orders.data) this.orders.set(o.id, o);
      for (const e of executions.data) this.executions.set(e.id, e);
      this.setClock(clock.clock);
    } catch (error) {
      if (this.loading === token) notify(`Loading account ${id}: ${error.describe ? error.describe() : error.message}`);
    }
    if (this.loading !== token) return;
    this.loading = null;
    const waiting = this.buffer;
    this.buffer = [];
    for (const message of waiting) this.apply(message);
    this.renderAll();
    this.quotes.followPositions();
    await this.loadHistory().catch((error) => notify(`Portfolio history: ${error.describe ? error.describe() : error.message}`));
  }

  async loadHistory() {
    const id = this.accountId;
    const today = this.marketDate || new Date().toISOString().slice(0, 10);
    const start = new Date(Date.parse(`${today}T12:00:00Z`) - (this.chartDays - 1) * 86400000).toISOString().slice(0, 10);
    const history = await this.api.get(`/v1/accounts/${id}/portfolio-history?start_date=${start}&end_date=${today}`);
    if (id === this.accountId) this.chart.setHistory(history.segments, today, this.clockNow);
  }

  /** A first subscription caught up: if the REST load began before its ack, load once more (the
   * stream's messages after the ack then apply on top of a state at least as new as the ack). */
  onSynced(id, fresh) {
    if (id !== this.accountId || !fresh) return;
    if ((this.ackAt.get(id) || Infinity) > this.loadStartedAt) this.reload();
  }

  onActivity(message) {
    if (message.account_id !== this.accountId) return;
    if (this.loading) this.buffer.push(message);
    else {
      this.apply(message);
    }
  }

  /** Apply one activity message to the views (its `data` renders as the REST read does). */
  apply(message) {
    if (message.account_id !== this.accountId) return; // buffered before an account switch
    const data = message.data;
    if (message.timestamp) this.setClock(message.timestamp);
    switch (message.event) {
      case "order":
        this.orders.set(data.id, data);
        this.schedule("orders");
        break;
      case "execution":
        this.executions.set(data.id, data);
        this.schedule("executions");
        break;
      case "position":
        if (sign(data.quantity) === 0) this.positions.delete(data.instrument_id);
        else this.positions.set(data.instrument_id, data);
        this.schedule("positions");
        this.quotes.followPositions();
        break;
      case "balance":
        this.balances = data;
        this.chart.addBalance(message.timestamp || this.clockNow, data);
        this.schedule("balances");
        break;
      case "resync":
        this.reload(); // a change the server could not render: read the account again
        break;
      default:
        break; // `instruction`: no view of its own here
    }
  }

  /** A held symbol's quote moved: value the positions and balances again (at most once a second). */
  revalue() {
    if (this.revalueTimer || !this.api || !this.accountId) return;
    this.revalueTimer = setTimeout(async () => {
      this.revalueTimer = null;
      const id = this.accountId;
      try {
        const base = `/v1/accounts/${id}`;
        const [balances, positions, clock] = await Promise.all([
          this.api.get(`${base}/balances`),
          this.api.all(`${base}/positions?page_size=1000`, 5000),
          this.api.get("/v1/clock"),
        ]);
        if (id !== this.accountId || this.loading) return;
        this.setClock(clock.clock);
        this.balances = balances;
        this.positions = new Map(positions.map((p) => [p.instrument_id, p]));
        this.chart.addBalance(clock.clock, balances);
        this.schedule("balances");
        this.schedule("positions");
      } catch (error) {
        notify(`Revaluing positions: ${error.describe ? error.describe() : error.message}`);
      }
    }, 1000);
  }

  /** After the page's own change: without a live stream, read the account and quotes again. */
  afterChange() {
    if (this.stream && this.stream.live) return;
    this.reload();
    this.quotes.refreshWatch();
  }

  setClock(instant) {
    if (!instant) return;
    if (this.clockNow && instant < this.clockNow && instant.length === this.clockNow.length) return;
    this.clockNow = instant;
    this.marketDate = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" }).format(new Date(Date.parse(instant.replace(/(\.\d{3})\d*/, "$1"))));
    byId("market-clock").textContent = clockTime(instant, true);
  }

  /** Set the clock from an admin answer, even backwards (a reset or a clock change). */
  forceClock(instant) {
    this.clockNow = null;
    this.setClock(instant);
  }

  setStreamStatus(state, text) {
    const badge = byId("stream-status");
    badge.dataset.state = state;
    badge.textContent = state === "live" ? "live" : text;
    badge.title = state === "live" ? "Live through /v1/ws" : text;
  }

  onNotice({ code, message, symbol }) {
    if (code === 429) notify(`Stream: ${message} (resuming from the last sequence seen)`, "info");
    else if (!(symbol && this.quotes.onNotice(symbol, message))) notify(`Stream error ${code}: ${message}`);
  }

  schedule(part) {
    this.pending.add(part);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      const parts = this.pending;
      this.pending = new Set();
      if (parts.has("balances")) this.renderBalances();
      if (parts.has("positions")) this.renderPositions();
      if (parts.has("orders")) this.renderOrders();
      if (parts.has("executions")) this.renderExecutions();
    });
  }

  renderAll() {
    this.renderBalances();
    this.renderPositions();
    this.renderOrders();
    this.renderExecutions();
  }

  renderBalances() {
    const b = this.balances;
    const dl = byId("balances");
    if (!b) {
      dl.replaceChildren();
      return;
    }
    const c = b.currency || "USD";
    const m = b.margin_details;
    const rows = [
      ["Equity", money(b.equity, c), "equity"],
      ["Buying power", money(b.buying_power, c), "buying_power"],
      ["Trade cash", money(b.trade_cash, c), "trade_cash"],
      ["Settled cash", money(b.settled_cash, c), "settled_cash"],
      ["Withdrawable", money(b.withdrawable_cash, c), "withdrawable_cash"],
      ["Long market value", money(b.long_market_value, c), "long_market_value"],
      ["Short market value", money(b.short_market_value, c), "short_market_value"],
      ["Open orders hold", money(b.open_order_adjustment, c), "open_order_adjustment"],
      ["Day P&L", money(b.daily_total_pnl, c), "daily_total_pnl", pnlClass(b.daily_total_pnl)],
      ["Day realized", money(b.daily_realized_pnl, c), "daily_realized_pnl", pnlClass(b.daily_realized_pnl)],
      ["Unrealized P&L", money(b.unrealized_pnl, c), "unrealized_pnl", pnlClass(b.unrealized_pnl)],
      ["Unsettled credits", money(b.unsettled_credits, c), "unsettled_credits"],
      ["Unsettled debits", money(b.unsettled_debits, c), "unsettled_debits"],
    ];
    if (m) {
      rows.push(
        ["Initial margin req.", money(m.initial_margin_requirement, c), "initial_margin_requirement"],
        ["Maintenance req.", money(m.maintenance_margin_requirement, c), "maintenance_margin_requirement"],
        ["Maintenance excess", money(m.maintenance_margin_excess, c), "maintenance_margin_excess"],
        ["Day trades (5 days)", `${m.day_trade_count}${m.pattern_day_trader ? " \u00b7 PDT" : ""}`, "day_trade_count"],
      );
    }
    dl.replaceChildren(
      ...rows.map(([label, value, key, extra = ""]) =>
        h("div", { className: "figure", dataset: { key } }, h("dt", {}, label), h("dd", { className: `num ${extra}`.trim() }, value)),
      ),
    );
  }

  renderPositions() {
    const tbody = byId("positions-table").tBodies[0];
    const positions = [...this.positions.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
    fillBody(
      tbody,
      positions.map((p) =>
        h("tr", { dataset: { testid: "position-row", instrumentId: p.instrument_id, symbol: p.symbol } },
          h("th", { scope: "row" }, p.symbol),
          numCell(number(p.quantity), sign(p.quantity) < 0 ? "loss" : ""),
          numCell(money(p.avg_price)),
          numCell(money(p.instrument_price)),
          numCell(money(p.market_value)),
          numCell(`${money(p.unrealized_pnl)} (${number(p.unrealized_pnl_pct)}%)`, pnlClass(p.unrealized_pnl)),
          numCell(money(p.daily_unrealized_pnl === null ? null : p.daily_unrealized_pnl), pnlClass(p.daily_unrealized_pnl)),
          h("td", { className: "actions" },
            h("button", { type: "button", className: "small", "aria-label": `Close ${p.symbol}`, onclick: () => this.closePosition(p) }, "Close")),
        ),
      ),
      "No positions.",
    );
    byId("close-all").disabled = positions.length === 0;
  }

  renderOrders() {
    const tbody = byId("orders-table").tBodies[0];
    let orders = [...this.orders.values()];
    if (this.ordersFilter === "open") orders = orders.filter((o) => !TERMINAL.has(o.status));
    // Open orders first, newest first within each group.
    orders.sort((a, b) => Number(TERMINAL.has(a.status)) - Number(TERMINAL.has(b.status)) || (a.created_at < b.created_at ? 1 : -1));
    orders = orders.slice(0, MAX_ROWS);
    fillBody(tbody, orders.map((o) => this.orderRow(o)), this.ordersFilter === "open" ? "No open orders." : "No orders yet.");
    byId("cancel-all").disabled = ![...this.orders.values()].some((o) => !TERMINAL.has(o.status));
  }

  orderRow(o) {
    const open = !TERMINAL.has(o.status);
    const symbol = o.symbol || (o.legs || []).map((l) => `${l.side === "BUY" ? "+" : "\u2212"}${l.ratio} ${l.symbol}`).join(" ");
    const status = o.queue_state === "AWAITING_RELEASE" ? `${o.status} \u00b7 awaiting open` : o.status;
    const reason = (o.details || []).map((d) => (typeof d === "string" ? d : d.description || d.message || JSON.stringify(d))).join("; ");
    return h("tr", { dataset: { testid: "order-row", orderId: o.id, status: o.status }, className: open ? "" : "done" },
      h("td", {}, clockTime(o.created_at)),
      h("th", { scope: "row", className: "symbol" }, symbol),
      h("td", { className: o.side === "BUY" ? "buy" : "sell" }, o.side),
      h("td", {}, o.order_type),
      numCell(number(o.quantity)),
      numCell(number(o.filled_quantity)),
      numCell(o.limit_price === null ? "\u2014" : money(o.limit_price)),
      numCell(o.stop_price === null ? (o.trailing_stop_px ? money(o.trailing_stop_px) : "\u2014") : money(o.stop_price)),
      numCell(o.average_fill_price === null ? "\u2014" : money(o.average_fill_price)),
      h("td", {}, abbreviate(o.time_in_force)),
      h("td", { className: `status s-${o.status.toLowerCase()}`, title: reason || null, dataset: { testid: "order-status" } }, status),
      h("td", { className: "actions" },
        open ? h("button", { type: "button", className: "small", "aria-label": `Replace order ${o.id}`, onclick: () => this.ticket.openReplace(o) }, "Replace") : null,
        open ? h("button", { type: "button", className: "small danger", "aria-label": `Cancel order ${o.id}`, onclick: () => this.cancelOrder(o) }, "Cancel") : null),
    );
  }

  renderExecutions() {
    const tbody = byId("executions-table").tBodies[0];
    const executions = [...this.executions.values()]
      .sort((a, b) => (a.transaction_time < b.transaction_time ? 1 : -1))
      .slice(0, MAX_ROWS);
    fillBody(
      tbody,
      executions.map((e) =>
        h("tr", { dataset: { testid: "execution-row", executionId: e.id } },
          h("td", {}, clockTime(e.transaction_time)),
          h("th", { scope: "row" }, e.symbol),
          h("td", { className: e.side === "BUY" ? "buy" : "sell" }, e.side),
          numCell(number(e.quantity)),
          numCell(money(e.price)),
          h("td", {}, e.venue),
          h("td", { className: "mono", title: e.order_id }, e.order_id.slice(-8)),
        ),
      ),
      "No executions yet.",
    );
  }

  async cancelOrder(order) {
    try {
      await this.api.call("DELETE", `/v1/accounts/${this.accountId}/orders/${order.id}`);
      notify(`Cancel requested for ${order.symbol || "the strategy"} ${order.side} ${order.quantity}.`, "info");
      this.afterChange();
    } catch (error) {
      notify(`Cancel: ${error.describe()}`);
    }
  }

  async cancelAll() {
    if (!confirm("Cancel every open order of this account?")) return;
    try {
      await this.api.call("DELETE", `/v1/accounts/${this.accountId}/orders`);
      this.afterChange();
    } catch (error) {
      notify(`Cancel all: ${error.describe()}`);
    }
  }

  async closePosition(position) {
    try {
      await this.api.call("DELETE", `/v1/accounts/${this.accountId}/positions/${position.instrument_id}`);
      notify(`Closing order sent for ${position.symbol}.`, "info");
      this.afterChange();
    } catch (error) {
      notify(`Close ${position.symbol}: ${error.describe()}`);
    }
  }

  async closeAll() {
    if (!confirm("Send closing orders for every position of this account?")) return;
    try {
      await this.api.call("DELETE", `/v1/accounts/${this.accountId}/positions`);
      this.afterChange();
    } catch (error) {
      notify(`Close all: ${error.describe()}`);
    }
  }
}

function pressed(button) {
  for (const sibling of button.parentElement.querySelectorAll("button")) sibling.setAttribute("aria-pressed", String(sibling === button));
}

function abbreviate(tif) {
  return {
    GOOD_TILL_CANCEL: "GTC", GOOD_TILL_DATE: "GTD", IMMEDIATE_OR_CANCEL: "IOC", FILL_OR_KILL: "FOK",
    AT_THE_OPENING: "OPG", AT_THE_CLOSE: "CLS", GOOD_TILL_CROSSING: "GTX", GOOD_THROUGH_CROSSING: "GTC\u2192X",
    AT_CROSSING: "ATX",
  }[tif] || tif;
}

window.addEventListener("error", (event) => {
  // Chromium reports a ResizeObserver callback that changed the layout once more: harmless.
  if (String(event.message).includes("ResizeObserver loop")) return;
  notify(`The page failed: ${event.message}`);
});
window.addEventListener("unhandledrejection", (event) => notify(`The page failed: ${event.reason && event.reason.message ? event.reason.message : event.reason}`));

const app = new Console();
app.start();
