// redirect.js -- sends the real provider hostnames to herald-sim, the way
// the workers' HERALD_WORKER_CONNECT_TO does: TLS still names (SNI) and
// verifies the real host (trust the simulator's CA with
// NODE_EXTRA_CA_CERTS), only the TCP target changes. Used by the
// comparison benchmarks; not part of Herald.
'use strict';
const http2 = require('http2');
const tls = require('tls');

const HOSTS = new Set(['api.push.apple.com', 'api.sandbox.push.apple.com',
  'fcm.googleapis.com', 'oauth2.googleapis.com']);

exports.redirect = function redirect(addr) {
  const [host, port] = addr.split(':');
  const orig = tls.connect;
  tls.connect = function connect(...args) {
    let opts;
    if (args[0] !== null && typeof args[0] === 'object') {
      opts = Object.assign({}, args[0]);
    } else {
      opts = Object.assign({}, typeof args[2] === 'object' ? args[2] : {});
      opts.port = args[0];
      opts.host = args[1];
    }
    const cb = args.find(a => typeof a === 'function');
    const name = opts.servername || opts.host;
    if (HOSTS.has(name) && !opts.socket) {
      opts.servername = name;
      opts.host = host;
      opts.port = +port;
    }
    return cb ? orig.call(this, opts, cb) : orig.call(this, opts);
  };
  // firebase-admin 13 sends ":scheme: https:" (url.protocol, colon
  // included) over HTTP/2. RFC 9113 makes that request malformed and
  // herald-sim (nghttp2's validation) resets the stream with
  // PROTOCOL_ERROR; Google's front end tolerates it. Send "https", the
  // value every conforming client sends; nothing else is changed.
  const h2connect = http2.connect;
  http2.connect = function connect(...args) {
    const session = h2connect.apply(this, args);
    const request = session.request;
    session.request = function (headers, ...rest) {
      const h = Object.assign({}, headers);
      if (typeof h[':scheme'] === 'string')
        h[':scheme'] = h[':scheme'].replace(/:$/, '');
      if (process.env.DEBUG_H) console.error(JSON.stringify(h));
      return request.call(this, h, ...rest);
    };
    return session;
  };
};

// CPU seconds (user + system) of this process since start.
exports.cpu = function cpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

exports.report = function report(name, count, ok, wall, cpu) {
  console.log(`${name}: ${count} pushes (${ok} accepted) in ${wall.toFixed(2)} s wall = ` +
    `${Math.round(count / wall)}/s; CPU ${cpu.toFixed(2)} s = ` +
    `${Math.round(count / cpu)} pushes per CPU-second`);
  console.log(`RESULT_JS_RATE=${Math.round(count / wall)} ` +
    `RESULT_JS_CPU_RATE=${Math.round(count / cpu)} RESULT_JS_OK=${ok}`);
};
