// The WebSocket connection: bearer subprotocol, reconnect with backoff and
// jitter, a ping every 30 s, and a state the page shows
// (connected / reconnecting / offline).

const pingEvery = 30_000;
// silentLimit: two pings without any frame back means the path is dead
// (a half-open TCP connection never fires onclose by itself).
const silentLimit = 2 * pingEvery + 5_000;
const backoffBase = 500;
const backoffMax = 10_000;
// After this many failed attempts in a row the page says "offline" rather
// than "reconnecting"; it keeps trying either way.
const offlineAfter = 4;

/**
 * Connection keeps one WebSocket open to url. Listeners:
 *   open()      the socket opened; runs before any frame of it is read
 *   frame(obj)  a JSON frame arrived
 *   down()      the socket closed or failed; reconnecting follows
 *   state(s)    the visible state changed
 *   auth(reason) the server refused the token (close 4001); no reconnect
 */
export class Connection {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.ws = null;
    this.attempts = 0;
    this.state = "reconnecting";
    this.stopped = true;
    this.timer = 0;
    this.pinger = 0;
    this.lastRx = 0;
    this.listeners = { open: [], frame: [], down: [], state: [], auth: [] };
    this.onOnline = () => this.nudge();
    this.onOffline = () => this.setState("offline");
  }

  on(type, fn) {
    this.listeners[type].push(fn);
    return this;
  }

  emit(type, ...args) {
    for (const fn of this.listeners[type]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`connection ${type} listener`, err);
      }
    }
  }

  get connected() { return this.state === "connected"; }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.detach(1000);
    this.setState("offline");
  }

  /** send writes a frame if the socket is open; it reports whether it did. */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** nudge reconnects now instead of waiting out the backoff. */
  nudge() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.open();
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.emit("state", s);
  }

  open() {
    let ws;
    try {
      ws = new WebSocket(this.url, ["bearer." + this.token]);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this.lastRx = Date.now();
      this.setState("connected");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.ping(), pingEvery);
      this.emit("open");
    };
    ws.onmessage = (e) => {
      this.lastRx = Date.now();
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame && typeof frame === "object") this.emit("frame", frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pinger);
      if (e.code === 4001) {
        this.stopped = true;
        this.setState("offline");
        this.emit("down");
        this.emit("auth", e.reason);
        return;
      }
      this.emit("down");
      this.scheduleReconnect();
    };
    ws.onerror = () => {}; // onclose follows and does the work
  }

  ping() {
    if (Date.now() - this.lastRx > silentLimit) {
      // Nothing came back for two pings: give up on this socket now rather
      // than wait for a close that a dead path never delivers.
      this.detach(4000);
      this.emit("down");
      this.scheduleReconnect();
      return;
    }
    this.send({ type: "ping" });
  }

  detach(code) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code);
    } catch {
      // already closing
    }
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.attempts++;
    this.setState(this.attempts >= offlineAfter || navigator.onLine === false ? "offline" : "reconnecting");
    // Full-range jitter on half the delay: clients dropped together by a
    // restart do not all come back in the same millisecond.
    const cap = Math.min(backoffMax, backoffBase * 2 ** (this.attempts - 1));
    const delay = cap / 2 + Math.random() * (cap / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }
}

/** wsURL builds the socket URL for a path on this page's host. */
export function wsURL(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}
