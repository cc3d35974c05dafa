// console_test.js -- drives herald-api's console in the system Chromium
// (puppeteer-core, headless; no browser is downloaded) for
// tests/integration/test_console.py.
//
//   node console_test.js flow    (env: CONSOLE_URL, API_KEY, USER, DEVICE_ID, SHOTS)
//   node console_test.js expiry  (env: CONSOLE_URL, API_KEY, EXPIRE_MS)
//
// Prints one JSON object per step on stdout ({"step": ..., ...}); exits
// non-zero with the reason on the first failure.
"use strict";

const path = require("path");
const puppeteer = require("puppeteer-core");

const env = process.env;
const BASE = env.CONSOLE_URL;
const CHROMIUM = env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = Number(env.STEP_TIMEOUT_MS || 30000);

function say(step, extra) {
    process.stdout.write(JSON.stringify(Object.assign({ step }, extra || {})) + "\n");
}

async function browser() {
    return puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
    });
}

async function open(b) {
    const page = await b.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.setViewport({ width: 1280, height: 800 });
    page.on("pageerror", (e) => say("pageerror", { message: e.message }));
    await page.goto(BASE + "/console/", { waitUntil: "domcontentloaded" });
    return page;
}

async function login(page, key) {
    await page.waitForSelector("#login:not([hidden])");
    await page.type("#login-key", key);
    await page.click("#login-form button[type=submit]");
}

// Shows one of the console's views (a same-document hash change) in page,
// brought to the front (a background tab's timers are throttled).
async function go(page, view) {
    await page.bringToFront();
    await page.evaluate((v) => { location.hash = v; }, view);
    await page.waitForSelector("#" + view.split("/")[0] + ":not([hidden])");
}

async function shot(page, name) {
    if (!env.SHOTS) return;
    const file = path.join(env.SHOTS, "console-" + name + ".png");
    await page.screenshot({ path: file });
    say("screenshot", { file });
}

