// Content steering failover in Debian's chromium: the relay names two cache
// paths ([scale] pathways), each an nginx reverse proxy started here; the
// attendee page (hls.js, LL-HLS) plays through the first; that proxy is killed
// (SIGKILL); playback must go on through the second within a few seconds, with
// no fatal hls.js error and the media then fetched from the second.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, freePort, parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const RECOVERY_MAX_S = 10;  // kill to the first media answer through cache B
const STALL_MAX_S = 10;     // playback stalled in all after the kill
const AFTER_KILL_S = 20;    // watched after the kill

// A plain reverse proxy in front of the relay, one process (master_process off)
// so that SIGKILL takes it down whole, as a crashed cache node goes.
async function startProxy(name, port, upstreamPort) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `relay-steer-${name}-`));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
  writeFileSync(path.join(dir, 'nginx.conf'), `
daemon off;
master_process off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 30s;
    }
  }
}
`);
  const proc = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`nginx ${name} exited with ${proc.exitCode}: ${errorLog(dir)}`);
    try {
      if ((await fetch(`${base}/live/360p/index.m3u8`)).ok) return { name, proc, dir, port, base };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`nginx ${name} did not answer within 10 s: ${errorLog(dir)}`);
}

function errorLog(dir) {
  try { return readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000); } catch { return ''; }
}

function stopProxy(proxy) {
  if (proxy.proc.exitCode === null && proxy.proc.signalCode === null) proxy.proc.kill('SIGKILL');
  rmSync(proxy.dir, { recursive: true, force: true });
}

const portA = await freePort();
const portB = await freePort();
const overrides = [...LIGHT_LADDER,
  `scale.pathways=[{id="cache-a",base_url="http://127.0.0.1:${portA}/"},` +
    `{id="cache-b",base_url="http://127.0.0.1:${portB}/"}]`];

await runBrowserTest(args, async ({ relay, browser }) => {
  const proxies = [];
  try {
    const a = await startProxy('a', portA, relay.port);
    proxies.push(a);
    const b = await startProxy('b', portB, relay.port);
    proxies.push(b);

    const master = await (await fetch(`${relay.base}/live/master.m3u8`)).text();
    assert.match(master, /#EXT-X-CONTENT-STEERING:SERVER-URI="steering.json",PATHWAY-ID="cache-a"/);

    // Every stream request the page makes, with where it went and when it ended.
    const media = [];  // { port, url, at, ok }
    const steering = [];
    const page = await browser.newPage({ locale: 'en-GB' });
    const record = (req, ok) => {
      const url = new URL(req.url());
      if (url.pathname === '/live/steering.json') steering.push({ port: Number(url.port), at: Date.now(), ok });
      else if (url.pathname.startsWith('/live/') && url.pathname !== '/live/master.m3u8')
        media.push({ port: Number(url.port), path: url.pathname, at: Date.now(), ok });
    };
    page.on('requestfinished', async (req) => {
      const res = await req.response();
      record(req, !!res && res.ok());
    });
    page.on('requestfailed', (req) => record(req, false));

    await page.goto(`${relay.base}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.relayPlayer && window.relayPlayer.video.currentTime > 0, null,
      { timeout: 30_000 });
    await page.evaluate(() => {
      const w = { stalls: 0, stallStart: null, stallSeconds: 0 };
      window.steerWatch = w;
      const { video } = window.relayPlayer;
      video.addEventListener('waiting', () => { w.stalls++; w.stallStart = performance.now(); });
      video.addEventListener('playing', () => {
        if (w.stallStart !== null) w.stallSeconds += (performance.now() - w.stallStart) / 1000;
        w.stallStart = null;
      });
    });
    await page.waitForTimeout(5000);

    const beforeKill = media.filter((r) => r.ok);
    assert.ok(beforeKill.length > 10, `playing: ${beforeKill.length} stream requests before the kill`);
    assert.ok(beforeKill.every((r) => r.port === portA),
      `before the kill the stream comes through cache A only: ${JSON.stringify([...new Set(beforeKill.map((r) => r.port))])}`);
    assert.ok(steering.some((r) => r.ok && r.port === relay.port), 'hls.js loaded the steering manifest from the relay');

    const timeAtKill = await page.evaluate(() => window.relayPlayer.video.currentTime);
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    const samples = [];
    for (let i = 0; i < AFTER_KILL_S * 4; i++) {
      await page.waitForTimeout(250);
      samples.push({ at: Date.now(), t: await page.evaluate(() => window.relayPlayer.video.currentTime) });
    }
    const result = await page.evaluate(() => {
      const w = window.steerWatch;
      const open = w.stallStart !== null ? (performance.now() - w.stallStart) / 1000 : 0;
      return {
        stalls: w.stalls, stallSeconds: w.stallSeconds + open,
        fatal: window.relayPlayer.fatalErrors.map((e) => String(e.details || e)),
        pathway: window.relayPlayer.hls && window.relayPlayer.hls.pathwayPriority,
      };
    });

    const throughB = media.filter((r) => r.ok && r.port === portB && r.at > killedAt);
    const recoverS = throughB.length ? (throughB[0].at - killedAt) / 1000 : null;
    const last = samples[samples.length - 1];
    const lastFive = samples.filter((s) => s.at >= last.at - 5000);
    const advancedLastFive = last.t - lastFive[0].t;
    const lateRequests = media.filter((r) => r.at > last.at - 5000);
    console.log(JSON.stringify({
      recoverSeconds: recoverS, stalls: result.stalls, stallSeconds: Number(result.stallSeconds.toFixed(2)),
      advanced: Number((last.t - timeAtKill).toFixed(2)), advancedLastFive: Number(advancedLastFive.toFixed(2)),
      requestsThroughB: throughB.length, lateRequestPorts: [...new Set(lateRequests.map((r) => r.port))],
      fatal: result.fatal, pathwayPriority: result.pathway,
    }));
    console.log(`time to recover through cache B: ${recoverS} s`);

    assert.deepEqual(result.fatal, [], 'no fatal hls.js error');
    assert.ok(recoverS !== null && recoverS <= RECOVERY_MAX_S,
      `media came through cache B within ${RECOVERY_MAX_S} s of the kill (${recoverS} s)`);
    assert.ok(result.stallSeconds <= STALL_MAX_S, `stalled ${result.stallSeconds.toFixed(2)} s after the kill`);
    assert.ok(advancedLastFive >= 3.5, `playing at the end: currentTime advanced ${advancedLastFive.toFixed(2)} s in 5 s`);
    assert.ok(last.t - timeAtKill >= AFTER_KILL_S - STALL_MAX_S,
      `currentTime advanced ${(last.t - timeAtKill).toFixed(2)} s in ${AFTER_KILL_S} s after the kill`);
    assert.ok(lateRequests.length > 0 && lateRequests.every((r) => r.port === portB && r.ok),
      `the stream now comes through cache B only: ${JSON.stringify(lateRequests.slice(-5))}`);
    // The page sends its session header only to its own origin, so a cache path on
    // another origin gets no CORS preflight per part (which it would pass to the relay).
    const preflights = readFileSync(path.join(b.dir, 'access.log'), 'utf8').split('\n')
      .filter((line) => line.includes('"OPTIONS '));
    assert.equal(preflights.length, 0, `no preflight through cache B: ${preflights.slice(0, 3).join(' | ')}`);
    await page.screenshot({ path: path.join(args.out, 'steering-failover.png') });
    console.log('steering failover browser test passed');
  } finally {
    for (const proxy of proxies) stopProxy(proxy);
  }
}, overrides);
