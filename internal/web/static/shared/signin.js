// What the desk offers before sign-in, and finishing a WeCom sign-in.

import { request } from "./api.js";

/** loadMeta asks the server what it offers: {dev, wecom, max_body_bytes}. */
export async function loadMeta() {
  try {
    return await request("GET", "/api/meta");
  } catch {
    return { dev: false, wecom: false, max_body_bytes: 4096 };
  }
}

/**
 * takeTicket finishes a WeCom sign-in: the server sent the browser back to
 * "#ticket=…&next=…" (a one-time ticket, never the token itself). It trades
 * the ticket for the session, saves it, and returns the route to open
 * ("/c/{id}" or "/"); it returns null when there is no ticket.
 */
export async function takeTicket(session) {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("ticket")) return null;
  const ticket = params.get("ticket") || "";
  const next = params.get("next") || "/";
  // Off the address bar and out of history before anything else.
  history.replaceState({ depth: 0 }, "", location.pathname);
  const res = await request("POST", "/api/auth/ticket", { body: { ticket } });
  session.save({ token: res.token, id: res.id, name: res.name });
  return /^\/[\w./:-]*$/.test(next) ? next : "/";
}

/** weComSignIn sends the browser to WeCom, to come back to route. */
export function weComSignIn(start, route) {
  location.replace(`${start}?next=${encodeURIComponent(route || "/")}`);
}
