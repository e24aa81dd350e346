// Live captions in Debian's chromium: hls.js in the attendee page (/) finds the
// subtitle tracks of the master, the test turns the German one on and posts
// lines through the API, and measures post → the line among the text track's
// activeCues (several samples); then a captioner signs in on /captioner and
// sends a line with Enter, which shows in the attendee's player and on a second
// captioner's page, and the second captioner takes the floor (both pages show
// it). A screenshot of the player with a caption goes to the test output folder.
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseArgs, runBrowserTest } from './relay.mjs';

const CAPTIONER = 'captioner-token-0123456789abcdef';
const SAMPLES = 5;
const OVERRIDES = [
  'ingest.width=640', 'ingest.height=360', 'encoder.preset=ultrafast',
  'encoder.renditions=[{name="360p",width=640,height=360,bitrate_kbps=800,profile="high"}]',
  'captions.languages=[{code="de",name="Deutsch"},{code="en",name="English"}]',
  `qa.captioner_tokens=["${CAPTIONER}"]`,
  // For measuring the effect of [captions] offset_s by hand; 0 (the default) in CI.
  `captions.offset_s=${process.env.RELAY_CAPTION_OFFSET_S || 0}`,
];

const args = parseArgs(process.argv);
await runBrowserTest(args, async ({ relay, browser }) => {
  const post = async (text, author = 'Messung') => {
    const r = await fetch(`${relay.base}/api/captions/de`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${CAPTIONER}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text, author }),
    });
    assert.equal(r.status, 201, `caption accepted: ${await r.clone().text()}`);
    return r.json();
  };

  const viewer = await browser.newPage({ locale: 'de-DE', viewport: { width: 1100, height: 700 } });
  const consoleErrors = [];
  viewer.on('pageerror', (err) => consoleErrors.push(String(err)));
  await viewer.goto(`${relay.base}/`, { waitUntil: 'load' });
  await viewer.waitForFunction(() => window.relayPlayer && window.relayPlayer.video.currentTime > 0, null,
    { timeout: 30_000 });
  const tracks = await viewer.evaluate(() => window.relayPlayer.hls.subtitleTracks.map((t) => ({ lang: t.lang, name: t.name })));
  console.log('subtitle tracks', JSON.stringify(tracks));
  assert.deepEqual(tracks.map((t) => t.lang), ['de', 'en'], 'hls.js lists both subtitle renditions');

  // Captions on, German; a watcher notes when each line first is an active cue.
  // As a viewer does it: the captions button, then German from the language list.
  await viewer.click('#captions-toggle');
  await viewer.selectOption('#captions-language', String(tracks.findIndex((t) => t.lang === 'de')));
  assert.equal(await viewer.getAttribute('#captions-toggle', 'aria-pressed'), 'true', 'the captions button says on');
  await viewer.evaluate(() => {
    window.captionSeen = {};
    setInterval(() => {
      for (const track of window.relayPlayer.video.textTracks) {
        if (track.mode !== 'showing' || !track.activeCues) continue;
        for (const cue of track.activeCues) if (!(cue.text in window.captionSeen)) window.captionSeen[cue.text] = Date.now();
      }
    }, 20);
  });
  await viewer.waitForFunction(() => [...window.relayPlayer.video.textTracks].some((t) => t.mode === 'showing' && t.language === 'de'),
    null, { timeout: 10_000 });

  const delays = [];
  for (let i = 0; i < SAMPLES; i++) {
    const text = `Probe ${i + 1}: Guten Tag ${Math.random().toString(36).slice(2, 7)}`;
    const sent = Date.now();
    const cue = await post(text);
    await viewer.waitForFunction((t) => t in window.captionSeen, text, { timeout: 15_000 });
    const seen = await viewer.evaluate((t) => window.captionSeen[t], text);
    delays.push(seen - sent);
    console.log(`sample ${i + 1}: post → active cue ${seen - sent} ms (cue starts ${cue.start_ms - sent} ms after the post, ` +
      `player latency ${(await viewer.evaluate(() => window.relayPlayer.latency())).toFixed(2)} s)`);
    if (i === SAMPLES - 1) await viewer.screenshot({ path: path.join(args.out, 'captions.png') });
    // The next line after this one has been read a little.
    await viewer.waitForTimeout(1500);
  }
  const sorted = [...delays].sort((a, b) => a - b);
  console.log(`post → visible: ${delays.join(', ')} ms; median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms`);
  assert.ok(sorted[Math.floor(sorted.length / 2)] < 4000, `a posted caption shows within seconds (median of ${delays})`);

  // Two captioners on /captioner; Anna writes, Ben watches and then takes over.
  const anna = await browser.newPage({ locale: 'de-DE' });
  const ben = await browser.newPage({ locale: 'en-GB' });
  for (const [page, name] of [[anna, 'Anna'], [ben, 'Ben']]) {
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
    await page.goto(`${relay.base}/captioner`, { waitUntil: 'load' });
    await page.fill('#signin-token', CAPTIONER);
    await page.press('#signin-token', 'Enter');
    await page.waitForSelector('#desk:not([hidden])');
    await page.fill('#author', name);
    await page.dispatchEvent('#author', 'change');
    await page.waitForFunction(() => document.getElementById('language').options.length === 2);
  }
  assert.equal(await anna.evaluate(() => document.documentElement.lang), 'de', 'the German captioner gets German');
  assert.equal(await ben.evaluate(() => document.documentElement.lang), 'en', 'the English one English');

  // The API lines above were "Messung"'s: Anna takes over, then writes.
  await anna.click('#take-floor');
  await ben.waitForFunction(() => window.relayCaptioner.floor === 'Anna');
  const line = `Anna schreibt ${Math.random().toString(36).slice(2, 7)}`;
  await anna.fill('#line', line);
  const typed = Date.now();
  await anna.press('#line', 'Enter');
  await viewer.waitForFunction((t) => t in window.captionSeen, line, { timeout: 15_000 });
  const seenAt = await viewer.evaluate((t) => window.captionSeen[t], line);
  console.log(`captioner page Enter → attendee's active cue ${seenAt - typed} ms`);
  await ben.waitForFunction((t) => window.relayCaptioner.lines.some((l) => l.text === t && l.author === 'Anna'), line);
  assert.match(await ben.textContent('#floor'), /Anna is writing/, 'the other captioner sees who writes');

  // A pause sends too (1 s here).
  await anna.fill('#pause', '1');
  const paused = `Pause ${Math.random().toString(36).slice(2, 7)}`;
  await anna.type('#line', paused);
  await ben.waitForFunction((t) => window.relayCaptioner.lines.some((l) => l.text === t), paused, { timeout: 10_000 });

  // Hand-over: Ben takes the floor; Anna's page says so, and Anna's next line is refused.
  await ben.click('#take-floor');
  await anna.waitForFunction(() => window.relayCaptioner.floor === 'Ben');
  assert.match(await anna.textContent('#floor'), /Ben schreibt gerade/, 'hand-over shown on the first screen');
  assert.match(await ben.textContent('#floor'), /You are writing/, 'and on the second');
  await anna.screenshot({ path: path.join(args.out, 'captioner.png'), fullPage: true });
  await anna.fill('#pause', '0');
  await anna.fill('#line', 'nicht dran');
  await anna.press('#line', 'Enter');
  await anna.waitForFunction(() => /Übernehmen/.test(document.getElementById('message').textContent));
  assert.equal(await anna.inputValue('#line'), 'nicht dran', 'a refused line stays in the box');

  assert.deepEqual(consoleErrors, [], 'no page errors');
  console.log('browser test passed; screenshot', path.join(args.out, 'captions.png'));
}, OVERRIDES);
