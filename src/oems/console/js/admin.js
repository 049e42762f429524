// The admin panel (admin key): clock, pinned quotes, faults, replay upload, accounts, keys, reset.
// Every control calls the admin surface (`/admin/v1`, its OpenAPI at /admin/v1/openapi.json).

import { byId, fillBody, formValues, h, notify, numCell, showFieldErrors } from "./dom.js";
import { clockTime, money } from "./format.js";

const REPLAY_CHUNK = 1000; // rows a request, as `oems replay` sends them
const REPLAY_FIELDS = ["ts", "symbol", "bid", "ask", "bid_size", "ask_size", "last", "last_size"];
const SIZES = new Set(["bid_size", "ask_size", "last_size"]);

/** The body of a form: empty fields left out, integers for the fields in `integers`. */
function compact(values, integers = new Set(), numbers = new Set()) {
  const out = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === "") continue;
    if (integers.has(name) && /^-?\d+$/.test(value)) out[name] = Number(value);
    else if (numbers.has(name) && /^-?\d+(\.\d+)?$/.test(value)) out[name] = Number(value);
    else out[name] = value;
  }
  return out;
}

/** The field an admin error names (`seconds must ...`, `rows[3].bid: ...`, "`now`"), if any. */
function errorFields(error, form) {
  const fields = new Map();
  for (const field of form.querySelectorAll("[data-field]")) {
    const name = field.dataset.field;
    if (new RegExp(`(^|[\\s\`.(])${name}(\`|:|\\s|$)`).test(error.message)) fields.set(name, error.message);
  }
  return fields;
}

export class AdminPanel {
  constructor(app) {
    this.app = app;
    this.panel = byId("admin-panel");
    this.bind("advance-form", (v) => this.advance(compact(v, new Set(), new Set(["seconds"]))));
    this.bind("clock-form", (v) => this.setClock(v));
    this.bind("pin-form", (v) => this.pin(v));
    this.bind("faults-form", (v) => this.setFaults(v));
    this.bind("replay-form", () => this.replay());
    this.bind("account-form", (v) => this.createAccount(v));
    this.bind("key-form", (v) => this.createKey(v));
    this.bind("reset-form", (v) => this.reset(v));
    for (const button of document.querySelectorAll("[data-advance]")) {
      button.addEventListener("click", () => this.run(byId("advance-form"), () => this.advance({ seconds: Number(button.dataset.advance) })));
    }
    byId("pin-release").addEventListener("click", () => this.run(byId("pin-form"), () => this.release()));
    byId("faults-clear").addEventListener("click", () => this.run(byId("faults-form"), () => this.clearFaults()));
    byId("replay-forget").addEventListener("click", () => this.run(byId("replay-form"), () => this.forgetReplay()));
    byId("accounts-panel").addEventListener("toggle", () => this.loadAccounts());
    byId("keys-panel").addEventListener("toggle", () => this.loadKeys());
    byId("faults-panel").addEventListener("toggle", () => this.loadFaults());
  }

  get api() {
    return this.app.adminApi;
  }

  show(enabled) {
    this.panel.hidden = !enabled;
    if (enabled) this.loadClock();
  }

