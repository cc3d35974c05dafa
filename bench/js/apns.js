// apns.js -- @parse/node-apn (what a Node user would pick) against
// herald-sim: token authentication, COUNT background pushes sent to 500
// devices per provider.send() call, one call at a time, after a warm-up.
//   SIM_ADDR=127.0.0.1:8443 NODE_EXTRA_CA_CERTS=ca.pem \
//     HERALD_SIM_APNS_KEY_FILE=... HERALD_SIM_APNS_KEY_ID=... \
//     HERALD_SIM_APNS_TEAM_ID=... HERALD_SIM_APNS_TOPIC=... node apns.js COUNT
'use strict';
const { redirect, cpu, report } = require('./redirect');

redirect(process.env.SIM_ADDR);
const apn = require('@parse/node-apn');

async function main() {
  const count = +process.argv[2];
  const e = process.env;
  const provider = new apn.Provider({
    token: { key: e.HERALD_SIM_APNS_KEY_FILE, keyId: e.HERALD_SIM_APNS_KEY_ID,
      teamId: e.HERALD_SIM_APNS_TEAM_ID },
    production: true,
  });
  const note = () => {
    const n = new apn.Notification();
    n.topic = e.HERALD_SIM_APNS_TOPIC;
    n.pushType = 'background';
    n.priority = 5;
    n.contentAvailable = 1;
    n.payload = { data: { type: 1, payload: '{"Id":"c1","UserId":"u1"}' } };
    return n;
  };
  const tok = i => '00' + i.toString(16).padStart(62, '0');
  await provider.send(note(), [tok(999999999)]);
  const t0 = process.hrtime.bigint();
  const c0 = cpu();
  let ok = 0;
  for (let i = 0; i < count; i += 500) {
    const toks = [];
    for (let j = i; j < Math.min(count, i + 500); j++)
      toks.push(tok(j));
    const r = await provider.send(note(), toks);
    ok += r.sent.length;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  report('@parse/node-apn', count, ok, wall, cpu() - c0);
  provider.shutdown();
  process.exit(0);
}

main().catch(err => { console.error(err); process.exit(1); });
