// The outbox: messages the user wrote that the server has not confirmed.
//
// Each message gets a client_msg_id (crypto.randomUUID()) when it is
// written and keeps it across every retry, so the server stores it once
// however often we send it. While the socket is up a message goes as a
// `message` frame; while it is down we try POST …/messages; if that fails
// too it waits for the next poll round or the next connect. The queue
// survives a reload of the page (sessionStorage).
//
// A message with files uploads them first (POST /api/uploads, with
// progress), then sends the message naming the uploads: a file that went
// up before the network failed is not sent again, and the message still
// goes once, under its one client id. Files not yet uploaded cannot be
// kept across a reload (sessionStorage holds text); such a message comes
// back failed, saying so.

import { ApiError, enc } from "./api.js";

// An unanswered frame is sent again after this long (same client id).
const ackTimeout = 10_000;
// After an "unavailable" answer (the database or bus restarting), the same
// frame is sent again after a backoff that doubles from retryBase up to
// retryMax, with jitter so a desk's worth of pages do not retry in step.
const retryBase = 500;
const retryMax = 10_000;
// Refusals that will not change on a retry: the message is failed.
const finalCodes = new Set(["invalid", "invalid_frame", "invalid_json", "forbidden", "not_found", "conflict", "unknown_type"]);

const needsUpload = (m) => (m.files || []).some((f) => !f.id);
const attachmentIDs = (m) => (m.files || []).map((f) => f.id);

function messageFrame(m) {
  const f = { type: "message", conversation_id: m.conversation_id, body: m.body, client_msg_id: m.client_msg_id };
  if (m.files && m.files.length) f.attachments = attachmentIDs(m);
  return f;
}

/** newClientMsgID returns a fresh idempotency key. */
export function newClientMsgID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Old in-app browsers: 128 random bits in hex.
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Outbox sends messages for one user. changed(item) is told every status
 * change; item: {conversation_id, client_msg_id, body, status
 * ("sending" | "sent" | "failed"), seq?, error?, created_at}.
 */
export class Outbox {
  constructor(conn, api, storageKey, changed) {
    this.conn = conn;
    this.api = api;
    this.storageKey = storageKey;
    this.changed = changed;
    this.items = new Map(); // client_msg_id → item, in insertion order
    this.draining = false;
    this.timer = 0; // the one pending re-flush, so retries never pile up
    this.load();
    conn.on("frame", (f) => this.onFrame(f));
  }

  load() {
    try {
      for (const item of JSON.parse(sessionStorage.getItem(this.storageKey)) || []) {
        const m = { ...item, sentAt: 0 };
        if (m.status === "sending" && (m.files || []).some((f) => !f.id)) {
          m.status = "failed";
          m.error = "invalid";
          m.reason = "files_lost";
        }
        this.items.set(m.client_msg_id, m);
      }
    } catch {
      // a damaged queue is dropped
    }
  }

  save() {
    const keep = [...this.items.values()].map(({ sentAt, uploading, ...item }) => ({
      ...item, files: item.files && item.files.map(({ file, preview, ...f }) => f),
    }));
    sessionStorage.setItem(this.storageKey, JSON.stringify(keep));
  }

  /** pending lists a conversation's unconfirmed messages, oldest first. */
  pending(conversationID) {
    return [...this.items.values()].filter((m) => m.conversation_id === conversationID);
  }

  /** add queues a new message (with files, File objects) and tries to send it; it returns the item. */
  add(conversationID, body, files = []) {
    const item = {
      conversation_id: conversationID, client_msg_id: newClientMsgID(), body,
      status: "sending", created_at: new Date().toISOString(), sentAt: 0,
    };
    if (files.length) {
      item.files = files.map((f) => ({
        name: f.name || "file", size: f.size, type: f.type, file: f, progress: 0,
        preview: /^image\//.test(f.type) ? URL.createObjectURL(f) : "",
      }));
    }
    this.items.set(item.client_msg_id, item);
    this.save();
    this.changed(item);
    this.flush();
    return item;
  }

  /** retry sends a failed message again, with its original client id. */
  retry(clientMsgID) {
    const item = this.items.get(clientMsgID);
    if (!item) return;
    item.status = "sending";
    item.sentAt = 0;
    item.retryAt = 0;
    delete item.error;
    delete item.reason;
    this.save();
    this.changed(item);
    this.flush();
  }

  /** discard forgets a failed message the user gave up on. */
  discard(clientMsgID) {
    const item = this.items.get(clientMsgID);
    if (!item || item.status !== "failed") return;
    for (const f of item.files || []) if (f.preview) URL.revokeObjectURL(f.preview);
    this.items.delete(clientMsgID);
    this.save();
    this.changed({ ...item, status: "discarded" });
  }

