// Interpreter audio in Debian's chromium: hls.js on the attendee page lists the
// floor sound (its own audio rendition once [[audio]] tracks exist) and two
// [[audio]] tracks by name; choosing an interpreter track in the player's audio
// menu loads its audio rendition and playback keeps advancing, and switching back to the floor does too,
// with no stall (no 'waiting' after start, no bufferStalledError).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const sourceDir = path.resolve(args['source-dir']);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'interpreter-audio-'));
const config = path.join(tmp, 'relay.toml');
let text = readFileSync(path.join(sourceDir, 'config', 'relay.toml'), 'utf8').replaceAll('"../', `"${sourceDir}/`);
text = text.replace('floor_audio_name = "Floor"', 'floor_audio_name = "Deutsch (Saal)"')
  .replace('floor_audio_language = ""', 'floor_audio_language = "de"');
text += `
[[audio]]
name = "English (interpretation)"
language = "en"
source = "test:"

[[audio]]
name = "Français (interprétation)"
language = "fr"
source = "test:"
`;
writeFileSync(config, text);

const overrides = ['ingest.width=640', 'ingest.height=360', 'encoder.preset=ultrafast',
  'encoder.renditions=[{name="360p",width=640,height=360,bitrate_kbps=800,profile="high"}]'];

// Waits until the video has played `seconds` more than now, failing on a stall.
async function advances(page, seconds, what) {
  const from = await page.evaluate(() => window.relayPlayer.video.currentTime);
  await page.waitForFunction((t) => window.relayPlayer.video.currentTime >= t, from + seconds,
    { timeout: (seconds + 10) * 1000 });
  const w = await page.evaluate(() => ({ ...window.audioWatch }));
  assert.equal(w.hlsStalls, 0, `${what}: no bufferStalledError (${JSON.stringify(w)})`);
  assert.equal(w.stalls, 0, `${what}: no 'waiting' stall (${JSON.stringify(w)})`);
}

async function switchTo(page, id) {
  // As a viewer does it: the player's audio language menu.
  await page.selectOption('#audio-language', String(id));
  try {
    await page.waitForFunction((i) => window.audioWatch.switched.includes(i), id, { timeout: 15_000 });
  } catch (e) {
    const w = await page.evaluate(() => ({ ...window.audioWatch, track: window.relayPlayer.hls.audioTrack,
      time: window.relayPlayer.video.currentTime }));
    throw new Error(`no AUDIO_TRACK_SWITCHED for track ${id}: ${JSON.stringify(w)}`);
  }
}

await runBrowserTest(args, async ({ relay, browser }) => {
  const page = await browser.newPage({ locale: 'en-GB' });
  const audioRequests = [];
  page.on('request', (req) => { if (req.url().includes('/live/audio-')) audioRequests.push(new URL(req.url()).pathname); });
  await page.goto(`${relay.base}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.relayPlayer && window.relayPlayer.hls &&
    window.relayPlayer.hls.audioTracks.length === 3 && window.relayPlayer.video.currentTime > 0, null,
  { timeout: 40_000 });
  await page.evaluate(() => {
    const w = { stalls: 0, hlsStalls: 0, switched: [], errors: [] };
    window.audioWatch = w;
    const { video, hls } = window.relayPlayer;
    video.addEventListener('waiting', () => { w.stalls++; });
    w.events = [];
    hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (_e, data) => { w.switched.push(data.id); });
    for (const name of ['AUDIO_TRACK_SWITCHING', 'AUDIO_TRACK_LOADED', 'BUFFER_FLUSHING', 'BUFFER_FLUSHED']) {
      hls.on(window.Hls.Events[name], (_e, data) => {
        if (w.events.length < 40) w.events.push(`${name}:${data.id ?? data.type ?? ''}@${window.relayPlayer.video.currentTime.toFixed(2)}`);
      });
    }
    hls.on(window.Hls.Events.ERROR, (_e, data) => {
      w.errors.push(data.details + (data.error ? `: ${data.error.message}` : '') + (data.sourceBufferName ? ` (${data.sourceBufferName})` : ''));
      if (data.details === 'bufferStalledError') w.hlsStalls++;
    });
  });
  const tracks = await page.evaluate(() => window.relayPlayer.hls.audioTracks.map(
    (t) => ({ name: t.name, lang: t.lang, default: t.default, url: t.url })));
  console.log(JSON.stringify(tracks));
  assert.deepEqual(tracks.map((t) => t.name),
    ['Deutsch (Saal)', 'English (interpretation)', 'Français (interprétation)'], 'the tracks by name');
  assert.deepEqual(tracks.map((t) => t.lang), ['de', 'en', 'fr'], 'their languages');
  assert.equal(await page.evaluate(() => window.relayPlayer.hls.audioTrack), 0, 'the floor sound plays first');
  await advances(page, 3, 'on the floor sound');

  await switchTo(page, 1);
  await advances(page, 6, 'after switching to English');
  assert.ok(audioRequests.some((p) => p.startsWith('/live/audio-1/') && p.endsWith('.m4s')),
    `the English rendition's media is loaded (${audioRequests.slice(0, 5)})`);

  await switchTo(page, 0);
  await advances(page, 6, 'after switching back to the floor');
  await switchTo(page, 2);
  await advances(page, 4, 'after switching to French');
  await page.screenshot({ path: path.join(args.out, 'interpreter-audio.png') });
  const w = await page.evaluate(() => ({ ...window.audioWatch, fatal: window.relayPlayer.fatalErrors.length }));
  console.log(JSON.stringify(w));
  assert.equal(w.fatal, 0, 'no fatal hls.js error');
  console.log('interpreter audio browser test passed');
}, overrides, { config });
