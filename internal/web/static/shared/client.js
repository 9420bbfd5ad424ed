// One signed-in client: REST with the bearer token, the socket, the
// conversation sync (resume and polling) and the outbox, wired together.

import { createApi } from "./api.js";
import { Outbox } from "./outbox.js";
import { Connection, wsURL } from "./socket.js";
import { Sync } from "./sync.js";

/**
 * createClient builds the client of a session. The page passes:
 *   wsPath          /ws/{agent_id} or /ws/h5/{employee_id}
 *   outboxKey       sessionStorage key of the unsent messages
 *   authLost()      the token no longer works (401, or close 4001)
 *   apply(ev)       a followed conversation's event, once, in seq order
 *   other(frame)    every other frame
 *   lost(id, err)   a followed conversation can no longer be read
 *   refresh()       while the socket is down, every poll round (lists); throws when the server is unreachable
 *   outboxChanged(item)
 * Call start() to connect.
 */
export function createClient(session, { wsPath, outboxKey, authLost, apply, other, lost, refresh, outboxChanged }) {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    conn.stop();
    authLost();
  };
  const api = createApi(() => session.token, end);
  const conn = new Connection(wsURL(wsPath), session.token);
  // Sync registers its open listener first, so every resume goes out
  // before the outbox sends anything on a new socket.
  const sync = new Sync(conn, api, {
    apply, other, lost,
    tick: async () => {
      await outbox.flush();
      await refresh();
    },
  });
  const outbox = new Outbox(conn, api, outboxKey, outboxChanged);
  conn.on("open", () => outbox.flush());
  conn.on("auth", end);
  return {
    api, conn, sync, outbox,
    start: () => conn.start(),
    stop: () => {
      ended = true;
      conn.stop();
      sync.stop();
      outbox.stop();
    },
  };
}