async function flow() {
    const b = await browser();
    try {
        const page = await open(b);
        // a wrong key is refused, and sets no cookie
        await login(page, "not-the-key");
        await page.waitForFunction(() => document.getElementById("login-error").textContent.includes("wrong API key"));
        say("wrong_key_refused", { cookies: (await page.cookies()).length });
        await shot(page, "login");

        await login(page, env.API_KEY);
        await page.waitForSelector("#nav:not([hidden])");
        const cookie = (await page.cookies()).find((c) => c.name === "herald_console");
        say("logged_in", { httpOnly: cookie.httpOnly, secure: cookie.secure, sameSite: cookie.sameSite,
                           path: cookie.path });

        // the charts in a second tab, ticking while the push goes out
        const charts = await b.newPage();
        charts.setDefaultTimeout(TIMEOUT);
        await charts.setViewport({ width: 1280, height: 800 });
        await charts.goto(BASE + "/console/#charts", { waitUntil: "domcontentloaded" });
        await charts.waitForFunction(() => document.getElementById("chart-deliveries").dataset.latest !== undefined);
        say("charts_ticking");

        // find the device by user
        await go(page, "devices");
        await page.type("#dev-user", env.USER);
        await page.click("#dev-form button[type=submit]");
        await page.waitForSelector(`#dev-table tr[data-id="${env.DEVICE_ID}"]`);
        say("device_found", { rows: await page.$$eval("#dev-table tbody tr", (r) => r.length) });
        await shot(page, "devices");

        // by token prefix alone: the server filters (device_list's filter.token_prefix)
        const listed = [];
        const onRequest = (r) => {
            if (r.url().endsWith("/console/api/device_list")) listed.push(JSON.parse(r.postData() || "{}"));
        };
        page.on("request", onRequest);
        await page.$eval("#dev-user", (e) => { e.value = ""; });
        await page.type("#dev-token", env.TOKEN_PREFIX);
        await page.click("#dev-form button[type=submit]");
        await page.waitForSelector(`#dev-table tr[data-id="${env.DEVICE_ID}"]`);
        page.off("request", onRequest);
        say("device_by_prefix", { rows: await page.$$eval("#dev-table tbody tr", (r) => r.length),
                                  filters: listed.map((p) => p.filter || {}) });
        await page.$eval("#dev-token", (e) => { e.value = ""; });

        // compose and send, with the per-provider preview
        await go(page, "send");
        await page.type("#send-to", env.USER);
        await page.$eval("#send-title", (e) => { e.value = ""; });
        await page.type("#send-title", "Console test");
        const previews = await page.$$eval("#send-preview pre", (ps) => ps.map((p) => p.dataset.provider));
        say("preview", { parts: previews });
        await page.click("#send-form button[type=submit]");
        await page.waitForFunction(() => document.getElementById("send-result").dataset.uid);
        const uid = await page.$eval("#send-result", (e) => e.dataset.uid);
        say("sent", { uid });
        await shot(page, "send");

        // the chart moves: deliveries per second above zero for fcm
        await charts.bringToFront();
        await charts.waitForFunction(() => Number(document.getElementById("chart-deliveries").dataset.peak) > 0,
                                     { timeout: 60000 });
        say("chart_moved", { latest: await charts.$eval("#chart-deliveries", (c) => c.dataset.latest),
                             peak: Number(await charts.$eval("#chart-deliveries", (c) => c.dataset.peak)) });
        await shot(charts, "charts");

        // the push's status by uid
        await go(page, "status");
        for (let i = 0; ; i++) {
            await page.click("#status-form button[type=submit]");
            await new Promise((r) => setTimeout(r, 500));
            const st = await page.$$eval("#status-table tbody tr", (rows) => rows.map((r) => r.cells[2].textContent));
            if (st.includes("sent")) { say("status", { statuses: st }); break; }
            if (i > 60) throw new Error("no sent status for " + uid + ": " + JSON.stringify(st));
        }
        await shot(page, "status");

        // the device page lists the push's outcome, read from the server: in
        // the other tab, which did not send it, and the push sent by the API
        await go(charts, "device/" + encodeURIComponent(env.DEVICE_ID));
        await charts.waitForFunction((u) => document.getElementById("device-pushes").textContent.includes(u),
                                     {}, uid);
        await charts.waitForFunction((u) => document.getElementById("device-pushes").textContent.includes(u),
                                     {}, env.API_UID);
        say("device_outcomes", { text: await charts.$eval("#device-pushes", (e) => e.textContent) });
        await shot(charts, "device");
        await page.bringToFront();

        // a POST without the CSRF token is refused even with the cookie
        const csrfless = await page.evaluate(async () => {
            const r = await fetch("/console/api/device_list", { method: "POST", body: "{}",
                                                                 headers: { "Content-Type": "application/json" } });
            return r.status;
        });
        say("csrf_required", { status: csrfless });

        await page.click("#logout");
        await page.waitForSelector("#login:not([hidden])");
        const after = await page.evaluate(async () => (await fetch("/console/session")).status);
        say("logged_out", { session: after });
    } finally {
        await b.close();
    }
}

async function expiry() {
    const b = await browser();
    try {
        const page = await open(b);
        await login(page, env.API_KEY);
        await page.waitForSelector("#nav:not([hidden])");
        say("logged_in");
        await new Promise((r) => setTimeout(r, Number(env.EXPIRE_MS)));
        await page.click("#dev-form button[type=submit]");
        await page.waitForSelector("#login:not([hidden])");
        say("expired", { message: await page.$eval("#login-error", (e) => e.textContent) });
    } finally {
        await b.close();
    }
}

const mode = process.argv[2];
({ flow, expiry })[mode]().then(() => say("done"), (e) => {
    say("failed", { message: String(e && e.stack || e) });
    process.exit(1);
});
