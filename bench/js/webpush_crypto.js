// webpush_crypto.js -- the npm web-push library's cost per message on this
// machine: generateRequestDetails (what sendNotification does before its
// HTTP request: the VAPID JWT, signed anew on every call, and the RFC 8291
// encryption) for COUNT messages to one subscription, in process CPU time.
//   NODE_PATH=tests/js/node_modules node webpush_crypto.js COUNT BYTES
'use strict';
const crypto = require('crypto');
const webpush = require('web-push');

const count = +(process.argv[2] || 20000);
const size = +(process.argv[3] || 200);
const ua = crypto.createECDH('prime256v1');
ua.generateKeys();
const sub = {
  endpoint: 'https://fcm.googleapis.com/fcm/send/bench-0123456789',
  keys: { p256dh: ua.getPublicKey().toString('base64url'),
          auth: crypto.randomBytes(16).toString('base64url') },
};
const vapid = webpush.generateVAPIDKeys();
const opts = { vapidDetails: { subject: 'mailto:bench@herald.test',
                               publicKey: vapid.publicKey,
                               privateKey: vapid.privateKey } };
const payload = 'x'.repeat(size);
webpush.generateRequestDetails(sub, payload, opts); // warm-up
const c0 = process.cpuUsage();
for (let i = 0; i < count; i++)
  webpush.generateRequestDetails(sub, payload, opts);
const c = process.cpuUsage(c0);
const s = (c.user + c.system) / 1e6;
console.log('%s %s msgs %s cpu-s %s /cpu-s', 'npm web-push 3.6.7'.padEnd(28),
            String(count).padStart(8), s.toFixed(3).padStart(8),
            (count / s).toFixed(0).padStart(10));
