// The attendee page over HTTPS with HTTP/2 in Debian's chromium: a self-signed
// certificate made here, the relay's TLS port, hls.js plays (currentTime
// advances for 10 s with no fatal error), and the page's playlist and media
// requests went over h2 (Resource Timing's nextHopProtocol), the low-latency
// blocking reloads among them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, launchChromium, loadPlaywright, parseArgs, startRelay, stopRelay } from './relay.mjs';

const args = parseArgs(process.argv);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function makeCertificate(folder) {
  const cert = path.join(folder, 'cert.pem');
  const key = path.join(folder, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

const folder = mkdtempSync(path.join(os.tmpdir(), 'relay-h2-'));
const { cert, key } = makeCertificate(folder);
const tlsPort = await freePort();
const playwright = loadPlaywright(args['source-dir']);
// The plain port serves too: startRelay waits for the stream there.
const relay = await startRelay(args, [...LIGHT_LADDER, `edge.tls_listen=127.0.0.1:${tlsPort}`, 'edge.plain_http=serve',
  `edge.tls_cert_file=${cert}`, `edge.tls_key_file=${key}`]);
const base = `https://127.0.0.1:${tlsPort}`;
let browser;
let failed = false;
try {
  browser = await launchChromium(playwright, ['--ignore-certificate-errors']);
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB' });
  const page = await context.newPage();
  // LL-HLS makes several requests a second; keep every entry, not the default 250.
  await page.addInitScript(() => performance.setResourceTimingBufferSize(100000));
  const consoleErrors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  const failedResponses = [];
  page.on('response', (res) => { if (res.status() >= 400) failedResponses.push(`${res.status()} ${res.url()}`); });

  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.relayPlayer && window.relayPlayer.video.currentTime > 0, null,
    { timeout: 30_000 });
  const samples = [];
  for (let i = 0; i <= 10; i++) {
    samples.push(await page.evaluate(() => window.relayPlayer.video.currentTime));
    if (i < 10) await page.waitForTimeout(1000);
  }
  const state = await page.evaluate(() => ({
    fatal: window.relayPlayer.fatalErrors.map((e) => String(e.details || e)),
    navigation: performance.getEntriesByType('navigation')[0]?.nextHopProtocol,
    resources: performance.getEntriesByType('resource').map((e) => ({
      name: e.name, protocol: e.nextHopProtocol, transferSize: e.transferSize })),
  }));

  // Answers from the browser's cache (parts are immutable) went over no network: no protocol, nothing transferred.
  const media = state.resources.filter((r) => new URL(r.name).pathname.startsWith('/live/'));
  const fromCache = media.filter((r) => r.protocol === '' && r.transferSize === 0);
  const fetched = media.filter((r) => !fromCache.includes(r));
  const byProtocol = {};
  for (const r of fetched) byProtocol[r.protocol] = (byProtocol[r.protocol] || 0) + 1;
  const blocking = fetched.filter((r) => r.name.includes('_HLS_msn=') && r.name.includes('_HLS_part='));
  const parts = fetched.filter((r) => /\/part-[0-9a-z]+-\d+\.\d+\.m4s$/.test(new URL(r.name).pathname));
  console.log('currentTime samples', samples.map((s) => s.toFixed(2)).join(' '));
  console.log('from the browser cache:', JSON.stringify(fromCache.map((r) => new URL(r.name).pathname)));
  console.log(JSON.stringify({ navigation: state.navigation, media: media.length, byProtocol,
    blocking: blocking.length, parts: parts.length, fatal: state.fatal, failedResponses, consoleErrors }));

  for (let i = 1; i < samples.length; i++) {
    assert.ok(samples[i] > samples[i - 1], `currentTime advances every second: ${samples}`);
  }
  assert.ok(samples.at(-1) - samples[0] >= 5, `most of 10 s played in 10 s: ${samples[0]} → ${samples.at(-1)}`);
  assert.deepEqual(state.fatal, [], 'no fatal hls.js error');
  assert.equal(state.navigation, 'h2', 'the page itself came over h2');
  assert.ok(fetched.length >= 10, `the player made media requests over HTTPS (${fetched.length})`);
  assert.deepEqual(Object.keys(byProtocol), ['h2'],
    `every playlist and media request went over h2: ${JSON.stringify(byProtocol)}`);
  assert.ok(blocking.length >= 5, `LL-HLS blocking reloads over h2 (${blocking.length})`);
  assert.ok(parts.length >= 5, `parts fetched over h2 (${parts.length})`);
  assert.deepEqual(failedResponses, [], 'every request the page makes succeeds');
  assert.deepEqual(consoleErrors, [], 'no console errors');
  console.log('HTTPS/h2 browser test passed');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close();
  await stopRelay(relay);
  rmSync(folder, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
