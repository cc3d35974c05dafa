// hub_client.js -- official @microsoft/signalr clients, configured the way
// Bitwarden's web vault, browser extension and desktop app configure them
// (skipNegotiation, WebSockets transport, MessagePack protocol; JSON on
// request), for herald-hub's integration tests.
//
//   node hub_client.js '<json spec>'
//   spec: {"clients":[{"id":"a","url":"http://127.0.0.1:PORT/notifications/hub",
//          "token":"<jwt>"|null, "protocol":"messagepack"|"json",
//          "tokenInQuery":false, "repeat":1, "pauseMs":0}]}
//   repeat: connect this many times (stop, pause pauseMs, start again).
//
// Prints one JSON object per line on stdout: {"ev":"connected","id":...,
// "ms":<how long start() took>}, {"ev":"error","id":...,"error":...},
// {"ev":"message","id":...,"target":...,"arg":{...}},
// {"ev":"closed","id":...,"error":...}, and
// {"ev":"ready"} once every client has started or failed. Reads commands
// on stdin, one per line: "stop" stops every client (then prints
// {"ev":"stopped"} and exits); "send <id> <target> <json>" invokes a hub
// method (the hub accepts and ignores it).
"use strict";
const signalR = require("@microsoft/signalr");
const { MessagePackHubProtocol } = require("@microsoft/signalr-protocol-msgpack");
const readline = require("readline");

const spec = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const conns = {};

function plain(v) {
  // Dates and Maps from the MessagePack decoder, printed as JSON.
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]);
    return o;
  }
  return v;
}

async function startOne(c) {
  let url = c.url;
  const opts = { skipNegotiation: !c.negotiate, transport: signalR.HttpTransportType.WebSockets };
  if (c.token && c.tokenInQuery) {
    url += (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(c.token);
  } else if (c.token) {
    opts.accessTokenFactory = () => c.token;
  }
  const b = new signalR.HubConnectionBuilder().withUrl(url, opts)
    .configureLogging(signalR.LogLevel.None);
  if ((c.protocol || "messagepack") === "messagepack") b.withHubProtocol(new MessagePackHubProtocol());
  else b.withHubProtocol(new signalR.JsonHubProtocol());
  const conn = b.build();
  if (c.serverTimeoutMs) conn.serverTimeoutInMilliseconds = c.serverTimeoutMs;
  for (const target of ["ReceiveMessage", "AuthRequestResponseRecieved", "Heartbeat"]) {
    conn.on(target, (...args) => out({ ev: "message", id: c.id, target, arg: plain(args[0]), t: Date.now() }));
  }
  conn.onclose((e) => out({ ev: "closed", id: c.id, error: e ? String(e.message || e) : null, t: Date.now() }));
  conns[c.id] = conn;
  for (let n = 0; n < (c.repeat || 1); n++) {
    if (n > 0) {
      await conn.stop();
      await new Promise((r) => setTimeout(r, c.pauseMs || 0));
    }
    const t0 = Date.now();
    try {
      await conn.start();
      out({ ev: "connected", id: c.id, ms: Date.now() - t0 });
    } catch (e) {
      out({ ev: "error", id: c.id, error: String(e.message || e), ms: Date.now() - t0 });
      return;
    }
  }
}

(async () => {
  await Promise.all(spec.clients.map(startOne));
  out({ ev: "ready" });
})();

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const [cmd, id, target, ...rest] = line.trim().split(" ");
  if (cmd === "stop") {
    await Promise.all(Object.values(conns).map((c) => c.stop().catch(() => {})));
    out({ ev: "stopped" });
    process.exit(0);
  } else if (cmd === "send" && conns[id]) {
    conns[id].send(target, JSON.parse(rest.join(" "))).catch((e) => out({ ev: "send_error", id, error: String(e) }));
  }
});
rl.on("close", () => process.exit(0));
