// Live rewind in Debian's chromium (German page, hls.js, LL-HLS, 1 s segments,
// a 60 s DVR window, the light ladder):
// - a talk is started and, some seconds later, ended through the programme API;
// - once the window holds >= 40 s the rewind controls show, "LIVE" is on;
// - "−30 s" by keyboard drops currentTime by about 30 s, playback goes on from
//   there, and the indicator shows how far behind live it is (not "LIVE");
// - the talk's chapter mark sits on the seek bar, named by its title;
// - "Zurück zu live" by keyboard returns to the low-latency edge: latency back
//   within hls.js's target latency plus slack, "LIVE" on, low-latency mode kept;
// - the chapter mark, pressed, seeks to the talk's start.
// A screenshot of the player with the seek bar and the mark goes to --out.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const MODERATOR = 'moderator-token-dvr-0123456789abc';
const WINDOW_NEEDED_S = 40;
// Latency after "back to live" may exceed hls.js's target by this much (a shared machine).
const LIVE_SLACK_S = 2.5;

const now = Math.floor(Date.now() / 60000) * 60000;
const at = (minutes) => new Date(now + minutes * 60000).toISOString().replace('.000Z', 'Z');
const sourceDir = path.resolve(args['source-dir']);
const config = path.join(mkdtempSync(path.join(os.tmpdir(), 'dvr-')), 'relay.toml');
writeFileSync(config, readFileSync(path.join(sourceDir, 'config', 'relay.toml'), 'utf8').replaceAll('"../', `"${sourceDir}/`) +
  `\n[[programme.talks]]\nid = "intro"\ntitle = "Einführung"\nstart = "${at(-5)}"\nend = "${at(5)}"\n` +
  `\n[[programme.talks]]\nid = "main"\ntitle = "Hauptvortrag"\nstart = "${at(5)}"\nend = "${at(30)}"\n`);

const overrides = [...LIGHT_LADDER, 'hls.segment_duration_s=1', 'hls.dvr_window_s=60',
  `qa.moderator_tokens=["${MODERATOR}"]`];

async function mark(base, action) {
  const response = await fetch(`${base}/api/programme/${action}`, { method: 'POST', headers: { Authorization: `Bearer ${MODERATOR}` } });
  assert.equal(response.status, 200, `${action}: ${await response.text()}`);
}

