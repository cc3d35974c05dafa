// vapid_header.js -- the npm web-push package's VAPID header for a key
// pair, so the unit tests can check Herald reads the libraries' key
// format and tokens.
//
//   node tests/js/vapid_header.js AUDIENCE SUBJECT PUBLIC PRIVATE
// Prints the Authorization value ("vapid t=..., k=...").
'use strict';
const vapid = require('web-push/src/vapid-helper.js');

const [aud, sub, pub, priv] = process.argv.slice(2);
const h = vapid.getVapidHeaders(aud, sub, pub, priv, 'aes128gcm');
console.log(h.Authorization);
