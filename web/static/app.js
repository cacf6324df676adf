// bgcall's operator page: the overview, sessions updating live from the
// watch stream, search and cancel. Plain JavaScript; every value from the
// API is shown as text, never as markup.
"use strict";

const state = {
  token: "",
  sessions: new Map(), // id -> session, as last seen
  filter: null,        // null: all; else {ids: Set} of the search's sessions
  selected: "",        // the session whose timeline is open
  stream: null,        // AbortController of the watch stream
};

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function clock(t) {
  if (!t) return "";
  const d = new Date(t);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

// api calls the daemon with the token; a 401 asks for it.
async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401) {
    askToken("the daemon wants an API token (api.token)");
    throw new Error("unauthorized");
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error((data.error && data.error.message) || resp.statusText);
  return data;
}

function askToken(why) {
  $("token-form").hidden = false;
  $("token-error").textContent = why || "";
  $("conn").textContent = "not connected";
}

// --- overview -------------------------------------------------------------

async function refreshOverview() {
  let o;
  try {
    o = await api("GET", "/v1/overview");
  } catch (e) {
    $("conn").textContent = "overview: " + e.message;
    return;
  }
  $("conn").textContent = "replica " + o.replica + ", " + new Date(o.at).toLocaleTimeString();
  const live = $("live");
  live.replaceChildren();
  let total = 0;
  for (const s of ["waiting", "dialing_callee", "confirming", "callee_hold", "bridged"]) {
    const n = o.live[s] || 0;
    total += n;
    live.append(el("div", s + ": " + n));
  }
  live.prepend(el("div", total + " live", "good"));
  const fin = $("finished");
  fin.replaceChildren();
  for (const w of o.finished || []) {
    const parts = Object.entries(w.by_outcome).sort((a, b) => b[1] - a[1]).map(([k, v]) => k + " " + v);
    fin.append(el("div", "last " + w.window + ": " + w.total + (parts.length ? " (" + parts.join(", ") + ")" : "")));
  }
  $("due").replaceChildren(el("div", o.due_soon.count + " due in the next " + o.due_soon.within));
  const q = o.quiet_hours;
  $("quiet").textContent = !q.hours ? "no quiet hours"
    : q.now ? "quiet hours " + q.hours + ", on until " + clock(q.until) + ": " + q.held + " held"
    : "quiet hours " + q.hours + ", off now";
  $("backlog").textContent = "backlog " + o.notification_backlog;
  $("optedout").textContent = o.opted_out_callees + " callee(s) refuse background calls";

  const nodes = $("nodes").tBodies[0];
  nodes.replaceChildren();
  for (const n of o.nodes) {
    const tr = el("tr");
    tr.append(el("td", n.name), el("td", n.addr), el("td", n.connected ? "up" : "down", n.connected ? "good" : "bad"),
      el("td", n.channels), el("td", n.command_connections),
      el("td", n.last_heartbeat ? clock(n.last_heartbeat) : "-"), el("td", n.last_error || ""));
    nodes.append(tr);
  }
  const reps = $("replicas").tBodies[0];
  reps.replaceChildren();
  for (const r of o.replicas) {
    const tr = el("tr");
    tr.append(el("td", r.id), el("td", r.lost ? "lost" : "until " + clock(r.lease_until), r.lost ? "bad" : ""), el("td", r.owned));
    reps.append(tr);
  }
}

// --- sessions -------------------------------------------------------------

function nextAttempt(s) {
  if (s.state !== "waiting" || !s.due_at) return "";
  return clock(s.due_at) + (s.held_by_quiet_hours ? " (quiet hours)" : "");
}

function attempts(s) {
  return s.max_attempts > 0 ? s.attempts + " of " + s.max_attempts : String(s.attempts);
}

// row returns the table row of session s, made or updated.
function row(s) {
  const body = $("sessions").tBodies[0];
  let tr = body.querySelector('tr[data-session="' + CSS.escape(s.id) + '"]');
  const fresh = !tr;
  if (fresh) {
    tr = el("tr");
    tr.dataset.session = s.id;
    tr.addEventListener("click", () => openSession(s.id));
  }
  tr.dataset.state = s.state;
  tr.className = (s.state === "finished" ? "state-finished" : "") + (s.id === state.selected ? " selected" : "");
  const cancel = el("button", s.state === "bridged" ? "Hang up" : "Cancel", "cancel");
  cancel.hidden = s.state === "finished";
  cancel.addEventListener("click", (ev) => { ev.stopPropagation(); cancelSession(s, cancel); });
  const cell = el("td");
  cell.append(cancel);
  tr.replaceChildren(el("td", s.id), el("td", s.caller), el("td", s.callee), el("td", s.state, "state"),
    el("td", s.outcome || "", "outcome"), el("td", attempts(s)), el("td", nextAttempt(s)), el("td", s.node || ""), cell);
  if (fresh) body.prepend(tr);
  return tr;
}

function show(list) {
  $("sessions").tBodies[0].replaceChildren();
  const sorted = [...list].sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
  for (const s of sorted) {
    state.sessions.set(s.id, s);
    row(s);
  }
}

async function loadAll() {
  state.filter = null;
  $("search-note").textContent = "";
  const page = await api("GET", "/v1/sessions?limit=100");
  show(page.sessions);
}

