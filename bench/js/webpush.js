// webpush.js -- the npm web-push library's sendNotification (what a Node
// user would pick) against herald-sim's Web Push service: COUNT messages
// to the subscriptions in SUBS_FILE (one JSON subscription a line, used
// in turn), at most CONCURRENCY in flight over one keep-alive https.Agent
// (connections reused, as a careful user would set it up), after a
// warm-up send. VAPID keys from VAPID_PUBLIC / VAPID_PRIVATE.
//   SIM_ADDR=127.0.0.1:8443 NODE_EXTRA_CA_CERTS=ca.pem SUBS_FILE=subs.jsonl \
//     VAPID_PUBLIC=… VAPID_PRIVATE=… NODE_PATH=tests/js/node_modules \
//     node webpush.js COUNT [PAYLOAD_BYTES] [CONCURRENCY]
'use strict';
const fs = require('fs');
const https = require('https');
const { redirect, cpu, report } = require('./redirect');

redirect(process.env.SIM_ADDR);
const webpush = require('web-push');

async function main() {
  const count = +process.argv[2];
  const size = +(process.argv[3] || 200);
  const conc = +(process.argv[4] || process.env.CONCURRENCY || 50);
  const subs = fs.readFileSync(process.env.SUBS_FILE, 'utf8').trim().split('\n')
    .map(l => JSON.parse(l));
  const opts = {
    vapidDetails: { subject: 'mailto:bench@herald.test',
                    publicKey: process.env.VAPID_PUBLIC,
                    privateKey: process.env.VAPID_PRIVATE },
    TTL: 600,
    agent: new https.Agent({ keepAlive: true, maxSockets: conc }),
  };
  const payload = JSON.stringify({ type: 1, payload: 'x'.repeat(Math.max(0, size - 24)) });
  await webpush.sendNotification(subs[0], payload, opts);
  const t0 = process.hrtime.bigint();
  const c0 = cpu();
  let next = 0, ok = 0, firstErr = null;
  async function lane() {
    while (next < count) {
      const i = next++;
      try {
        const r = await webpush.sendNotification(subs[i % subs.length], payload, opts);
        if (r.statusCode === 201) ok++;
      } catch (e) {
        if (firstErr === null) firstErr = e;
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, lane));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (firstErr) console.error('first failure:', firstErr.statusCode, firstErr.body || firstErr.message);
  report('npm web-push sendNotification', count, ok, wall, cpu() - c0);
  process.exit(0);
}

main().catch(e => { console.error(e); process.exit(1); });
