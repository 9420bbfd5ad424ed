// The agent's attention: a count on the tab's icon, a short sound and a
// desktop notification when something needs them (a message in one of
// their conversations, a new request in the queue, an invitation or a
// transfer) while they look elsewhere. The sound is switchable and
// remembered; desktop notifications are asked for when the agent turns
// them on, never on load.

import { $, setText } from "/shared/dom.js";

const soundKey = "servicedesk.agent.sound";

/** bindAttention wires the header's toggles; open(id) shows a conversation. */
export function bindAttention({ i18n, open }) {
  const t = i18n.t;
  const icon = document.querySelector("link[rel=icon]");
  const plainIcon = icon ? icon.href : "data:,";
  let sound = localStorage.getItem(soundKey) !== "off";
  let audio = null;

  const soundBtn = $("#sound-toggle");
  const notifyBtn = $("#notify-toggle");
  const render = () => {
    setText(soundBtn, t(sound ? "attention.soundOn" : "attention.soundOff"));
    soundBtn.setAttribute("aria-pressed", String(sound));
    const perm = "Notification" in window ? Notification.permission : "denied";
    notifyBtn.hidden = perm === "granted" || !("Notification" in window);
    setText(notifyBtn, t(perm === "denied" ? "attention.notifyBlocked" : "attention.notifyAsk"));
    notifyBtn.disabled = perm === "denied";
  };
  soundBtn.addEventListener("click", () => {
    sound = !sound;
    localStorage.setItem(soundKey, sound ? "on" : "off");
    if (sound) beep();
    render();
  });
  notifyBtn.addEventListener("click", async () => {
    if (!("Notification" in window)) return;
    await Notification.requestPermission();
    render();
  });
  i18n.onChange(render);
  render();

  // beep plays two short tones: no sound file to fetch or cache.
  function beep() {
    try {
      audio = audio || new AudioContext();
      const now = audio.currentTime;
      for (const [i, f] of [880, 1320].entries()) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, now + i * 0.12);
        g.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.1);
        o.connect(g).connect(audio.destination);
        o.start(now + i * 0.12);
        o.stop(now + i * 0.12 + 0.11);
      }
    } catch {
      // no audio here: the title and the icon still say it
    }
  }

  return {
    /** badge shows n on the tab's icon (nothing for 0). */
    badge(n) {
      if (!icon) return;
      if (!n) {
        icon.href = plainIcon;
        return;
      }
      const c = document.createElement("canvas");
      c.width = c.height = 32;
      const g = c.getContext("2d");
      g.fillStyle = "#d93a3a";
      g.beginPath();
      g.arc(16, 16, 15, 0, 2 * Math.PI);
      g.fill();
      g.fillStyle = "#fff";
      g.font = "bold 18px sans-serif";
      g.textAlign = "center";
      g.textBaseline = "middle";
      g.fillText(n > 99 ? "99" : String(n), 16, 17);
      icon.href = c.toDataURL("image/png");
    },
    /**
     * alert calls for the agent: a sound, and when the page is not being
     * looked at, a desktop notification that opens the conversation.
     */
    alert(text, conversationID) {
      if (sound) beep();
      if (document.visibilityState === "visible" && document.hasFocus()) return;
      if (!("Notification" in window) || Notification.permission !== "granted") return;
      const n = new Notification(t("title"), { body: text, tag: conversationID || "servicedesk" });
      n.onclick = () => {
        window.focus();
        if (conversationID) open(conversationID);
        n.close();
      };
    },
  };
}

/**
 * bindShortcuts gives the console its keys (outside text fields): j and k
 * for the next and previous conversation in the list on screen, r to
 * reply, / to search, e to resolve, ? for the list of them.
 */
export function bindShortcuts({ next, reply, search, resolve }) {
  const help = $("#shortcuts-dialog");
  document.addEventListener("keydown", (e) => {
    const el = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (el.closest("input, textarea, select, [contenteditable]") || document.querySelector("dialog[open]:not(#shortcuts-dialog)")) return;
    const keys = {
      j: () => next(1), k: () => next(-1), r: reply, "/": search, e: resolve,
      "?": () => (help.open ? help.close() : help.showModal()),
    };
    const fn = keys[e.key];
    if (!fn) return;
    e.preventDefault();
    fn();
  });
  $("#shortcuts-close").addEventListener("click", () => help.close());
}
