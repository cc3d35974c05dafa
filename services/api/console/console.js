// console.js -- Herald's operator console: plain JavaScript, no framework,
// served by herald-api's admin listener. Every server call goes through
// /console/api/<method> (the server API's own handlers) with the session
// cookie and the CSRF token; a 401 anywhere shows the login form again.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: null, metrics: [], devCursor: null, topicCursor: null, timer: null };

// ---- server calls ---------------------------------------------------------

class Expired extends Error {}

async function post(path, body) {
    const r = await fetch(path, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Herald-CSRF": state.csrf || "" },
        body: JSON.stringify(body || {}),
    });
    if (r.status === 401) { showLogin("Your session has ended: log in again."); throw new Expired(); }
    const text = await r.text();
    const doc = text ? JSON.parse(text) : {};
    if (!r.ok) throw new Error(doc.message || ("HTTP " + r.status));
    return doc;
}

// A server API method: its result, or an Error carrying the API's message.
async function api(method, params) {
    const doc = await post("/console/api/" + method, params);
    if (doc.error) throw new Error(doc.error.code + ": " + doc.error.message);
    return doc.result;
}

// ---- login and navigation -------------------------------------------------

function showLogin(message) {
    state.csrf = null;
    stopCharts();
    document.querySelectorAll(".page").forEach((p) => { p.hidden = true; });
    $("nav").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    document.body.dataset.view = "login";
}

async function login(ev) {
    ev.preventDefault();
    const r = await fetch("/console/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ key: $("login-key").value }),
    });
    $("login-key").value = "";
    const doc = await r.json().catch(() => ({}));
    if (!r.ok) {
        $("login-error").textContent = doc.message || ("HTTP " + r.status);
        return;
    }
    await boot();
}

async function logout() {
    await post("/console/logout").catch(() => {});
    showLogin("Logged out.");
}

async function boot() {
    const r = await fetch("/console/session", { credentials: "same-origin" });
    if (!r.ok) { showLogin(""); return; }
    const doc = await r.json();
    state.csrf = doc.csrf;
    state.metrics = doc.metrics || ["api"];
    $("login").hidden = true;
    $("nav").hidden = false;
    route();
}

function route() {
    if (!state.csrf) return;
    const [page, arg] = (location.hash.slice(1) || "devices").split("/");
    document.querySelectorAll(".page").forEach((p) => { p.hidden = p.id !== page; });
    document.querySelectorAll("nav a").forEach((a) => {
        a.classList.toggle("active", a.getAttribute("href") === "#" + page);
    });
    document.body.dataset.view = page;
    if (page === "charts") startCharts(); else stopCharts();
    if (page === "device" && arg) showDevice(decodeURIComponent(arg)).catch(report);
}

function report(e) {
    if (e instanceof Expired) return;
    const view = document.body.dataset.view;
    const out = { devices: "dev-info", send: "send-result", status: "status-summary",
                  charts: "charts-error" }[view];
    if (out) { $(out).textContent = e.message; $(out).classList.add("error"); }
}

function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
}

const when = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "");

// ---- devices --------------------------------------------------------------

function deviceFilter() {
    const f = {};
    const user = $("dev-user").value.trim(), topic = $("dev-topic").value.trim();
    const prefix = $("dev-token").value.trim();
    if (user) f.users = [user];
    if (topic) f.topics = [topic];
    if (prefix) f.token_prefix = prefix; // searched by the server, in the token index
    return f;
}

async function searchDevices(more) {
    const tbody = $("dev-table").tBodies[0];
    if (!more) { tbody.textContent = ""; state.devCursor = null; }
    $("dev-info").textContent = "";
    $("dev-info").classList.remove("error");
    let shown = 0;
    const params = { filter: deviceFilter(), limit: 50 };
    if (state.devCursor) params.cursor = state.devCursor;
    const res = await api("device_list", params);
    for (const d of res.items) {
        const tr = tbody.insertRow();
        tr.dataset.id = d.id;
        const a = document.createElement("a");
        a.href = "#device/" + encodeURIComponent(d.id);
        a.textContent = d.id;
        cell(tr, "", "mono").appendChild(a);
        cell(tr, d.user);
        cell(tr, d.provider);
        cell(tr, d.platform);
        cell(tr, d.token.length > 40 ? d.token.slice(0, 40) + "…" : d.token, "mono");
        cell(tr, when(d.updated_at));
        shown++;
    }
    state.devCursor = res.has_more ? res.next_cursor : null;
    $("dev-more").hidden = !state.devCursor;
    $("dev-info").textContent = tbody.rows.length + " device(s)" + (state.devCursor ? ", more on the next page" : "");
    return shown;
}

