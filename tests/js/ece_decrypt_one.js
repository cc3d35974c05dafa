// ece_decrypt_one.js -- decrypts one Web Push body with the npm http_ece
// package, for the integration tests.
//
//   node tests/js/ece_decrypt_one.js UA_PRIVATE AUTH BODY_BASE64
// (UA_PRIVATE and AUTH base64url, BODY standard base64.) Prints the
// plaintext as UTF-8.
'use strict';
const crypto = require('crypto');
const ece = require('http_ece');

const [priv, auth, body] = process.argv.slice(2);
const ua = crypto.createECDH('prime256v1');
ua.setPrivateKey(Buffer.from(priv, 'base64url'));
process.stdout.write(ece.decrypt(Buffer.from(body, 'base64'), {
  version: 'aes128gcm',
  privateKey: ua,
  authSecret: Buffer.from(auth, 'base64url'),
}));
