// ece_decrypt.js -- decrypts Web Push bodies with the npm http_ece package
// (an implementation independent of Herald's), for the unit tests.
//
//   node tests/js/ece_decrypt.js CASES.json
// CASES.json: [{"ua_private":"<b64url 32>","auth":"<b64url 16>",
//               "body":"<b64url>"}, ...]. Prints one line per case: the
// plaintext in base64url, or "ERROR <message>".
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const ece = require('http_ece');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  try {
    const ua = crypto.createECDH('prime256v1');
    ua.setPrivateKey(Buffer.from(c.ua_private, 'base64url'));
    const plain = ece.decrypt(Buffer.from(c.body, 'base64url'), {
      version: 'aes128gcm',
      privateKey: ua,
      authSecret: Buffer.from(c.auth, 'base64url'),
    });
    console.log(plain.toString('base64url'));
  } catch (e) {
    console.log('ERROR ' + e.message);
  }
}