async function showDevice(id) {
    $("device-id").textContent = id;
    const res = await api("device_list", { filter: { ids: [id] }, include_meta: true, include_tags: true });
    const d = res.items[0];
    $("device-json").textContent = d ? JSON.stringify(d, null, 2) : "no such device";
    const topics = $("device-topics");
    topics.textContent = "";
    if (d) {
        const t = await api("device_topic_list", { filter: { device_ids: [id] } }).catch(() => ({ items: [] }));
        for (const it of t.items || []) {
            const li = document.createElement("li");
            li.textContent = it.topic;
            topics.appendChild(li);
        }
    }
    const pushes = $("device-pushes");
    pushes.textContent = "";
    // the device's latest outcomes of any push, from the server's push_status
    const st = await api("push_status_list", { device_id: id, limit: 20 });
    for (const it of st.items || []) {
        const li = document.createElement("li");
        li.textContent = it.uid + ": " + it.status + (it.code ? " (" + it.code + ")" : "") + " at " + when(it.updated_at);
        pushes.appendChild(li);
    }
}

// ---- topics ---------------------------------------------------------------

async function searchTopics(more) {
    const tbody = $("topic-table").tBodies[0];
    if (!more) { tbody.textContent = ""; state.topicCursor = null; }
    const f = {};
    const user = $("topic-user").value.trim(), prefix = $("topic-prefix").value.trim();
    if (user) f.users = [user];
    if (prefix) f.topic_prefix = prefix;
    const params = { filter: f, limit: 100 };
    if (state.topicCursor) params.cursor = state.topicCursor;
    const res = await api("user_topic_list", params);
    for (const it of res.items) {
        const tr = tbody.insertRow();
        cell(tr, it.topic);
        cell(tr, it.user);
    }
    state.topicCursor = res.has_more ? res.next_cursor : null;
    $("topic-more").hidden = !state.topicCursor;
}

// ---- send -----------------------------------------------------------------

function sentUids() {
    try { return JSON.parse(sessionStorage.getItem("herald-sent") || "[]"); } catch (e) { return []; }
}

// The request the form describes: each provider's part in its own format.
function buildRequest() {
    const title = $("send-title").value, body = $("send-body").value;
    let data = {};
    try { data = JSON.parse($("send-data").value || "{}"); } catch (e) { throw new Error("data is not JSON"); }
    const provs = [...document.querySelectorAll(".send-prov")].filter((c) => c.checked).map((c) => c.value);
    const n = {};
    if (provs.includes("fcm")) n.fcm = { message: { notification: { title, body }, data } };
    if (provs.includes("apns")) n.apns = { headers: { "apns-push-type": "alert" }, payload: Object.assign({ aps: { alert: { title, body } } }, data) };
    if (provs.includes("hms")) n.hms = { message: { notification: { title, body }, data: JSON.stringify(data) } };
    if (provs.includes("webpush")) n.webpush = { headers: { TTL: "3600" }, payload: { title, body, data } };
    const to = $("send-to").value.trim();
    const recipient = { filter: { [$("send-kind").value]: to ? [to] : [] } };
    return { recipient, notification: n };
}

function preview() {
    const out = $("send-preview");
    out.textContent = "";
    let req;
    try { req = buildRequest(); } catch (e) { out.textContent = e.message; return; }
    const add = (title, value) => {
        const h = document.createElement("h4");
        h.textContent = title;
        const pre = document.createElement("pre");
        pre.textContent = JSON.stringify(value, null, 2);
        pre.dataset.provider = title;
        out.append(h, pre);
    };
    add("request", req);
    for (const [p, part] of Object.entries(req.notification)) add(p, part);
}

async function send(ev) {
    ev.preventDefault();
    $("send-result").classList.remove("error");
    const res = await api("send_push_notification", buildRequest());
    const uids = [res.uid, ...sentUids().filter((u) => u !== res.uid)].slice(0, 10);
    sessionStorage.setItem("herald-sent", JSON.stringify(uids));
    $("send-result").textContent = "Sent: uid " + res.uid;
    $("send-result").dataset.uid = res.uid;
    $("status-uid").value = res.uid;
}

// ---- push status ----------------------------------------------------------

async function lookupStatus(ev) {
    if (ev) ev.preventDefault();
    const res = await api("push_status_list", { uid: $("status-uid").value.trim(), limit: 100 });
    $("status-summary").classList.remove("error");
    $("status-summary").textContent = "request: " + res.request.state +
        (res.counts ? "   " + Object.entries(res.counts).map(([k, v]) => k + " " + v).join(", ") : "");
    const tbody = $("status-table").tBodies[0];
    tbody.textContent = "";
    for (const it of res.items) {
        const tr = tbody.insertRow();
        cell(tr, it.target, "mono");
        cell(tr, it.provider || "");
        cell(tr, it.status);
        cell(tr, it.code || "");
        cell(tr, when(it.updated_at));
    }
}

// ---- charts ---------------------------------------------------------------

