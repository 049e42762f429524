// Rendering of the server's values. Money and quantities arrive as decimal strings and are shown
// as they are: digits are grouped by string manipulation, never through floating point.

const DECIMAL = /^(-?)(\d+)(\.\d+)?$/;

/** Group the integer digits of a decimal string by thousands ("1234567.50" -> "1,234,567.50"). */
export function grouped(text) {
  if (text === null || text === undefined || text === "") return "";
  const match = DECIMAL.exec(String(text));
  if (!match) return String(text);
  const [, sign, whole, fraction = ""] = match;
  return `${sign ? "\u2212" : ""}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${fraction}`;
}

/** A money string with its currency: "-12.50" -> "−$12.50" (USD) or "−12.50 EUR". */
export function money(text, currency = "USD") {
  if (text === null || text === undefined || text === "") return "\u2014";
  const shown = grouped(text);
  const negative = shown.startsWith("\u2212");
  const digits = negative ? shown.slice(1) : shown;
  const body = currency === "USD" ? `$${digits}` : `${digits} ${currency}`;
  return negative ? `\u2212${body}` : body;
}

/** A quantity or price without currency, or an em dash for null. */
export function number(text) {
  if (text === null || text === undefined || text === "") return "\u2014";
  return grouped(text);
}

/** -1, 0 or 1 by the sign of a decimal string, read from its text. */
export function sign(text) {
  if (text === null || text === undefined) return 0;
  const value = String(text);
  if (!DECIMAL.test(value) || /^-?0*(\.0*)?$/.test(value)) return 0;
  return value.startsWith("-") ? -1 : 1;
}

/** The CSS class of a P&L figure: gain, loss or nothing. */
export function pnlClass(text) {
  const s = sign(text);
  return s > 0 ? "gain" : s < 0 ? "loss" : "";
}

/** A Greek or volatility (not money) shown to `places` decimals. */
export function greek(text, places = 3) {
  if (text === null || text === undefined) return "\u2014";
  const value = Number(text);
  return Number.isFinite(value) ? value.toFixed(places) : String(text);
}

const TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const DATE_TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

/** Seconds since the epoch of an RFC 3339 instant with up to nanosecond digits. */
export function epochSeconds(instant) {
  const trimmed = String(instant).replace(/(\.\d{3})\d*/, "$1");
  return Date.parse(trimmed) / 1000;
}

/** An instant as New York time of day, or with its date when `withDate`. */
export function clockTime(instant, withDate = false) {
  if (!instant) return "\u2014";
  const date = new Date(epochSeconds(instant) * 1000);
  return (withDate ? DATE_TIME : TIME).format(date) + " ET";
}

/** The epoch seconds of a New York wall-clock time on an ISO date (DST-aware). */
export function newYorkEpoch(isoDate, hour, minute) {
  const [y, m, d] = isoDate.split("-").map(Number);
  for (const offset of [4, 5]) {
    const guess = Date.UTC(y, m - 1, d, hour + offset, minute) / 1000;
    const parts = TIME.formatToParts(new Date(guess * 1000));
    if (Number(parts.find((p) => p.type === "hour").value) === hour) return guess;
  }
  return Date.UTC(y, m - 1, d, hour + 5, minute) / 1000;
}