  bind(id, action) {
    const form = byId(id);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(form, () => action(formValues(form)));
    });
  }

  /** Run an admin action for `form`: its errors shown at the field, or under the panel. */
  async run(form, action) {
    const box = byId("admin-error");
    box.textContent = "";
    showFieldErrors(form, new Map());
    const buttons = [...form.querySelectorAll("button"), ...this.panel.querySelectorAll("[data-advance]")];
    for (const b of buttons) b.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await action();
    } catch (error) {
      if (!error.describe) throw error;
      showFieldErrors(form, errorFields(error, form));
      box.textContent = `${error.status}: ${error.describe()}`;
    } finally {
      for (const b of buttons) b.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  async loadClock() {
    try {
      this.renderClock(await this.api.get("/admin/v1/clock"));
    } catch (error) {
      byId("admin-error").textContent = `Clock: ${error.describe()}`;
    }
  }

  renderClock(clock) {
    const rows = [
      ["Mode", clock.mode],
      ["Now", clockTime(clock.now, true)],
      ["Speed", clock.speed === 0 ? "0 (frozen)" : `${clock.speed}\u00d7`],
      ["Session", clock.session || "closed"],
      ["Next", clock.next_session ? `${clock.next_session} at ${clockTime(clock.next_session_starts_at, true)}` : "\u2014"],
    ];
    const dl = byId("clock-figures");
    dl.dataset.now = clock.now;
    dl.replaceChildren(...rows.map(([label, value]) => h("div", { className: "figure" }, h("dt", {}, label), h("dd", {}, value))));
    byId("clk-mode").value = clock.mode;
    byId("clk-now").placeholder = clock.now;
    this.app.forceClock(clock.now);
  }

  async advance(body) {
    const clock = (await this.api.call("POST", "/admin/v1/clock/advance", body)).data;
    this.renderClock(clock);
    this.app.afterChange();
  }

  async setClock(values) {
    const body = compact(values, new Set(), new Set(["speed"]));
    if (body.mode === "wall") delete body.now;
    this.renderClock((await this.api.call("POST", "/admin/v1/clock", body)).data);
    this.app.afterChange();
  }

  async pin(values) {
    const symbol = values.symbol.toUpperCase();
    if (!symbol) {
      showFieldErrors(byId("pin-form"), new Map([["symbol", "Give the symbol (ticker or OSI) to pin."]]));
      return;
    }
    const body = compact({ ...values, symbol: "" }, new Set(["bid_size", "ask_size"]));
    const pinned = (await this.api.call("PUT", `/admin/v1/quotes/${encodeURIComponent(symbol)}`, body)).data;
    notify(`${pinned.symbol} pinned: bid ${pinned.bid ?? "\u2014"} / ask ${pinned.ask ?? "\u2014"}, last ${pinned.last ?? "\u2014"}.`, "info");
    this.app.afterChange();
  }

  async release() {
    const symbol = byId("pin-symbol").value.trim().toUpperCase();
    const released = (await this.api.call("DELETE", `/admin/v1/quotes/${encodeURIComponent(symbol)}`)).data;
    notify(`${released.symbol} follows its market data source again.`, "info");
    this.app.afterChange();
  }

  async loadFaults() {
    try {
      this.renderFaults(await this.api.get("/admin/v1/faults"));
    } catch (error) {
      byId("admin-error").textContent = `Faults: ${error.describe()}`;
    }
  }

  renderFaults(f) {
    byId("faults-now").textContent = `In force: reject next ${f.reject_next}${f.reject_reason ? ` (\u201c${f.reject_reason}\u201d)` : ""}, ack delay ${f.ack_delay_ms} ms, clearing ${f.clearing_unavailable ? "unavailable" : "available"}.`;
  }

  async setFaults(values) {
    const body = compact(values, new Set(["reject_next", "ack_delay_ms"]));
    body.clearing_unavailable = Boolean(values.clearing_unavailable);
    this.renderFaults((await this.api.call("POST", "/admin/v1/faults", body)).data);
  }

  async clearFaults() {
    await this.api.call("DELETE", "/admin/v1/faults");
    await this.loadFaults();
  }

  /** Upload a replay CSV in chunks of REPLAY_CHUNK rows, with progress; stops at the first error. */
  async replay() {
    const file = byId("replay-file").files[0];
    const status = byId("replay-status");
    const progress = byId("replay-progress");
    if (!file) {
      status.textContent = "Choose a CSV file first.";
      return;
    }
    const lines = (await file.text()).split(/\r?\n/);
    const header = lines[0].split(",").map((s) => s.trim());
    if (REPLAY_FIELDS.some((name, i) => header[i] !== name) || header.length !== REPLAY_FIELDS.length) {
      status.textContent = `${file.name}:1: the header must be ${REPLAY_FIELDS.join(",")}`;
      return;
    }
    const rows = [];
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      const fields = lines[i].split(",");
      if (fields.length !== header.length) {
        status.textContent = `${file.name}:${i + 1}: ${fields.length} fields, but the header has ${header.length}`;
        return;
      }
      const row = { line: i + 1 };
      header.forEach((name, k) => {
        const text = fields[k].trim();
        row[name] = text === "" ? null : SIZES.has(name) && /^\d+$/.test(text) ? Number(text) : text;
      });
      rows.push(row);
    }
    progress.hidden = false;
    progress.max = rows.length || 1;
    progress.value = 0;
    let symbols = new Set();
    for (let start = 0; start < rows.length; start += REPLAY_CHUNK) {
      const chunk = rows.slice(start, start + REPLAY_CHUNK);
      try {
        const answer = (await this.api.call("POST", "/admin/v1/market-data/replay", { rows: chunk.map(({ line, ...row }) => row) })).data;
        symbols = new Set([...symbols, ...answer.symbols]);
      } catch (error) {
        // The server numbers rows within the request: name the file's line as well.
        const index = /rows\[(\d+)\]/.exec(error.message);
        const where = index ? `${file.name}:${chunk[Number(index[1])].line}` : `${file.name} lines ${chunk[0].line}\u2013${chunk[chunk.length - 1].line}`;
        status.textContent = `${where}: ${error.describe()} (${start} rows loaded before it)`;
        throw error;
      }
      progress.value = Math.min(start + REPLAY_CHUNK, rows.length);
      status.textContent = `${progress.value} of ${rows.length} rows loaded\u2026`;
    }
    status.textContent = `${rows.length} rows loaded for ${[...symbols].join(", ") || "no symbols"}.`;
    this.app.afterChange();
  }

  async forgetReplay() {
    await this.api.call("DELETE", "/admin/v1/market-data/replay");
    byId("replay-status").textContent = "Replayed rows forgotten: every symbol follows the configured source again.";
  }

  async loadAccounts() {
    if (!byId("accounts-panel").open) return;
    let accounts;
    try {
      accounts = await this.api.get("/admin/v1/accounts");
    } catch (error) {
      byId("admin-error").textContent = `Accounts: ${error.describe()}`;
      return;
    }
    const tbody = byId("admin-accounts").tBodies[0];
    fillBody(
      tbody,
      accounts.flatMap((a) => {
        const amount = h("input", { size: 9, inputmode: "decimal", placeholder: "\u00b1amount", "aria-label": `Cash to move for ${a.id}` });
        const status = h("select", { "aria-label": `Status of ${a.id}` }, ...["ACTIVE", "INACTIVE", "CLOSED"].map((s) => h("option", { value: s }, s)));
        status.value = a.status;
        const form = h("form", { className: "inline", novalidate: true },
          amount, h("button", { type: "submit", className: "small" }, "Fund"), status,
          h("button", { type: "button", className: "small", onclick: () => this.run(form, () => this.setStatus(a.id, status.value)) }, "Set"));
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          this.run(form, () => this.fund(a.id, amount.value.trim()));
        });
        return [
          h("tr", { className: "account-head" },
            h("th", { scope: "row" }, String(a.id)), h("td", { className: "wrap" }, `${a.full_name} \u00b7 ${a.owner} (${a.subtype}, level ${a.options_level})`),
            h("td", {}, a.status), numCell(money(a.trade_cash))),
          h("tr", { className: "account-actions", dataset: { accountId: a.id } }, h("td", { colspan: 4 }, form)),
        ];
      }),
      "No accounts.",
    );
  }

  async createAccount(values) {
    const account = (await this.api.call("POST", "/admin/v1/accounts", compact(values, new Set(["options_level"])))).data;
    notify(`Account ${account.id} opened for ${values.owner}.`, "info");
    await this.loadAccounts();
    await this.refreshUserAccounts();
  }

  async fund(id, amount) {
    await this.api.call("POST", `/admin/v1/accounts/${id}/cash`, { amount });
    notify(`Moved ${money(amount)} for account ${id}.`, "info");
    await this.loadAccounts();
    this.app.afterChange();
  }

  async setStatus(id, status) {
    await this.api.call("POST", `/admin/v1/accounts/${id}/status`, { status });
    await this.loadAccounts();
  }

  /** The user key may see a new account: list the picker's accounts again. */
  async refreshUserAccounts() {
    if (!this.app.api) return;
    this.app.accounts = await this.app.api.all("/v1/accounts?page_size=100");
    this.app.renderPicker();
  }

  async loadKeys() {
    if (!byId("keys-panel").open) return;
    let keys;
    try {
      keys = await this.api.get("/admin/v1/api-keys");
    } catch (error) {
      byId("admin-error").textContent = `Keys: ${error.describe()}`;
      return;
    }
    fillBody(
      byId("admin-keys").tBodies[0],
      keys.map((k) => h("tr", {},
        h("th", { scope: "row", title: k.id }, `${k.user}${k.admin ? " (admin)" : ""}`),
        h("td", {}, k.account_ids ? k.account_ids.join(", ") : "all of the user's"),
        h("td", { title: `created ${clockTime(k.created_at, true)}` }, k.revoked ? "revoked" : k.expires_at ? `until ${clockTime(k.expires_at, true)}` : "active"),
        h("td", { className: "actions" },
          k.revoked || k.admin ? null : h("button", { type: "button", className: "small danger", "aria-label": `Revoke key ${k.id}`, onclick: (e) => this.run(e.target.closest("details").querySelector("form"), () => this.revoke(k)) }, "Revoke")))),
      "No keys.",
    );
  }

  async createKey(values) {
    const body = compact(values);
    if (body.account_ids) body.account_ids = body.account_ids.split(",").map((s) => s.trim()).filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const key = (await this.api.call("POST", "/admin/v1/api-keys", body)).data;
    const secret = byId("key-secret");
    secret.hidden = false;
    secret.replaceChildren("New key (shown once; copy it now): ", h("code", {}, key.api_key));
    await this.loadKeys();
  }

  async revoke(key) {
    if (!confirm(`Revoke ${key.user}'s key ${key.id}? Clients using it get 401 from now on.`)) return;
    await this.api.call("DELETE", `/admin/v1/api-keys/${key.id}`);
    await this.loadKeys();
  }

  async reset(values) {
    if (!confirm("Reset the sandbox? Every order, execution and position goes.")) return;
    const body = { keep_accounts: Boolean(values.keep_accounts) };
    if (values.now) body.clock = { mode: "simulated", now: values.now, speed: 0 };
    await this.api.call("POST", "/admin/v1/reset", body);
    notify("Sandbox reset.", "info");
    await this.loadClock();
    await this.refreshUserAccounts();
    await this.app.reload();
  }
}