const uuidRE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function search(q) {
  q = q.trim();
  if (!q) return loadAll();
  let found = [];
  if (uuidRE.test(q)) {
    try {
      const s = await api("GET", "/v1/legs/" + encodeURIComponent(q.toLowerCase()));
      found = [s];
    } catch (e) {
      $("search-note").textContent = e.message;
    }
  } else {
    const [a, b] = await Promise.all([
      api("GET", "/v1/sessions?limit=100&caller=" + encodeURIComponent(q)),
      api("GET", "/v1/sessions?limit=100&callee=" + encodeURIComponent(q)),
    ]);
    const byID = new Map();
    for (const s of [...a.sessions, ...b.sessions]) byID.set(s.id, s);
    found = [...byID.values()];
  }
  state.filter = { q, ids: new Set(found.map((s) => s.id)) };
  if (found.length || !$("search-note").textContent) $("search-note").textContent = found.length + " session(s) for " + q;
  show(found);
}

function matches(s) {
  const f = state.filter;
  if (!f) return true;
  return f.ids.has(s.id) || s.caller === f.q || s.callee === f.q;
}

async function cancelSession(s, button) {
  // The first click arms the button, the second cancels: no dialog.
  if (!button.classList.contains("confirm")) {
    button.classList.add("confirm");
    button.textContent = s.state === "bridged" ? "Confirm: end their call" : "Confirm cancel";
    return;
  }
  button.disabled = true;
  try {
    // A bridged call is ended only when the operator said so, here.
    const got = await api("POST", "/v1/sessions/" + encodeURIComponent(s.id) + "/cancel", { by: "web", end_bridged: s.state === "bridged" });
    state.sessions.set(got.id, got);
    row(got);
  } catch (e) {
    button.textContent = e.message;
  }
}

// --- one session's timeline -------------------------------------------------

async function openSession(id) {
  state.selected = id;
  for (const tr of $("sessions").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.session === id);
  const s = await api("GET", "/v1/sessions/" + encodeURIComponent(id));
  $("detail").hidden = false;
  $("detail-title").textContent = "session " + s.id + ": " + s.caller + " calls " + s.callee;
  summary(s);
  const tl = $("timeline");
  tl.replaceChildren();
  for (const e of s.timeline || []) tl.append(entry(e));
}

function summary(s) {
  const parts = ["state " + s.state];
  if (s.outcome) parts.push("outcome " + s.outcome + (s.cause ? " (" + s.cause + ")" : ""));
  parts.push("attempts " + attempts(s));
  if (s.callee_leg) parts.push("B's leg " + s.callee_leg);
  if (s.caller_leg) parts.push("A's leg " + s.caller_leg);
  if (s.quiet_hours) parts.push("quiet hours " + s.quiet_hours);
  for (const w of s.warnings || []) parts.push("warning: " + w);
  $("detail-summary").textContent = parts.join(" · ");
}

function entry(e) {
  const li = el("li", clock(e.at) + "  " + (e.text || e.kind) + (e.uuid ? "  [" + e.uuid + "]" : ""));
  li.dataset.kind = e.kind;
  return li;
}

// --- the watch stream ---------------------------------------------------------

function applyChange(c) {
  const s = c.session;
  const known = state.sessions.has(s.id);
  if (known && state.sessions.get(s.id).version > s.version) return;
  state.sessions.set(s.id, s);
  if (known || matches(s)) row(s);
  if (s.id === state.selected) {
    summary(s);
    for (const e of c.entries || []) $("timeline").append(entry(e));
  }
}

// watch follows /v1/watch (newline-delimited JSON) and reconnects.
async function watch() {
  for (let backoff = 500; ; backoff = Math.min(backoff * 2, 15000)) {
    const ctl = new AbortController();
    state.stream = ctl;
    try {
      const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
      const resp = await fetch("/v1/watch", { headers, signal: ctl.signal });
      if (resp.status === 401) { askToken("the daemon wants an API token (api.token)"); return; }
      if (!resp.ok) throw new Error(resp.statusText);
      backoff = 500;
      document.body.dataset.watching = "true";
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) applyChange(JSON.parse(line));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    document.body.dataset.watching = "false";
    $("conn").textContent = "stream lost; reconnecting";
    await new Promise((r) => setTimeout(r, backoff));
    // What changed meanwhile is read again.
    await (state.filter ? search(state.filter.q) : loadAll()).catch(() => {});
  }
}

// --- start ----------------------------------------------------------------------

async function start() {
  $("token-form").hidden = true;
  if (state.stream) state.stream.abort();
  try {
    await refreshOverview();
    watch(); // subscribed before the list is read, so no change falls between
    await loadAll();
  } catch (e) {
    if (e.message !== "unauthorized") $("conn").textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("bgcall-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  state.token = sessionStorage.getItem("bgcall-token") || "";
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("bgcall-token", state.token);
    start();
  });
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); search($("q").value).catch((e) => { $("search-note").textContent = e.message; }); });
  $("show-all").addEventListener("click", () => { $("q").value = ""; loadAll().catch(() => {}); });
  setInterval(refreshOverview, 5000);
  start();
});
