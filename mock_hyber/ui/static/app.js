// The dashboard's script: live refresh, the clock bar, faults, reset and redeliver.
// Pages are rendered (and escaped) by the server; this only swaps in their live part.
"use strict";

const POLL_MS = 1000; // how often a visible page asks /ui/live whether anything changed
// A refresh waits REFRESH_FACTOR times as long as the last one took: on a busy server an open
// page takes at most about 1/REFRESH_FACTOR of its time, however often things change.
const REFRESH_FACTOR = 20;
const TOKEN_COOKIE = "mock_hyber_token";

function token() {
  const found = document.cookie.split("; ").find((c) => c.startsWith(TOKEN_COOKIE + "="));
  return found ? decodeURIComponent(found.slice(TOKEN_COOKIE.length + 1)) : null;
}

function headers(extra) {
  const all = Object.assign({}, extra || {});
  const t = token();
  if (t) all["X-Mock-Hyber-Token"] = t;
  return all;
}

function notice(text, bad) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text; // text, never HTML
  box.className = bad ? "bad" : "good";
  box.hidden = !text;
  if (!bad && text) setTimeout(() => { if (box.textContent === text) box.hidden = true; }, 3000);
}

// A control API call; an error answer shows its Hyber error_text.
async function control(method, path, body) {
  const init = { method, headers: headers({ "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const text = data && data.error_text ? data.error_text : "HTTP " + response.status;
    notice(method + " " + path + ": " + text, true);
    throw new Error(text);
  }
  return data;
}

// -- live refresh -------------------------------------------------------------------------

let revision = document.body.dataset.revision || "";
let polling = false;
// Per account, the next planned moment of what the page shows (virtual ms): once the
// account's clock passes it, statuses on the page have moved with time alone.
let nextMoments = JSON.parse(document.body.dataset.next || "{}");
let timeRefreshAt = 0; // performance.now() of the last refresh asked for by time alone

let lastRefresh = { at: -Infinity, took: 0 };

async function refresh(force) {
  if (!force && performance.now() - lastRefresh.at < REFRESH_FACTOR * lastRefresh.took) {
    return false; // soon again: the next poll or tick asks once more
  }
  const main = document.getElementById("live");
  const focused = document.activeElement;
  if (focused && main.contains(focused) && /^(TEXTAREA|INPUT|SELECT)$/.test(focused.tagName)) {
    return false; // never pull the rug from under someone typing
  }
  const started = performance.now();
  const response = await fetch(location.href, { headers: headers({ "X-UI-Fragment": "1" }), cache: "no-store" });
  if (!response.ok) return false;
  nextMoments = JSON.parse(response.headers.get("X-UI-Next") || "{}");
  main.innerHTML = await response.text();
  lastRefresh = { at: performance.now(), took: performance.now() - started };
  afterRender();
  return true;
}

async function poll() {
  if (polling || document.hidden || !document.getElementById("clockbar")) return;
  polling = true;
  const live = document.getElementById("live-state");
  try {
    const response = await fetch("/ui/live", {
      headers: headers({ "If-None-Match": revision }),
      cache: "no-store",
    });
    if (response.status === 200) {
      const data = await response.json();
      setClocks(data.clocks);
      if (data.revision !== revision && (await refresh())) revision = data.revision;
    }
    live.textContent = "live";
    live.classList.remove("bad");
  } catch (e) {
    live.textContent = "offline";
    live.classList.add("bad");
  } finally {
    polling = false;
  }
}

// -- clock bar ----------------------------------------------------------------------------

let clocks = {};
let clocksAt = performance.now();

function setClocks(value) {
  clocks = value || {};
  clocksAt = performance.now();
}

function nowOf(clock) {
  if (clock.frozen) return clock.now_ms;
  return clock.now_ms + Math.floor((performance.now() - clocksAt) * clock.speed);
}

function isoOf(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function momentPassed() {
  for (const [id, at] of Object.entries(nextMoments)) {
    if (at !== null && clocks[id] && nowOf(clocks[id]) >= at) return true;
  }
  return false;
}

function tick() {
  const select = document.getElementById("clock-account");
  if (!select) return;
  // At most one refresh a second for time alone (the page's estimate of the clock may run a
  // little ahead of the server's).
  if (!document.hidden && momentPassed() && performance.now() - timeRefreshAt > POLL_MS) {
    timeRefreshAt = performance.now();
    refresh().catch(() => {});
  }
  const ids = Object.keys(clocks);
  const shown = clocks[select.value] || clocks[ids[0]];
  if (!shown) return;
  document.getElementById("clock-now").textContent = isoOf(nowOf(shown));
  const state = document.getElementById("clock-state");
  state.textContent = shown.frozen ? "frozen" : "running ×" + shown.speed;
  state.className = "pill " + (shown.frozen ? "frozen" : "running");
  for (const cell of document.querySelectorAll(".clock-now[data-client-id]")) {
    const clock = clocks[cell.dataset.clientId];
    if (clock) cell.textContent = isoOf(nowOf(clock));
  }
}

// "90", "90s", "5m", "2h", "1d", "250ms" -> seconds
function seconds(text) {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return null;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] || "s"];
  return parseFloat(match[1]) * unit;
}

function clockQuery() {
  const account = document.getElementById("clock-account").value;
  return account ? "?client_id=" + encodeURIComponent(account) : "";
}

async function clockAction(path, body) {
  const data = await control("POST", "/_mock/clock" + path + clockQuery(), body);
  const updated = {};
  for (const [id, clock] of Object.entries(data.clocks)) {
    updated[id] = { now_ms: clock.now_ms, speed: clock.speed, frozen: clock.frozen };
  }
  setClocks(Object.assign({}, clocks, updated));
  tick();
  await refresh(true);
}

function wireClockBar() {
  const bar = document.getElementById("clockbar");
  if (!bar) return;
  setClocks(JSON.parse(bar.dataset.clocks || "{}"));
  const on = (id, handler) => document.getElementById(id).addEventListener("click", () => handler().catch(() => {}));
  on("clock-freeze", () => clockAction("/freeze"));
  on("clock-resume", () => clockAction("/resume"));
  on("clock-advance", () => {
    const amount = seconds(document.getElementById("clock-amount").value);
    if (amount === null) { notice("advance by: a number with s, m, h or d (e.g. 90s, 5m)", true); return Promise.resolve(); }
    return clockAction("/advance", { seconds: amount });
  });
  on("clock-set-speed", () => {
    const speed = parseFloat(document.getElementById("clock-speed").value);
    if (!(speed > 0)) { notice("speed: a number above 0", true); return Promise.resolve(); }
    return clockAction("", { speed });
  });
  document.getElementById("clock-account").addEventListener("change", tick);
  setInterval(tick, 250);
  tick();
}

// -- faults -------------------------------------------------------------------------------

const API_SWITCHES = {
  "api-500": { status: 500 },
  "api-429": { status: 429 },
  "api-latency": { latency: 2 },
  "api-drop": { drop: true },
};
const API_DEFAULTS = { endpoint: "*", status: null, latency: 0, drop: false, probability: 1, count: null };

function isSwitch(fault, preset) {
  const expected = Object.assign({}, API_DEFAULTS, preset);
  return Object.keys(expected).every((key) => (fault[key] ?? null) === expected[key]);
}

const CALLBACK_SWITCHES = {
  "cb-drop": [(c) => c.drop === 1, (c, on) => { c.drop = on ? 1 : 0; }],
  "cb-duplicate": [(c) => c.duplicate === 1, (c, on) => { c.duplicate = on ? 1 : 0; }],
  "cb-delay": [(c) => c.delay.probability === 1, (c, on) => { c.delay = { probability: on ? 1 : 0, seconds: 30 }; }],
  "cb-reorder": [(c) => c.reorder.probability === 1, (c, on) => { c.reorder = { probability: on ? 1 : 0, window: 10 }; }],
};

function currentFaults() {
  const holder = document.getElementById("faults");
  return holder ? JSON.parse(holder.dataset.faults) : {};
}

function showSwitches() {
  const all = currentFaults();
  for (const section of document.querySelectorAll("section.faults")) {
    const faults = all[section.dataset.clientId];
    for (const box of section.querySelectorAll("input[data-switch]")) {
      const name = box.dataset.switch;
      box.checked = name in API_SWITCHES
        ? faults.api.some((f) => isSwitch(f, API_SWITCHES[name]))
        : CALLBACK_SWITCHES[name][0](faults.callbacks);
    }
  }
}

async function putFaults(clientId, faults) {
  await control("PUT", "/_mock/faults?client_id=" + encodeURIComponent(clientId), faults);
  notice("faults of " + clientId + " updated", false);
  await refresh(true);
}

async function toggle(box) {
  const clientId = box.closest("section.faults").dataset.clientId;
  const faults = currentFaults()[clientId];
  const name = box.dataset.switch;
  if (name in API_SWITCHES) {
    faults.api = faults.api.filter((f) => !isSwitch(f, API_SWITCHES[name]));
    if (box.checked) faults.api.push(Object.assign({ endpoint: "*" }, API_SWITCHES[name]));
  } else {
    CALLBACK_SWITCHES[name][1](faults.callbacks, box.checked);
  }
  await putFaults(clientId, faults);
}

// -- actions ------------------------------------------------------------------------------

function wireActions() {
  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-reset], [data-redeliver], [data-apply-faults]");
    if (!target) return;
    let action = null;
    if (target.dataset.reset !== undefined) {
      const who = target.dataset.reset;
      if (!confirm("Reset " + (who ? "account " + who : "every account") + "?")) return;
      action = control("POST", "/_mock/reset" + (who ? "?client_id=" + encodeURIComponent(who) : ""))
        .then(() => notice("reset done", false));
    } else if (target.dataset.redeliver !== undefined) {
      action = control("POST", "/_mock/callbacks/" + target.dataset.redeliver + "/redeliver")
        .then(() => notice("delivery " + target.dataset.redeliver + " scheduled again", false));
    } else {
      const clientId = target.dataset.applyFaults;
      const text = target.closest("section").querySelector("textarea").value;
      let parsed;
      try { parsed = JSON.parse(text); } catch (e) { notice("not valid JSON: " + e.message, true); return; }
      action = putFaults(clientId, parsed);
    }
    action.then(() => refresh(true)).catch(() => {});
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[data-switch]")) toggle(event.target).catch(() => showSwitches());
  });
}

function wireLogin() {
  const form = document.getElementById("login-form");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = document.getElementById("login-token").value;
    document.cookie = TOKEN_COOKIE + "=" + encodeURIComponent(value) + "; path=/; SameSite=Strict";
    location.reload();
  });
}

function afterRender() {
  showSwitches();
}

wireLogin();
wireClockBar();
wireActions();
afterRender();
setInterval(poll, POLL_MS);
document.addEventListener("visibilitychange", poll);
