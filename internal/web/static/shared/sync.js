// Conversation sync: the resume rule of docs/protocol.md, and polling while
// the socket is down.
//
// For each followed conversation we keep the highest seq applied. On every
// (re)connect we send `resume` from it before reading the new socket, buffer
// that conversation's events until `resumed`, then apply the buffer sorted
// by seq, dropping what we have. Events are applied only in seq order and
// only above the last applied seq, so an event that arrives twice (live and
// in the replay, or by poll and by socket) is shown once.

import { enc } from "./api.js";

const pollEvery = 3_000;
const pageSize = 500;

/** isEvent reports whether a frame is a stored conversation event. */
export function isEvent(f) {
  return typeof f.seq === "number" && typeof f.conversation_id === "string" && f.data !== undefined &&
    f.type !== "ack" && f.type !== "resumed";
}

/**
 * Sync follows conversations over conn (a Connection) and api. apply(ev)
 * gets each followed conversation's events exactly once, in seq order;
 * other(frame) gets every frame Sync does not own (events of conversations
 * not followed, typing, queue positions, errors, acks…); lost(id, err) is
 * told when a conversation can no longer be read; tick() runs after each
 * poll round while the socket is down.
 */
export class Sync {
  constructor(conn, api, { apply, other, lost = () => {}, tick = () => {} }) {
    this.conn = conn;
    this.api = api;
    this.handlers = { apply, other, lost, tick };
    this.convs = new Map(); // id → {last, resuming, buffer, polling}
    // inflight counts the resumes sent per conversation on this socket and
    // not yet answered. A conversation left and opened again while its
    // first replay is still coming has two; only the answer to the last one
    // ends the buffering (the last replay covers the first).
    this.inflight = new Map();
    this.pollTimer = 0;
    conn.on("open", () => this.onOpen());
    conn.on("frame", (f) => this.onFrame(f));
    conn.on("down", () => this.onDown());
  }

  /**
   * stop ends following for good (the user signed out): no poll round is
   * left pending, and none starts when the socket's "down" comes after.
   */
  stop() {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.pollTimer = 0;
    this.convs.clear();
  }

  /** follow starts applying a conversation's events after seq `after`. */
  follow(id, after = 0) {
    const c = { last: after, resuming: false, buffer: [], polling: false };
    this.convs.set(id, c);
    if (this.conn.connected) this.resume(id, c, after);
    else this.pollOne(id, c);
  }

  unfollow(id) {
    this.convs.delete(id);
  }

  /** last is the highest seq applied for id (0 if not followed). */
  last(id) {
    const c = this.convs.get(id);
    return c ? c.last : 0;
  }

  /** settled reports whether id is followed and not in the middle of a replay. */
  settled(id) {
    const c = this.convs.get(id);
    return Boolean(c && !c.resuming);
  }

  onOpen() {
    clearTimeout(this.pollTimer);
    this.pollTimer = 0;
    // Step 1: resume every followed conversation before anything is read.
    for (const [id, c] of this.convs) this.resume(id, c, c.last);
  }

  resume(id, c, after) {
    c.resuming = true;
    c.buffer = [];
    this.sendResume(id, after);
  }

  sendResume(id, after) {
    if (this.conn.send({ type: "resume", conversation_id: id, after_seq: after })) {
      this.inflight.set(id, (this.inflight.get(id) || 0) + 1);
    }
  }

  onFrame(f) {
    const id = f.conversation_id;
    const c = this.convs.get(id);
    // A resume is answered by `resumed`, or by an error frame naming the
    // conversation (we send no other frame that errs without a
    // client_msg_id while a resume is out: typing and read wait for it).
    const answer = f.type === "resumed" || (f.type === "error" && !f.client_msg_id && this.inflight.has(id));
    if (answer) {
      const left = this.inflight.get(id) - 1;
      if (left > 0) this.inflight.set(id, left);
      else this.inflight.delete(id);
      if (!c || left > 0) return; // not followed now, or a later replay is on its way
      if (f.type === "resumed") this.finishResume(id, c, f);
      else this.failResume(id, c, f);
      return;
    }
    if (c && isEvent(f)) {
      this.ingest(id, c, [f]);
      return;
    }
    this.handlers.other(f);
  }

  // failResume handles a refused replay (no longer ours, store down…). The
  // buffer is dropped: it may skip events the replay would have filled in.
  failResume(id, c, f) {
    c.resuming = false;
    c.buffer = [];
    if (f.code === "unavailable" || f.code === "internal_error") {
      setTimeout(() => { if (this.convs.get(id) === c && this.conn.connected && !c.resuming) this.resume(id, c, c.last); }, 2000);
    } else {
      this.handlers.lost(id, f);
    }
  }

  // ingest applies events in seq order, or buffers them during a replay
  // (step 2) and after it drops what was already applied (step 4).
  ingest(id, c, events) {
    if (c.resuming) {
      c.buffer.push(...events);
      return;
    }
    for (const ev of [...events].sort((a, b) => a.seq - b.seq)) {
      if (this.convs.get(id) !== c || ev.seq <= c.last) continue;
      c.last = ev.seq;
      this.handlers.apply(ev);
    }
  }

  // finishResume is step 3. With more, only the buffered events inside the
  // replayed range are applied; the rest wait for the next round, because
  // applying them now would jump over events the next replay brings.
  finishResume(id, c, f) {
    if (!c.resuming) return;
    const buffered = c.buffer.sort((a, b) => a.seq - b.seq);
    c.resuming = false;
    c.buffer = [];
    if (f.more) {
      this.ingest(id, c, buffered.filter((ev) => ev.seq <= f.seq));
      c.resuming = true;
      c.buffer = buffered.filter((ev) => ev.seq > f.seq);
      this.sendResume(id, Math.max(f.seq, c.last));
      return;
    }
    this.ingest(id, c, buffered);
  }

  onDown() {
    this.inflight.clear();
    // A replay cut short leaves a buffer with holes: drop it, everything
    // in it is stored and comes back by poll or by the next resume.
    for (const c of this.convs.values()) {
      c.resuming = false;
      c.buffer = [];
    }
    this.schedulePoll(0);
  }

  schedulePoll(delay = pollEvery) {
    if (this.stopped || this.pollTimer || this.conn.connected) return;
    this.pollTimer = setTimeout(() => this.pollAll(), delay);
  }

  async pollAll() {
    this.pollTimer = 0;
    if (this.stopped || this.conn.connected) return;
    let reached = false;
    await Promise.all([...this.convs].map(async ([id, c]) => {
      if (await this.pollOne(id, c)) reached = true;
    }));
    try {
      await this.handlers.tick();
      reached = true;
    } catch {
      // the page's own refresh failed; polling goes on
    }
    // The server answers HTTP again: it is probably back, so try the socket
    // now rather than at the end of the backoff.
    if (reached) this.conn.nudge();
    this.schedulePoll();
  }

  // pollOne fetches every event after the last applied one, page by page.
  // It reports whether the server answered.
  async pollOne(id, c) {
    if (c.polling) return true;
    c.polling = true;
    try {
      for (;;) {
        const page = await this.api.get(`/api/conversations/${enc(id)}/events?after_seq=${c.last}&limit=${pageSize}`);
        if (this.convs.get(id) !== c) return true;
        this.ingest(id, c, page.events);
        if (page.events.length < pageSize || c.resuming) return true;
      }
    } catch (err) {
      // 401 is the session's end, which the api reports on its own.
      if (!err.retryable && err.status !== 401 && this.convs.get(id) === c) this.handlers.lost(id, err);
      return !err.network;
    } finally {
      c.polling = false;
    }
  }
}
