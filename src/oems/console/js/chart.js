// The equity / P&L chart on uPlot (served from node_modules; the chart says how to install it when
// it is absent). Points are plotted as numbers: that conversion is for drawing only, the figures
// shown as text elsewhere stay the server's decimal strings.

import { h } from "./dom.js";
import { epochSeconds, money, newYorkEpoch } from "./format.js";

let uPlotModule = null;

async function loadLibrary() {
  if (uPlotModule) return uPlotModule;
  const module = await import("/console/vendor/uPlot.esm.js");
  document.head.append(h("link", { rel: "stylesheet", href: "/console/vendor/uPlot.min.css" }));
  uPlotModule = module.default;
  return uPlotModule;
}

/** A scale's range around its data, at least $100 wide (a flat line sits in the middle). */
function padded(u, min, max) {
  if (min === null || max === null) return [0, 100];
  const pad = Math.max((max - min) * 0.1, 50);
  return [min - pad, max + pad];
}

/** The chart in `element`: history segments plus live points, equity and the day's P&L. */
export class EquityChart {
  constructor(element) {
    this.element = element;
    this.history = []; // [x, equity, day P&L] from portfolio history
    this.live = []; // the same from balances seen since
    this.plot = null;
    this.failed = null;
  }

  async mount() {
    try {
      const uPlot = await loadLibrary();
      this.uPlot = uPlot;
    } catch (error) {
      this.failed = error;
      this.element.replaceChildren(
        h("p", { className: "chart-missing", role: "note" },
          "The chart library (uPlot) is not installed. Run ",
          h("code", {}, "npm ci"),
          " in the oems checkout and reload; everything else on the page works without it."),
      );
      this.element.dataset.state = "missing";
      return;
    }
    this.element.dataset.state = "ready";
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.element);
    this.draw();
  }

  /** Replace the history with portfolio-history segments (one per trading day): equity at the
   * open and at the close, today's "close" being the market clock's `now`. */
  setHistory(segments, today, now) {
    this.history = [];
    for (const s of segments) {
      const open = newYorkEpoch(s.date, 9, 30);
      const end = s.date === today && now ? Math.max(epochSeconds(now), open) : newYorkEpoch(s.date, 16, 0);
      this.history.push([Math.min(open, end), s.sod_equity, "0"]);
      if (end > open) this.history.push([end, s.eod_equity, s.day_pnl]);
    }
    this.live = [];
    this.draw();
  }

  /** A live point: the balances at a market instant. */
  addBalance(instant, balances) {
    const x = epochSeconds(instant);
    if (!Number.isFinite(x)) return;
    const last = this.live[this.live.length - 1];
    const point = [x, balances.equity, balances.daily_total_pnl];
    if (last && last[0] >= x) this.live[this.live.length - 1] = [Math.max(last[0], x), point[1], point[2]];
    else this.live.push(point);
    this.draw();
  }

  points() {
    const liveStart = this.live.length ? this.live[0][0] : Infinity;
    // Today's history segment ends "now"; live points replace its end once they exist.
    const past = this.history.filter(([x]) => x < liveStart);
    return [...past, ...this.live].sort((a, b) => a[0] - b[0]);
  }

  draw() {
    const points = this.points();
    this.element.dataset.points = String(points.length);
    if (points.length) {
      const [, equity, pnl] = points[points.length - 1];
      this.element.dataset.lastEquity = equity;
      this.element.setAttribute("aria-label", `Equity ${money(equity)}, day P&L ${money(pnl)}`);
    }
    if (!this.uPlot) return;
    const data = [
      points.map((p) => p[0]),
      points.map((p) => Number(p[1])),
      points.map((p) => Number(p[2])),
    ];
    if (!this.plot) {
      const uPlot = this.uPlot;
      this.plot = new uPlot(this.options(), data, this.element);
    } else {
      this.plot.setData(data);
    }
  }

  options() {
    const uPlot = this.uPlot;
    const dollars = (u, values) => values.map((v) => (v === null ? "" : `${v < 0 ? "\u2212" : ""}$${Math.abs(Math.round(v)).toLocaleString("en-US")}`));
    const legend = (u, v) => (v === null ? "\u2014" : `${v < 0 ? "\u2212" : ""}$${Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
    const width = Math.max(this.element.clientWidth, 280);
    return {
      width,
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "America/New_York"),
      scales: { x: { time: true }, y: { range: padded }, pnl: { range: padded } },
      series: [
        {},
        { label: "Equity", stroke: "#2f6fdf", width: 2, value: legend },
        { label: "Day P&L", stroke: "#1a9b5b", width: 1.5, dash: [4, 3], scale: "pnl", value: legend },
      ],
      axes: [
        { stroke: "#64748b", grid: { stroke: "#e2e8f0" } },
        { stroke: "#64748b", grid: { stroke: "#e2e8f0" }, values: dollars, size: 96 },
        { side: 1, scale: "pnl", stroke: "#1a9b5b", grid: { show: false }, values: dollars, size: 76 },
      ],
    };
  }

  resize() {
    const width = Math.max(this.element.clientWidth, 280);
    if (this.plot && Math.abs(this.plot.width - width) > 1) this.plot.setSize({ width, height: 220 });
  }
}
