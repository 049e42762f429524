// Quotes: the watchlist (live L1 through the stream) and the option chain with Greeks.

import { byId, fillBody, h, notify, numCell } from "./dom.js";
import { greek, money, number, pnlClass } from "./format.js";

const WATCHLIST = "oems.console.watchlist"; // localStorage: symbols only, nothing secret
const DEFAULT_WATCHLIST = ["AAPL", "MSFT", "SPY"];

function snapshotPath(symbols) {
  return `/v1/market-data/snapshot?instrument_ids=${symbols.map(encodeURIComponent).join(",")}`;
}

export class Quotes {
  constructor(app) {
    this.app = app;
    this.snapshots = new Map(); // symbol -> latest snapshot
    this.problems = new Map(); // watched symbol -> what the server said about it
    this.chainSymbols = [];
    this.followed = new Set();
    try {
      this.watchlist = JSON.parse(localStorage.getItem(WATCHLIST)) || DEFAULT_WATCHLIST;
    } catch {
      this.watchlist = DEFAULT_WATCHLIST;
    }
    byId("watch-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addWatch(byId("watch-symbol").value.trim().toUpperCase());
    });
    byId("chain-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.loadChain();
    });
    byId("chain-underlier").addEventListener("change", () => this.loadExpiries());
  }

  async start() {
    this.renderWatch();
    await Promise.all([this.refreshWatch(), this.loadExpiries()]);
  }

  async refreshWatch() {
    if (!this.watchlist.length) return;
    try {
      const data = await this.app.api.get(snapshotPath(this.watchlist));
      for (const snapshot of data) this.snapshots.set(snapshot.symbol, snapshot);
    } catch (error) {
      notify(`Watchlist quotes: ${error.describe()}`);
    }
    this.follow(this.watchlist);
    this.renderWatch();
  }

  follow(symbols) {
    const stream = this.app.stream;
    if (!stream) return;
    const fresh = symbols.filter((s) => !this.followed.has(s));
    for (const s of fresh) this.followed.add(s);
    stream.subscribeQuotes(fresh);
  }

  /** Follow the quotes of held symbols too, so their positions are revalued as they move. */
  followPositions() {
    this.follow([...this.app.positions.values()].map((p) => p.symbol));
  }

  async addWatch(symbol) {
    if (!symbol || this.watchlist.includes(symbol)) return;
    try {
      const [snapshot] = await this.app.api.get(snapshotPath([symbol]));
      this.snapshots.set(snapshot.symbol, snapshot);
      this.watchlist.push(snapshot.symbol);
      localStorage.setItem(WATCHLIST, JSON.stringify(this.watchlist));
      byId("watch-symbol").value = "";
      this.follow([snapshot.symbol]);
      this.renderWatch();
    } catch (error) {
      notify(`Watch ${symbol}: ${error.describe()}`);
    }
  }

  removeWatch(symbol) {
    this.watchlist = this.watchlist.filter((s) => s !== symbol);
    localStorage.setItem(WATCHLIST, JSON.stringify(this.watchlist));
    this.renderWatch();
  }

  /** A `market-data-l1` message: the snapshot object of the REST endpoint. */
  onQuote(snapshot) {
    this.snapshots.set(snapshot.symbol, snapshot);
    if (this.watchlist.includes(snapshot.symbol)) this.updateWatchRow(snapshot);
    if (this.chainSymbols.includes(snapshot.symbol)) this.updateChainCells(snapshot);
    if (this.chainSpot && this.chainSpot.symbol === snapshot.symbol) this.describeChain(snapshot);
    for (const position of this.app.positions.values()) {
      if (position.symbol === snapshot.symbol) {
        this.app.revalue();
        break;
      }
    }
  }

  /** An error notice about a watched symbol: shown on its row. Returns whether it was. */
  onNotice(symbol, message) {
    if (!this.watchlist.includes(symbol)) return false;
    this.problems.set(symbol, message);
    this.renderWatch();
    return true;
  }

  renderWatch() {
    const tbody = byId("watch-table").tBodies[0];
    fillBody(tbody, this.watchlist.map((symbol) => this.watchRow(symbol)), "Add a symbol to watch.");
  }

  watchRow(symbol) {
    const s = this.snapshots.get(symbol);
    const problem = this.problems.get(symbol);
    const quote = (s && s.last_quote) || {};
    const session = (s && s.session) || {};
    const row = h("tr", { dataset: { testid: "quote-row", symbol } },
      h("th", { scope: "row" },
        h("button", { type: "button", className: "link", title: "Use in the order ticket", onclick: () => this.app.ticket.useSymbol(symbol) }, symbol),
        problem ? h("span", { className: "loss", title: problem }, " (not found)") : null),
      numCell(number(quote.bid), "bid"),
      numCell(number(quote.ask), "ask"),
      numCell(number(s && s.last_trade ? s.last_trade.price : null), "last"),
      h("td", { className: `num change ${pnlClass(session.change)}`, title: session.change ? `${number(session.change)} since the previous close` : null },
        session.change_percent ? `${number(session.change_percent)}%` : "\u2014"),
      h("td", { className: "actions" },
        h("button", { type: "button", className: "small ghost", "aria-label": `Stop watching ${symbol}`, onclick: () => this.removeWatch(symbol) }, "\u00d7")));
    return row;
  }

  updateWatchRow(snapshot) {
    const row = byId("watch-table").querySelector(`tr[data-symbol="${CSS.escape(snapshot.symbol)}"]`);
    if (row) {
      const fresh = this.watchRow(snapshot.symbol);
      fresh.classList.add("tick");
      row.replaceWith(fresh);
    }
  }

  async loadExpiries() {
    const underlier = byId("chain-underlier").value.trim().toUpperCase();
    const select = byId("chain-expiry");
    if (!underlier) return;
    try {
      const instrument = await this.app.api.get(`/v1/instruments/${encodeURIComponent(underlier)}?include_options_expiry_dates=true`);
      const dates = instrument.options_expiry_dates || [];
      select.replaceChildren(...dates.map((d) => h("option", { value: d }, d)));
      if (dates.length) await this.loadChain();
      else byId("chain-note").textContent = `${instrument.name} has no listed options.`;
    } catch (error) {
      select.replaceChildren();
      byId("chain-note").textContent = `${underlier}: ${error.describe()}`;
    }
  }

  async loadChain() {
    const api = this.app.api;
    const underlier = byId("chain-underlier").value.trim().toUpperCase();
    const expiry = byId("chain-expiry").value;
    const width = Number(byId("chain-width").value);
    if (!underlier || !expiry) {
      byId("chain-note").textContent = "Choose an underlier with listed options and an expiry.";
      return;
    }
    try {
      const [contracts, [spot]] = await Promise.all([
        api.all(`/v1/instruments/options/contracts?underlier=${encodeURIComponent(underlier)}&expiry=${expiry}&page_size=1000`, 5000),
        api.get(snapshotPath([underlier])),
      ]);
      const reference = Number((spot.last_trade && spot.last_trade.price) || (spot.last_quote && spot.last_quote.midpoint) || 0);
      const strikes = [...new Set(contracts.map((c) => c.strike_price))].sort((a, b) => Number(a) - Number(b));
      // The strikes nearest the underlier's price (compared as numbers: a selection, not money).
      const nearest = [...strikes].sort((a, b) => Math.abs(Number(a) - reference) - Math.abs(Number(b) - reference)).slice(0, width);
      const shown = strikes.filter((s) => nearest.includes(s));
      const bySide = new Map(contracts.map((c) => [`${c.contract_type}:${c.strike_price}`, c]));
      const symbols = [];
      for (const strike of shown) for (const type of ["CALL", "PUT"]) {
        const c = bySide.get(`${type}:${strike}`);
        if (c) symbols.push(c.symbol);
      }
      const snapshots = symbols.length ? await api.get(snapshotPath(symbols)) : [];
      for (const s of snapshots) this.snapshots.set(s.symbol, s);
      if (this.app.stream) {
        const stale = this.chainSymbols.filter((s) => !symbols.includes(s) && !this.watchlist.includes(s));
        this.app.stream.unsubscribeQuotes(stale);
        for (const s of stale) this.followed.delete(s);
      }
      this.chainSymbols = symbols;
      this.follow(symbols);
      this.renderChain(shown, bySide, spot);
    } catch (error) {
      byId("chain-note").textContent = `Option chain: ${error.describe ? error.describe() : error.message}`;
    }
  }

  /** The line above the chain: the underlier's price now. */
  describeChain(spot) {
    this.chainSpot = spot;
    const price = (spot.last_trade && spot.last_trade.price) || (spot.last_quote && spot.last_quote.midpoint);
    byId("chain-note").textContent = `${spot.symbol} at ${money(price)}; the ${this.chainStrikes} strikes nearest the money when shown. Greeks from the server's model.`;
    return price;
  }

  renderChain(strikes, bySide, spot) {
    const tbody = byId("chain-table").tBodies[0];
    this.chainStrikes = strikes.length;
    this.follow([spot.symbol]);
    const price = this.describeChain(spot);
    const legButtons = (c) =>
      c ? h("td", { className: "actions" },
        h("button", { type: "button", className: "small buy", "aria-label": `Buy ${c.symbol}`, onclick: () => this.app.ticket.addLeg(c.symbol, "BUY") }, "B"),
        h("button", { type: "button", className: "small sell", "aria-label": `Sell ${c.symbol}`, onclick: () => this.app.ticket.addLeg(c.symbol, "SELL") }, "S"))
        : h("td");
    fillBody(
      tbody,
      strikes.map((strike) => {
        const call = bySide.get(`CALL:${strike}`);
        const put = bySide.get(`PUT:${strike}`);
        const itm = Number(strike) < Number(price) ? "itm-call" : "itm-put";
        return h("tr", { className: itm, dataset: { strike } },
          legButtons(call), ...this.chainCells(call),
          h("th", { scope: "row", className: "num strike" }, number(strike)),
          ...this.chainCells(put), legButtons(put));
      }),
      "No contracts for this expiry.",
    );
  }

  chainCells(contract) {
    if (!contract) return Array.from({ length: 7 }, () => h("td"));
    const s = this.snapshots.get(contract.symbol) || {};
    const q = s.last_quote || {};
    const g = s.greeks || {};
    const cells = [
      numCell(number(q.bid)), numCell(number(q.ask)),
      numCell(g.iv ? `${greek(Number(g.iv) * 100, 1)}%` : "\u2014"),
      numCell(greek(g.delta)), numCell(greek(g.gamma, 4)), numCell(greek(g.theta)), numCell(greek(g.vega)),
    ];
    for (const cell of cells) cell.dataset.contract = contract.symbol;
    return cells;
  }

  updateChainCells(snapshot) {
    const old = byId("chain-table").querySelectorAll(`td[data-contract="${CSS.escape(snapshot.symbol)}"]`);
    if (!old.length) return;
    const contract = { symbol: snapshot.symbol };
    const fresh = this.chainCells(contract);
    old.forEach((cell, index) => cell.replaceWith(fresh[index]));
  }
}
