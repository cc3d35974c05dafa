// chaos_clients.js -- hub clients for bench/chaos.sh: COUNT official
// @microsoft/signalr connections (WebSockets, MessagePack, as Bitwarden's
// clients), client i logged in as user "<PREFIX>u<i>" and member of
// organization ORG, each reconnecting for ever (0.3-1 s apart, with a new
// token), and recording what a reliability count needs:
//   sessions  [[connected_ms, closed_ms or null], ...] (wall clock; a
//             session starts once the hub answered the handshake)
//   got       {event id: times received} (the id is Payload.Id)
//
//   NODE_PATH=tests/js/node_modules node bench/chaos_clients.js \
//       URL SECRET PREFIX FIRST COUNT ORG OUTFILE
//
// Prints "ready <connected>" once every client has had its first try,
// then "up <n>" lines as connections come and go (at most every 2 s). On
// "stop" (stdin) it writes OUTFILE as JSON {clients: {name: {sessions,
// got}}}, closes every connection and exits.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const readline = require("readline");
const signalR = require("@microsoft/signalr");
const { MessagePackHubProtocol } = require("@microsoft/signalr-protocol-msgpack");

const [url, secret, prefix, first, count, org, outfile] = process.argv.slice(2);
const b64u = (b) => Buffer.from(b).toString("base64url");

function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64u(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64u(JSON.stringify({
    sub, nbf: now - 60, exp: now + 3600, scope: ["api"], devicetype: 9,
    device: sub + "-web", orguser: [org],
  }));
  const sig = crypto.createHmac("sha256", secret).update(head + "." + body).digest("base64url");
  return head + "." + body + "." + sig;
}

const clients = {};
let up = 0;

function idOf(arg) {
  const p = arg && (arg instanceof Map ? arg.get("Payload") : arg.Payload);
  if (!p) return null;
  return p instanceof Map ? p.get("Id") : p.Id;
}

function opened(c) {
  c.sessions.push([Date.now(), null]);
  up++;
}

function closed(c) {
  const s = c.sessions[c.sessions.length - 1];
  if (s && s[1] === null) {
    s[1] = Date.now();
    up--;
  }
}

async function startOne(name) {
  const c = { sessions: [], got: {} };
  clients[name] = c;
  const conn = new signalR.HubConnectionBuilder()
    .withUrl(url, {
      skipNegotiation: true,
      transport: signalR.HttpTransportType.WebSockets,
      accessTokenFactory: () => token(name),
    })
    .withHubProtocol(new MessagePackHubProtocol())
    .withAutomaticReconnect({ nextRetryDelayInMilliseconds: () => 300 + Math.random() * 700 })
    .configureLogging(signalR.LogLevel.None)
    .build();
  conn.on("ReceiveMessage", (arg) => {
    const id = idOf(arg);
    if (id) c.got[id] = (c.got[id] || 0) + 1;
  });
  conn.onreconnecting(() => closed(c));
  conn.onreconnected(() => opened(c));
  conn.onclose(() => {
    // automatic reconnection gave up (it does not with this policy) or
    // the first start failed: keep trying by hand
    closed(c);
    if (!stopping) setTimeout(() => begin(conn, c), 500);
  });
  c.conn = conn;
  await begin(conn, c);
}

async function begin(conn, c) {
  try {
    await conn.start();
    opened(c);
  } catch (e) {
    if (!stopping) setTimeout(() => begin(conn, c), 300 + Math.random() * 700);
  }
}

let stopping = false;
(async () => {
  const names = [];
  for (let i = 0; i < +count; i++) names.push(prefix + "u" + (+first + i));
  // connect in waves so that a loaded machine is not asked for 1,000
  // handshakes in the same millisecond
  for (let i = 0; i < names.length; i += 50) {
    await Promise.all(names.slice(i, i + 50).map(startOne));
  }
  console.log("ready " + up);
  let last = -1;
  setInterval(() => {
    if (up !== last) console.log("up " + up);
    last = up;
  }, 2000).unref();
})();

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  if (line.trim() !== "stop") return;
  stopping = true;
  const now = Date.now();
  const out = {};
  for (const [name, c] of Object.entries(clients)) {
    out[name] = { sessions: c.sessions.map(([a, b]) => [a, b === null ? now : b, b === null]), got: c.got };
  }
  fs.writeFileSync(outfile, JSON.stringify({ clients: out, stopped_ms: now }));
  await Promise.all(Object.values(clients).map((c) => c.conn.stop().catch(() => {})));
  console.log("stopped");
  process.exit(0);
});
