// Starts the real relay binary for a browser test and launches Debian's chromium
// through playwright-core (no browser download: the test uses /usr/bin/chromium).
import { spawn } from 'node:child_process';
import os from 'node:os';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export function parseArgs(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const key of ['binary', 'source-dir', 'out']) {
    if (!out[key]) throw new Error(`missing --${key}`);
  }
  mkdirSync(out.out, { recursive: true });
  return out;
}

export function loadPlaywright(sourceDir) {
  const require = createRequire(path.resolve(sourceDir, 'package.json'));
  return require('playwright-core');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export const LIGHT_LADDER = [
  'ingest.width=640', 'ingest.height=360', 'encoder.preset=ultrafast',
  'encoder.renditions=[{name="360p",width=640,height=360,bitrate_kbps=800,profile="high"},' +
    '{name="180p",width=320,height=180,bitrate_kbps=200,profile="main"}]',
];

// `port`: the edge's port when the test picked it beforehand (another relay is told it);
// `config`: a config file in place of the shipped one (e.g. with [[audio]] tables).
export async function startRelay(args, overrides = LIGHT_LADDER, { port: wanted, config } = {}) {
  const port = wanted || await freePort();
  const argv = ['--config', config || path.join(args['source-dir'], 'config', 'relay.toml'),
    '--set', `edge.listen=127.0.0.1:${port}`];
  // Each run keeps its Q&A database to itself, never in the source tree.
  if (!overrides.some((o) => o.startsWith('qa.data_dir='))) {
    argv.push('--set', `qa.data_dir=${mkdtempSync(path.join(os.tmpdir(), 'relay-qa-'))}`);
  }
  for (const o of overrides) argv.push('--set', o);
  const proc = spawn(args.binary, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`relay exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`${base}/live/360p/index.m3u8`);
      if (r.ok && (await r.text()).includes('#EXTINF')) return { proc, base, port };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  proc.kill('SIGTERM');
  throw new Error('relay produced no segments within 40 s');
}

export async function stopRelay(relay) {
  if (relay.proc.exitCode !== null) return relay.proc.exitCode;
  relay.proc.kill('SIGTERM');
  return await new Promise((resolve) => relay.proc.on('exit', (code) => resolve(code)));
}

// Flags from the machine notes: headless as root, and no background networking
// (this network is closed, and the page must load nothing from third parties).
export async function launchChromium(playwright, extraArgs = []) {
  return playwright.chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', ...extraArgs],
  });
}

// Runs one browser test: the relay (with `overrides`, on `port` when given) and
// chromium are started, `body` gets both, and whatever happens both are stopped,
// then `cleanup` runs (a test's other processes); the process exits 1 on any failure.
export async function runBrowserTest(args, body, overrides = LIGHT_LADDER, { port, cleanup, config } = {}) {
  const playwright = loadPlaywright(args['source-dir']);
  let relay;
  try {
    relay = await startRelay(args, overrides, { port, config });
  } catch (e) {
    console.error(e);
    if (cleanup) await cleanup();
    process.exit(1);
  }
  let browser;
  let failed = false;
  try {
    browser = await launchChromium(playwright);
    await body({ relay, browser });
  } catch (e) {
    failed = true;
    console.error(e);
  } finally {
    if (browser) await browser.close();
    await stopRelay(relay);
    if (cleanup) await cleanup();
  }
  process.exit(failed ? 1 : 0);
}
