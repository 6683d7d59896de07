// Starts a local PLC directory, then the reference Bluesky PDS using it,
// both on free 127.0.0.1 ports with their data in a temporary directory;
// prints one line, {"pds": URL, "plc": URL}, when both answer, and stops
// when stdin closes or on SIGTERM. The packages come from the npm ci'd
// directory given as the first argument (BLUESKY_PDS_DIR).
//
//   node start.mjs "$BLUESKY_PDS_DIR"
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(join(process.argv[2] ?? process.exit(2), 'package.json'));
const pds = require('@atproto/pds');
const plc = require('@did-plc/server');

// Both servers call listen(port) on every interface: keep them on loopback.
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  return listen.call(this, port, '127.0.0.1', ...rest.filter((a) => typeof a === 'function'));
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'marquee-pds-'));
const plcPort = await freePort();
const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: plcPort });
await plcServer.start();

const port = await freePort();
const env = {
  devMode: true,
  port,
  hostname: 'localhost',
  dataDirectory: dataDir,
  blobstoreDiskLocation: join(dataDir, 'blobs'),
  didPlcUrl: `http://127.0.0.1:${plcPort}`,
  serviceHandleDomains: ['.test'],
  inviteRequired: false,
  jwtSecret: randomBytes(16).toString('hex'),
  adminPassword: 'admin-pass',
  // Any 32 random bytes are a secp256k1 private key (but for ~2^-128).
  plcRotationKeyK256PrivateKeyHex: randomBytes(32).toString('hex'),
};
const server = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env));
await server.start();

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.destroy().catch(() => {});
  await plcServer.destroy().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

console.log(JSON.stringify({ pds: `http://127.0.0.1:${port}`, plc: `http://127.0.0.1:${plcPort}` }));
