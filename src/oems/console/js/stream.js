// The client of `GET /v1/ws` (issue 12's protocol): authorizes with a first message (the key is
// never in the URL), subscribes to account activity and L1 quotes, numbers what it has seen per
// account and, after any disconnect, resubscribes with `since_sequence` so nothing is missed.

const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000];
// The server sends a heartbeat after 15 s without traffic; three missed ones mean a dead socket.
const SILENCE_MS = 45000;

export class Stream {
  /**
   * handlers: activity(message) for each new activity message in sequence order;
   * quote(snapshot); synced(accountId, latest) when an account's replay is complete;
   * acked(accountId, latest) when a subscription is acknowledged; synced(accountId, fresh) when
   * its replay is complete (`fresh`: it was subscribed without since_sequence); reset(accountId) when the server's sequence went back (the sandbox was reset);
   * status(state, text) on every change of connection state; clock(instant) from heartbeats;
   * notice(message) for an error-notice (`code`, `message`, and `account_id` or `symbol`).
   */
  constructor(key, handlers) {
    this.key = key;
    this.handlers = handlers;
    this.accounts = new Map(); // account id -> {seen: last sequence applied, live: bool}
    this.symbols = new Set();
    this.socket = null;
    this.attempt = 0;
    this.closed = false;
    this.state = "connecting";
    this.watchdog = null;
  }

  /** Open the socket (again after a drop, with the backoff of RETRY_MS). */
  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.setState("connecting", "connecting\u2026");
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}/v1/ws`);
    } catch (error) {
      this.setState("down", `stream unavailable: ${error.message}`);
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.send({ type: "authorize", authorization: this.key });
      for (const [id, account] of this.accounts) this.subscribeMessage(id, account);
      if (this.symbols.size) this.send({ type: "market-data-l1-subscribe", symbols: [...this.symbols] });
      this.touch();
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.watchdog);
      for (const account of this.accounts.values()) account.live = false;
      if (this.closed) return;
      const why = event.reason ? `: ${event.reason}` : "";
      const text = event.code === 1006 && !event.wasClean && this.attempt > 0
        ? "live updates unavailable (/v1/ws does not answer); retrying"
        : `stream closed (code ${event.code}${why}); reconnecting`;
      this.setState("down", text);
      this.retry();
    });
  }

  retry() {
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    setTimeout(() => this.connect(), delay);
  }

  /** Stop for good (sign-out). */
  close() {
    this.closed = true;
    clearTimeout(this.watchdog);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  setState(state, text) {
    this.state = state;
    this.handlers.status(state, text);
  }

  touch() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.socket) this.socket.close(4000, "no traffic for 45 s");
    }, SILENCE_MS);
  }

  /** Follow an account's activity: from what was seen before, else from the ack's sequence on. */
  subscribeAccount(id) {
    if (!this.accounts.has(id)) this.accounts.set(id, { seen: null, live: false, latest: null });
    this.subscribeMessage(id, this.accounts.get(id));
  }

  subscribeMessage(id, account) {
    account.fresh = account.seen === null; // no since_sequence: the page loads by REST after the ack
    const message = { type: "subscribe-activity", account_id: id };
    if (account.seen !== null) message.since_sequence = account.seen;
    this.send(message);
  }

  unsubscribeAccount(id) {
    this.accounts.delete(id);
    this.send({ type: "unsubscribe-activity", account_id: id });
  }

  /** Follow the L1 quotes of `symbols` (tickers or OSI symbols) in addition to those followed. */
  subscribeQuotes(symbols) {
    const fresh = symbols.filter((s) => !this.symbols.has(s));
    for (const s of fresh) this.symbols.add(s);
    if (fresh.length) this.send({ type: "market-data-l1-subscribe", symbols: fresh });
  }

  unsubscribeQuotes(symbols) {
    const known = symbols.filter((s) => this.symbols.delete(s));
    if (known.length) this.send({ type: "market-data-l1-unsubscribe", symbols: known });
  }

  receive(text) {
    this.touch();
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.handlers.notice({ code: 0, message: `the stream sent a frame that is not JSON: ${String(text).slice(0, 80)}` });
      return;
    }
    switch (message.type) {
      case "subscribe-activity-ack":
        this.acknowledged(message);
        break;
      case "activity":
        this.activity(message);
        break;
      case "replay-complete": {
        const account = this.accounts.get(message.account_id);
        if (!account) break;
        account.live = true;
        if (account.seen === null) account.seen = message.sequence;
        this.attempt = 0;
        this.handlers.synced(message.account_id, account.fresh);
        this.updateLiveState();
        break;
      }
      case "market-data-l1":
        this.handlers.quote(message.data);
        break;
      case "market-data-l1-subscribe-ack":
        this.attempt = 0;
        this.updateLiveState();
        break;
      case "heartbeat":
        if (message.timestamp) this.handlers.clock(message.timestamp); // the market clock's instant
        break;
      case "market-data-l1-unsubscribe-ack":
      case "unsubscribe-activity-ack":
        break;
      case "error-notice":
        this.refused(message);
        break;
      default:
        break;
    }
  }

  refused(message) {
    const account = message.account_id !== undefined ? this.accounts.get(message.account_id) : null;
    if (account && message.code === 400 && /since_sequence/.test(message.message)) {
      // The server's sequence is behind what this page saw: the sandbox was reset. Start over.
      account.seen = null;
      account.floor = undefined;
      this.subscribeMessage(message.account_id, account);
      this.handlers.reset(message.account_id);
      return;
    }
    if (message.code === 401) this.setState("down", `stream refused the key: ${message.message}`);
    this.handlers.notice(message);
  }

  acknowledged(message) {
    const account = this.accounts.get(message.account_id);
    if (!account) return;
    // A first subscription starts after the ack's sequence: what came before it is in the REST
    // load the page makes once the ack is in, so the replay from the day's start is skipped.
    if (account.seen === null) {
      account.floor = message.sequence;
    } else if (message.sequence < account.seen) {
      // The account's sequence went back: the sandbox was reset. Start over from REST.
      account.seen = null;
      account.floor = message.sequence;
      this.handlers.reset(message.account_id);
    }
    account.latest = message.sequence;
    this.handlers.acked(message.account_id, message.sequence);
  }

  activity(message) {
    const account = this.accounts.get(message.account_id);
    if (!account) return;
    const floor = account.seen !== null ? account.seen : account.floor;
    if (floor !== undefined && floor !== null && message.sequence <= floor) return; // seen or replayed
    if (account.seen !== null && message.sequence !== account.seen + 1) {
      // A gap the server promises never to leave: resubscribe from what was applied.
      this.handlers.notice({ code: 0, message: `activity ${account.seen + 1}\u2013${message.sequence - 1} of account ${message.account_id} missing; resubscribing` });
      this.subscribeMessage(message.account_id, account);
      return;
    }
    account.seen = message.sequence;
    this.handlers.activity(message);
  }

  updateLiveState() {
    const accounts = [...this.accounts.values()];
    if (this.socket && accounts.every((a) => a.live)) this.setState("live", "live");
  }

  /** Whether every followed account is past its replay on an open socket. */
  get live() {
    return this.state === "live";
  }
}
