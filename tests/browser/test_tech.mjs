// The technician's dashboard in Debian's chromium: /tech without a token asks
// for one and its event stream answers 401; a wrong token is refused; with the
// technician token the charts hold data points after 10 s (checked in the page),
// the tiles show the ingest, the input's frames, the sound, the questions waiting
// and a thumbnail of the picture; an attendee page playing in another tab sends
// X-Playback-Session-Id with every playlist and media request and shows up as a
// viewer of its rendition; nothing comes from another host, and a screenshot goes
// to the test output folder. The recording tile shows "off", starts a recording
// with its button (state, event and run, disk free) and stops it again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, launchChromium, loadPlaywright, parseArgs, startRelay, stopRelay } from './relay.mjs';

const TOKEN = 'technician-browser-0123456789abcdef';
const args = parseArgs(process.argv);
const playwright = loadPlaywright(args['source-dir']);
const recordings = fs.mkdtempSync(path.join(os.tmpdir(), 'tech-recording-'));
const relay = await startRelay(args, [...LIGHT_LADDER, `qa.technician_tokens=["${TOKEN}"]`,
  `recording.dir=${recordings}`, 'recording.event=tech-test', 'recording.warn_free_mb=0', 'recording.stop_free_mb=0']);
let browser;
let failed = false;
try {
  browser = await launchChromium(playwright);

  const anonymous = await browser.newPage();
  await anonymous.goto(`${relay.base}/tech`, { waitUntil: 'load' });
  await anonymous.waitForSelector('#signin:not([hidden])', { timeout: 10_000 });
  const refused = await anonymous.evaluate(async () => ({
    dashboardHidden: document.getElementById('dashboard').hidden,
    stream: (await fetch('/api/tech/stream')).status,
    incidents: (await fetch('/api/incidents')).status,
  }));
  assert.deepEqual(refused, { dashboardHidden: true, stream: 401, incidents: 401 }, 'no token: sign-in only, 401 for the data');

  const wrong = await browser.newPage();
  await wrong.goto(`${relay.base}/tech#token=not-the-technician-token-0000`, { waitUntil: 'load' });
  await wrong.waitForFunction(() => document.getElementById('signin-message').textContent.includes('not a technician token'),
    null, { timeout: 15_000 });

  const page = await browser.newPage();
  const foreign = [];
  const consoleErrors = [];
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(relay.base) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto(`${relay.base}/tech#token=${TOKEN}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.techDashboard && window.techDashboard.points() > 0, null, { timeout: 15_000 });

  // An attendee watching: hls.js adds the page's session id to what it loads.
  const attendee = await browser.newPage();
  const media = [];
  attendee.on('request', (req) => {
    if (new URL(req.url()).pathname.match(/^\/live\/[^/]+\/.+/)) media.push(req.headers()['x-playback-session-id'] || null);
  });
  await attendee.goto(`${relay.base}/`, { waitUntil: 'load' });
  await attendee.waitForFunction(() => window.relayPlayer && window.relayPlayer.video.currentTime > 0, null,
    { timeout: 30_000 });
  const session = await attendee.evaluate(() => window.relayPlayer.session);
  assert.match(session, /^[0-9a-f]{24}$/, `the player has a random session id (${session})`);
  assert.ok(media.length > 0 && media.every((id) => id === session),
    `every playlist and media request carries X-Playback-Session-Id (${media.length} requests, ${[...new Set(media)]})`);

  await page.waitForTimeout(10_000);
  const state = await page.evaluate(() => ({
    points: window.techDashboard.points(),
    chartPoints: window.techDashboard.chartPoints(),
    canvases: document.querySelectorAll('#dashboard canvas').length,
    ingest: document.getElementById('ingest-state').textContent,
    audio: document.getElementById('audio-text').textContent,
    url: location.href,
    thumbnail: document.getElementById('thumbnail').naturalWidth,
    keyframes: document.getElementById('input-keyframes').textContent,
    frames: document.getElementById('input-frames').textContent,
    viewers: document.getElementById('viewers').textContent,
    viewerRenditions: document.getElementById('viewer-renditions').textContent,
    pending: document.getElementById('pending-questions').textContent,
  }));
  await page.screenshot({ path: path.join(args.out, 'tech.png'), fullPage: true });
  console.log('dashboard', JSON.stringify(state));
  assert.ok(state.chartPoints >= 5, `the charts hold data points after 10 s (${state.chartPoints})`);
  assert.equal(state.canvases, 4, 'four charts drawn');
  assert.equal(state.ingest, 'live', 'the ingest tile shows live');
  assert.match(state.audio, /dBFS/, 'the audio meter has a level');
  assert.ok(state.thumbnail > 0, `a thumbnail of the picture is shown (${state.thumbnail} px wide)`);
  assert.equal(state.keyframes, 'no keyframes', 'the raw test source has no input keyframes');
  assert.match(state.frames, /^dropped \d+ · repeated \d+ · late \d+$/, `the input's frame counts are shown (${state.frames})`);
  assert.equal(state.viewers, '1', 'the attendee tab is one viewer');
  assert.match(state.viewerRenditions, /\b\w+ 1\b/, `counted under the rendition it plays (${state.viewerRenditions})`);
  assert.equal(state.pending, '0', 'no question waits for a moderator');
  await attendee.close();
  assert.ok(!state.url.includes(TOKEN), 'the token leaves the address bar');

  // The recording tile: off, then started and stopped with its buttons.
  const recordingText = () => page.evaluate(() => document.getElementById('recording-state').textContent);
  await page.waitForFunction(() => document.getElementById('recording-state').textContent === 'off', null,
    { timeout: 10_000 });
  assert.ok(await page.isDisabled('#recording-stop'), 'nothing to stop while the recording is off');
  await page.click('#recording-start');
  await page.waitForFunction(() => document.getElementById('recording-state').textContent === 'recording', null,
    { timeout: 10_000 });
  const recording = await page.evaluate(() => ({
    detail: document.getElementById('recording-detail').textContent,
    disk: document.getElementById('recording-disk').textContent,
  }));
  assert.match(recording.detail, /^event tech-test, run 1 · /, `the tile names the event and run (${recording.detail})`);
  assert.match(recording.disk, /^free on the disk: [\d.]+ GB/, `the tile shows the free space (${recording.disk})`);
  await page.click('#recording-stop');
  await page.waitForFunction(() => document.getElementById('recording-state').textContent === 'stopped (operator)',
    null, { timeout: 10_000 });
  assert.ok(fs.existsSync(path.join(recordings, 'tech-test', 'journal.jsonl')), `the recording went to ${recordings}`);
  console.log('recording tile', await recordingText());
  // A dashboard opened later starts with the history the relay kept.
  const later = await browser.newPage();
  await later.goto(`${relay.base}/tech#token=${TOKEN}`, { waitUntil: 'load' });
  await later.waitForFunction(() => window.techDashboard && window.techDashboard.points() > 0, null, { timeout: 15_000 });
  const history = await later.evaluate(() => window.techDashboard.chartPoints());
  assert.ok(history >= 5, `a dashboard opened later starts with the relay's history (${history} points)`);
  assert.deepEqual(foreign, [], 'nothing loaded from another host');
  assert.deepEqual(consoleErrors, [], 'no console errors');
  console.log('browser test passed; screenshot', path.join(args.out, 'tech.png'));
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close();
  await stopRelay(relay);
  fs.rmSync(recordings, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
