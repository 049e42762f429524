// The REST client: the Clear Street envelope, with its errors kept whole for the page to show.

/** An error answer of the server (or of the network), with the field it names if any. */
export class ApiError extends Error {
  constructor(status, message, details = [], requestId = null) {
    super(message);
    this.status = status;
    this.details = details || [];
    this.requestId = requestId;
  }

  /** The fields this error names, `[0].limit_price` -> "limit_price" (`legs[1].ratio` kept). */
  fields() {
    const subjects = this.details.map((d) => d && d.subject).filter(Boolean);
    const found = new Map();
    for (const text of [...subjects, this.message]) {
      const match = /\[\d+\]\.([a-z_]+(?:\[\d+\]\.[a-z_]+)?)/.exec(text);
      if (match && !found.has(match[1])) {
        const detail = this.details.find((d) => d && d.subject === text);
        found.set(match[1], detail ? detail.description : this.message.replace(/^.*?\]\.[a-z_\[\]\d.]+: /, ""));
      }
    }
    return found;
  }

  /** The whole message, with the details' descriptions a field error does not already say. */
  describe() {
    const extra = this.details
      .map((d) => d && d.description)
      .filter((text) => text && !this.message.includes(text));
    return [this.message, ...extra].join(" \u2014 ");
  }
}

/** A client of one server with one API key (the key goes in the Authorization header only). */
export class Api {
  constructor(key) {
    this.key = key;
  }

  /** The envelope's `data` (and `metadata`) of a request; throws ApiError for any failure. */
  async call(method, path, body = undefined) {
    const init = { method, headers: { Authorization: `Bearer ${this.key}` }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, `The server did not answer ${method} ${path}: ${error.message}`);
    }
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      throw new ApiError(response.status, `${method} ${path} answered ${response.status} without a JSON body`);
    }
    if (!response.ok || (envelope.error && envelope.data === undefined)) {
      const error = envelope.error || {};
      throw new ApiError(
        error.code || response.status,
        error.message || `${method} ${path} failed with ${response.status}`,
        error.details,
        envelope.metadata && envelope.metadata.request_id,
      );
    }
    return { data: envelope.data, metadata: envelope.metadata || {}, error: envelope.error };
  }

  async get(path) {
    return (await this.call("GET", path)).data;
  }

  /** Every item of a paged list (following next_page_token), at most `limit` of them. */
  async all(path, limit = 1000) {
    const items = [];
    let token = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = await this.call("GET", token ? `${path}${sep}page_token=${encodeURIComponent(token)}` : path);
      items.push(...page.data);
      token = page.metadata.next_page_token;
    } while (token && items.length < limit);
    return items;
  }
}
