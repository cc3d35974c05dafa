// fcm.js -- firebase-admin's sendEach (what a Node user would pick) against
// herald-sim: COUNT data messages in calls of 500 (sendEach's maximum),
// one call at a time, after a warm-up send that fetches the access token.
//   SIM_ADDR=127.0.0.1:8443 NODE_EXTRA_CA_CERTS=ca.pem \
//     HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE=sa.json node fcm.js COUNT
'use strict';
const { redirect, cpu, report } = require('./redirect');

redirect(process.env.SIM_ADDR);
const { initializeApp, cert } = require('firebase-admin/app');
const { getMessaging } = require('firebase-admin/messaging');

async function main() {
  const count = +process.argv[2];
  const sa = require(process.env.HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE);
  const messaging = getMessaging(initializeApp({ credential: cert(sa) }));
  const data = { type: '1', payload: '{"Id":"c1","UserId":"u1"}' };
  await messaging.send({ token: 'ok-warm-up', data });
  const t0 = process.hrtime.bigint();
  const c0 = cpu();
  let ok = 0;
  for (let i = 0; i < count; i += 500) {
    const msgs = [];
    for (let j = i; j < Math.min(count, i + 500); j++)
      msgs.push({ token: 'ok-node-' + j, data });
    const r = await messaging.sendEach(msgs);
    ok += r.successCount;
    if (r.failureCount > 0 && i === 0)
      console.error('first failure:', r.responses.find(x => !x.success).error.message);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  report('firebase-admin sendEach', count, ok, wall, cpu() - c0);
  process.exit(0);
}

main().catch(e => { console.error(e); process.exit(1); });
