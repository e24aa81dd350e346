// The attendee page in Debian's chromium: hls.js plays the live stream, the
// video's currentTime advances for 10 s with no fatal hls.js error, the latency
// and quality menu are shown, nothing is loaded from another host, and a
// screenshot goes to the test output folder.
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
await runBrowserTest(args, async ({ relay, browser }) => {
  const page = await browser.newPage({ locale: 'de-DE' });
  const foreign = [];
  const consoleErrors = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(relay.base) && !req.url().startsWith('data:') && !req.url().startsWith('blob:')) {
      foreign.push(req.url());
    }
  });
  const failedResponses = [];
  page.on('response', (res) => { if (res.status() >= 400) failedResponses.push(`${res.status()} ${res.url()}`); });
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));

  await page.goto(`${relay.base}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.relayPlayer && window.relayPlayer.video.currentTime > 0, null,
    { timeout: 30_000 });

  const samples = [];
  for (let i = 0; i <= 10; i++) {
    samples.push(await page.evaluate(() => window.relayPlayer.video.currentTime));
    if (i < 10) await page.waitForTimeout(1000);
  }
  const state = await page.evaluate(() => ({
    fatal: window.relayPlayer.fatalErrors.map((e) => String(e.details || e)),
    levels: window.relayPlayer.hls ? window.relayPlayer.hls.levels.map((l) => l.height).sort((a, b) => b - a) : [],
    latency: window.relayPlayer.latency(),
    lang: document.documentElement.lang,
    text: document.body.innerText,
  }));
  await page.screenshot({ path: path.join(args.out, 'player.png') });

  console.log('currentTime samples', samples.map((s) => s.toFixed(2)).join(' '));
  console.log('state', JSON.stringify({ ...state, text: state.text.slice(0, 200) }));
  console.log('foreign requests', JSON.stringify(foreign), 'console errors', JSON.stringify(consoleErrors));
  for (let i = 1; i < samples.length; i++) {
    assert.ok(samples[i] > samples[i - 1], `currentTime advances every second: ${samples}`);
  }
  assert.ok(samples.at(-1) - samples[0] >= 5, `most of 10 s played in 10 s (the machine may be loaded): ${samples[0]} → ${samples.at(-1)}`);
  assert.deepEqual(state.fatal, [], 'no fatal hls.js error');
  assert.deepEqual(state.levels, [360, 180], 'hls.js sees both renditions from the master');
  assert.ok(state.latency !== null && state.latency > 0 && state.latency < 30, `latency shown: ${state.latency}`);
  assert.equal(state.lang, 'de', 'a German browser gets the German page');
  assert.deepEqual(foreign, [], 'nothing loaded from another host');
  assert.deepEqual(failedResponses, [], 'every request the page makes succeeds');
  assert.deepEqual(consoleErrors, [], 'no console errors');
  console.log('browser test passed; screenshot', path.join(args.out, 'player.png'));
});