await runBrowserTest(args, async ({ relay, browser }) => {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await mark(relay.base, 'intro/start');
  const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${relay.base}/`);
  await page.waitForFunction(() => window.relayPlayer.video.currentTime > 0 && window.relayDvr, null, { timeout: 30_000 });

  // The talk ends once a few seconds of it are in the window.
  await page.waitForFunction(() => { const r = window.relayDvr.range(); return r && r.end - r.start >= 8; }, null, { timeout: 30_000 });
  await mark(relay.base, 'intro/end');
  console.log(`${elapsed()}: talk marked from start to end`);

  await page.waitForFunction((needed) => {
    const r = window.relayDvr.range();
    return r && r.end - r.start >= needed && window.relayDvr.atLive();
  }, WINDOW_NEEDED_S, { timeout: 60_000, polling: 250 });
  await page.waitForSelector('#dvr:not([hidden])');
  assert.equal(await page.getAttribute('#dvr-live-state', 'data-live'), 'true');
  assert.equal(await page.textContent('#dvr-live-state'), 'LIVE');
  assert.equal(await page.getAttribute('#dvr-back30', 'aria-label'), '−30 s – 30 Sekunden zurück');
  assert.equal(await page.textContent('#dvr-to-live'), 'Zurück zu live');
  console.log(`${elapsed()}: window of ${WINDOW_NEEDED_S} s there`);

  // −30 s by keyboard.
  await page.focus('#dvr-back30');
  const before = await page.evaluate(() => window.relayPlayer.video.currentTime);
  await page.keyboard.press('Enter');
  await page.waitForFunction((t0) => !window.relayPlayer.video.seeking && window.relayPlayer.video.currentTime < t0 - 20, before);
  const after = await page.evaluate(() => window.relayPlayer.video.currentTime);
  assert.ok(Math.abs(before - after - 30) < 2, `currentTime dropped by about 30 s: ${before.toFixed(1)} → ${after.toFixed(1)}`);
  // Playback goes on in the past (its segments load), behind live.
  await page.waitForFunction((t) => window.relayPlayer.video.currentTime > t + 2 && !window.relayPlayer.video.paused, after, { timeout: 15_000 });
  await page.waitForFunction(() => document.getElementById('dvr-live-state').dataset.live === 'false');
  const behindText = await page.textContent('#dvr-live-state');
  assert.match(behindText, /^−0:(2|3)\d$/, `the indicator says how far behind: ${behindText}`);
  const behind = await page.evaluate(() => window.relayDvr.behind());
  assert.ok(behind > 25 && behind < 35, `about 30 s behind live: ${behind}`);
  assert.equal(await page.evaluate(() => window.relayDvr.rewound()), true, 'rewound by choice: no latency in the QoE report');
  console.log(`${elapsed()}: rewound 30 s (${behindText})`);

  // The talk's chapter mark on the seek bar.
  await page.waitForSelector('#dvr-chapters li[data-id="intro"] button', { timeout: 10_000 });
  const chapter = await page.$eval('#dvr-chapters li[data-id="intro"]', (li) => ({
    title: li.firstChild.title, text: li.firstChild.textContent, left: parseFloat(li.style.left), start: Number(li.dataset.start),
  }));
  assert.match(chapter.title, /^Kapitel: Einführung, ab \d\d:\d\d$/);
  assert.equal(chapter.text, chapter.title, 'the mark has its title as text for screen readers');
  assert.ok(chapter.left >= 0 && chapter.left < 100, `the mark is on the bar: ${chapter.left}%`);
  await page.locator('#player').screenshot({ path: path.join(args.out, 'dvr-player.png') });

  // Back to live by keyboard.
  await page.focus('#dvr-to-live');
  await page.keyboard.press('Enter');
  await page.waitForFunction((slack) => {
    const { hls, latency } = window.relayPlayer;
    const l = latency();
    return window.relayDvr.atLive() && l !== null && l < hls.targetLatency + slack;
  }, LIVE_SLACK_S, { timeout: 15_000 });
  const live = await page.evaluate(() => ({
    latency: window.relayPlayer.latency(), target: window.relayPlayer.hls.targetLatency,
    lowLatency: window.relayPlayer.hls.config.lowLatencyMode, rate: window.relayPlayer.video.playbackRate,
    state: document.getElementById('dvr-live-state').textContent,
  }));
  assert.equal(live.lowLatency, true, 'low-latency mode kept');
  assert.equal(await page.evaluate(() => window.relayDvr.rewound()), false, 'back at live: latency reported again');
  assert.equal(live.state, 'LIVE');
  assert.ok(live.rate >= 1 && live.rate <= 1.5, `playback rate normal or hls.js's catch-up: ${live.rate}`);
  console.log(`${elapsed()}: back to live, latency ${live.latency.toFixed(2)} s (target ${live.target} s)`);

  // The chapter mark seeks to the talk's start.
  await page.focus('#dvr-chapters li[data-id="intro"] button');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('dvr-live-state').dataset.live === 'false');
  const onChapter = await page.evaluate(() => ({
    time: window.relayPlayer.video.currentTime, start: Number(document.querySelector('#dvr-chapters li[data-id="intro"]').dataset.start),
  }));
  assert.ok(Math.abs(onChapter.time - onChapter.start) < 2.5, `the mark seeks to the talk's start: ${onChapter.time} vs ${onChapter.start}`);
  assert.deepEqual(errors, [], 'no script error');
  await context.close();
  console.log(`${elapsed()}: DVR browser test passed`);
}, overrides, { config });