  /** confirm marks a message stored (its event was seen) and forgets it. */
  confirm(clientMsgID, seq) {
    const item = this.items.get(clientMsgID);
    if (!item) return;
    this.items.delete(clientMsgID);
    this.save();
    this.changed({ ...item, status: "sent", seq });
    // The history now shows the stored files; the local previews can go.
    for (const f of item.files || []) if (f.preview) setTimeout(() => URL.revokeObjectURL(f.preview), 60_000);
  }

  fail(item, code, reason) {
    item.status = "failed";
    item.error = code;
    item.reason = reason || "";
    this.save();
    this.changed(item);
  }

  /** flush sends everything waiting: over the socket, or by POST while it is down. */
  flush() {
    const waiting = [...this.items.values()].filter((m) => m.status === "sending");
    if (this.conn.connected) {
      const now = Date.now();
      let next = Infinity; // when something next needs looking at
      for (const m of waiting) {
        if (m.retryAt && now < m.retryAt) {
          next = Math.min(next, m.retryAt);
          continue;
        }
        if (m.sentAt && now - m.sentAt < ackTimeout) {
          next = Math.min(next, m.sentAt + ackTimeout);
          continue;
        }
        if (needsUpload(m)) {
          this.uploadFiles(m); // flushes again when the files are up
          continue;
        }
        if (this.conn.send(messageFrame(m))) {
          m.sentAt = now;
          m.retryAt = 0;
          next = Math.min(next, now + ackTimeout);
        }
      }
      this.schedule(next);
      return Promise.resolve();
    }
    return this.drain();
  }

  // schedule arranges one flush at time at (ms), unless one comes sooner.
  schedule(at) {
    if (at === Infinity) return;
    const delay = Math.max(0, at - Date.now()) + 50;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.flush();
    }, delay);
  }

  /** stop cancels the pending re-flush (signing out). */
  stop() {
    clearTimeout(this.timer);
    this.timer = 0;
  }

  // drain posts waiting messages one at a time, in order; it stops at the
  // first that cannot reach the server.
  async drain() {
    if (this.draining) return;
    this.draining = true;
    try {
      for (const m of [...this.items.values()]) {
        if (m.status !== "sending" || this.conn.connected || !this.items.has(m.client_msg_id)) continue;
        if (needsUpload(m) && !(await this.uploadFiles(m, false))) {
          if (m.status === "failed") continue;
          return; // unreachable: try again on the next round
        }
        try {
          const stored = await this.api.post(`/api/conversations/${enc(m.conversation_id)}/messages`, {
            body: m.body, client_msg_id: m.client_msg_id, attachments: attachmentIDs(m),
          });
          this.confirm(m.client_msg_id, stored.seq);
        } catch (err) {
          if (err instanceof ApiError && !err.retryable) {
            this.fail(m, err.code);
            continue;
          }
          return; // unreachable: try again on the next round
        }
      }
    } finally {
      this.draining = false;
    }
  }

  // uploadFiles sends a message's files that are not up yet, one after
  // another, and reports whether all are. A refusal (too large, a
  // program…) fails the message with the server's reason; an unreachable
  // or busy server leaves it for a later round, with a growing backoff.
  async uploadFiles(m, flushAfter = true) {
    if (m.uploading) return false;
    m.uploading = true;
    try {
      for (const f of m.files) {
        if (f.id) continue;
        if (!f.file) {
          this.fail(m, "invalid", "files_lost");
          return false;
        }
        const a = await this.api.upload(f.file, (p) => {
          f.progress = p;
          this.changed(m);
        });
        Object.assign(f, { id: a.id, type: a.type, size: a.size, width: a.width, height: a.height, thumbnail: a.thumbnail, progress: 1 });
        this.save();
        this.changed(m);
      }
    } catch (err) {
      if (!this.items.has(m.client_msg_id)) return false;
      if (err instanceof ApiError && !err.retryable) {
        this.fail(m, err.code, err.reason);
        return false;
      }
      m.attempts = (m.attempts || 0) + 1;
      const backoff = Math.min(retryBase * 2 ** (m.attempts - 1), retryMax);
      m.retryAt = Date.now() + backoff / 2 + Math.random() * backoff / 2;
      this.schedule(m.retryAt);
      return false;
    } finally {
      m.uploading = false;
    }
    if (flushAfter) this.flush();
    return true;
  }

  onFrame(f) {
    if (f.type === "ack" && f.client_msg_id) {
      this.confirm(f.client_msg_id, f.seq);
    } else if (f.type === "error" && f.client_msg_id) {
      const item = this.items.get(f.client_msg_id);
      if (!item) return;
      if (finalCodes.has(f.code)) {
        this.fail(item, f.code);
        return;
      }
      // unavailable: the same frame again, after a growing backoff.
      item.attempts = (item.attempts || 0) + 1;
      const backoff = Math.min(retryBase * 2 ** (item.attempts - 1), retryMax);
      item.sentAt = 0;
      item.retryAt = Date.now() + backoff / 2 + Math.random() * backoff / 2;
      this.schedule(item.retryAt);
    }
  }
}