// Prometheus text -> [{name, labels, value}]
function parseMetrics(text) {
    const out = [];
    for (const line of text.split("\n")) {
        if (!line || line[0] === "#") continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
        if (!m) continue;
        const labels = {};
        for (const l of (m[3] || "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
        out.push({ name: m[1], labels, value: Number(m[4]) });
    }
    return out;
}

const charts = {
    deliveries: { series: {}, rate: true },
    errors: { series: {}, rate: true },
    hub: { series: {}, rate: false },
    lag: { series: {}, rate: false },
};
const HISTORY = 60;
let last = null; // {t, counters}

// What each chart shows, summed over every service scraped.
function sample(all) {
    const s = { deliveries: {}, errors: {}, hub: {}, lag: {} };
    const add = (o, k, v) => { o[k] = (o[k] || 0) + v; };
    for (const m of all) {
        if (m.name === "herald_push_notifications_total") {
            if (m.labels.success === "true") add(s.deliveries, m.labels.provider, m.value);
            else add(s.errors, m.labels.provider + " " + (m.labels.err_code || "?"), m.value);
        } else if (m.name === "herald_hub_connections") {
            add(s.hub, "connections", m.value);
        } else if (m.name === "herald_push_queue_consuming_lag_seconds") {
            s.lag[m.labels.provider + " " + m.labels.queue] = Math.max(s.lag[m.labels.provider + " " + m.labels.queue] || 0, m.value);
        }
    }
    return s;
}

async function tick() {
    const all = [];
    const errors = [];
    for (const name of state.metrics) {
        try {
            const r = await fetch("/console/metrics/" + encodeURIComponent(name), { credentials: "same-origin" });
            if (r.status === 401) { showLogin("Your session has ended: log in again."); return; }
            if (!r.ok) { errors.push(name + ": HTTP " + r.status); continue; }
            all.push(...parseMetrics(await r.text()));
        } catch (e) { errors.push(name + ": " + e.message); }
    }
    $("charts-error").textContent = errors.join("; ");
    const now = Date.now() / 1000;
    const s = sample(all);
    for (const [key, c] of Object.entries(charts)) {
        const cur = s[key];
        const keys = new Set([...Object.keys(cur), ...Object.keys(c.series)]);
        for (const k of keys) {
            let v = cur[k] || 0;
            if (c.rate) {
                const prev = last && last[key][k];
                v = last && prev !== undefined ? Math.max(0, (v - prev) / (now - last.t)) : 0;
            }
            (c.series[k] = c.series[k] || []).push(v);
            if (c.series[k].length > HISTORY) c.series[k].shift();
        }
        draw(key, c);
    }
    last = Object.assign({ t: now }, s);
}

function draw(key, c) {
    const canvas = $("chart-" + key);
    const g = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, pad = 30;
    const names = Object.keys(c.series).sort();
    let peak = 0;
    for (const k of names) for (const v of c.series[k]) peak = Math.max(peak, v);
    const max = peak > 0 ? peak : 1;
    g.clearRect(0, 0, W, H);
    g.strokeStyle = "#d5d9e0";
    g.fillStyle = "#555";
    g.font = "11px sans-serif";
    g.strokeRect(pad, 5, W - pad - 5, H - pad);
    g.fillText(max.toPrecision(3), 2, 14);
    g.fillText("0", 2, H - pad + 4);
    const colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
    const legend = $("legend-" + key);
    legend.textContent = "";
    const latest = {};
    names.forEach((k, i) => {
        const ys = c.series[k];
        g.strokeStyle = colours[i % colours.length];
        g.beginPath();
        ys.forEach((v, j) => {
            const x = pad + (W - pad - 5) * (j + HISTORY - ys.length) / (HISTORY - 1);
            const y = 5 + (H - pad) * (1 - v / max);
            if (j === 0) g.moveTo(x, y); else g.lineTo(x, y);
        });
        g.stroke();
        latest[k] = ys[ys.length - 1];
        const li = document.createElement("li");
        li.className = "sw" + (i % colours.length);
        li.textContent = "■ " + k + " " + Number(latest[k].toPrecision(3));
        legend.appendChild(li);
    });
    // for scripts and tests: the newest value and the peak of each series
    canvas.dataset.latest = JSON.stringify(latest);
    canvas.dataset.peak = String(peak);
}

function startCharts() {
    if (state.timer) return;
    tick().catch(report);
    state.timer = setInterval(() => tick().catch(report), 2000);
}

function stopCharts() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
}

// ---- wiring ---------------------------------------------------------------

function on(id, event, fn) {
    $(id).addEventListener(event, (ev) => { Promise.resolve(fn(ev)).catch(report); });
}

on("login-form", "submit", login);
on("logout", "click", logout);
on("dev-form", "submit", (ev) => { ev.preventDefault(); return searchDevices(false); });
on("dev-more", "click", () => searchDevices(true));
on("topic-form", "submit", (ev) => { ev.preventDefault(); return searchTopics(false); });
on("topic-more", "click", () => searchTopics(true));
on("send-form", "submit", send);
on("send-form", "input", preview);
on("status-form", "submit", lookupStatus);
window.addEventListener("hashchange", route);
preview();
boot();
