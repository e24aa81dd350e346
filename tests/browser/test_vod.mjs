// The recordings page in Debian's chromium: a relay recording `test:` with two
// short talks marked by the moderator (1 s segments, light ladder), VOD behind
// an event code. The page asks for the code, then lists both talks; a talk
// plays (currentTime advances); the whole event's chapter list seeks to the
// second talk (currentTime jumps into its chapter). German and English: the
// headings follow the browser's language. Screenshots go to --out.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const MODERATOR = 'moderator-token-vod-0123456789abc';
const CODE = 'browser-code-2026';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vod-browser-'));
const EVENT = 'browser-event';

function config() {
  const now = Date.now();
  const at = (minutes) => new Date(now + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let text = readFileSync(path.join(args['source-dir'], 'config', 'relay.toml'), 'utf8')
    .replaceAll('"../', `"${path.resolve(args['source-dir'])}/`);
  text += `
[[programme.talks]]
id = "first"
title = "Erster Vortrag / First talk"
speakers = ["Ada Lovelace"]
start = "${at(0)}"
end = "${at(10)}"

[[programme.talks]]
id = "second"
title = "Zweiter Vortrag / Second talk"
speakers = ["Grace Hopper"]
start = "${at(10)}"
end = "${at(20)}"
`;
  const file = path.join(tmp, 'relay.toml');
  writeFileSync(file, text);
  return file;
}

const settings = [...LIGHT_LADDER, 'hls.segment_duration_s=1', 'hls.part_duration_s=0.2', 'hls.live_window=8',
  `qa.moderator_tokens=["${MODERATOR}"]`, 'recording.enabled=true', `recording.dir=${path.join(tmp, 'rec')}`,
  `recording.event=${EVENT}`, 'vod.enabled=true', `vod.event_code="${CODE}"`];

async function mark(base, talk, action) {
  const r = await fetch(`${base}/api/programme/${talk}/${action}`,
    { method: 'POST', headers: { Authorization: `Bearer ${MODERATOR}` } });
  assert.equal(r.status, 200, `${talk} ${action}: ${r.status}`);
}

function segments() {
  try {
    return readFileSync(path.join(tmp, 'rec', EVENT, 'journal.jsonl'), 'utf8').split('\n')
      .filter((l) => l.includes('"type":"segment"') && l.includes('"rendition":"360p"')).length;
  } catch { return 0; }
}

async function waitSegments(more) {
  const target = segments() + more;
  const deadline = Date.now() + 30_000;
  while (segments() < target) {
    if (Date.now() > deadline) throw new Error(`fewer than ${more} more segments recorded in 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

await runBrowserTest(args, async ({ relay, browser }) => {
  const started = Date.now();
  await waitSegments(1);
  for (const talk of ['first', 'second']) {
    await mark(relay.base, talk, 'start');
    await waitSegments(5);
    await mark(relay.base, talk, 'end');
  }
  await waitSegments(1);
  // Both talks available (the relay re-reads a growing journal at most every 2 s).
  const session = await fetch(`${relay.base}/api/vod/session`, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: CODE }) });
  const cookie = session.headers.get('set-cookie').split(';')[0];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listing = await (await fetch(`${relay.base}/api/vod`, { headers: { Cookie: cookie } })).json();
    const event = (listing.events || []).find((e) => e.id === EVENT);
    if (event && event.talks.length === 2 && event.talks.every((t) => t.state === 'available')) break;
    if (Date.now() > deadline) throw new Error(`talks not available: ${JSON.stringify(listing)}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  for (const [locale, heading] of [['de-DE', 'Aufzeichnungen'], ['en-US', 'Recordings']]) {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${relay.base}/vod/`, { waitUntil: 'load' });
    assert.equal(await page.textContent('h1'), heading, `${locale}: the page's heading`);
    await page.waitForSelector('#signin:not([hidden])', { timeout: 10_000 });
    await page.fill('#signin-token', 'wrong-code-123');
    await page.press('#signin-token', 'Enter');
    await page.waitForFunction(() => document.getElementById('signin-message').textContent.length > 0);
    await page.fill('#signin-token', CODE);
    await page.press('#signin-token', 'Enter');
    await page.waitForSelector('#recordings:not([hidden]) li[data-talk="second"]', { timeout: 15_000 });
    const titles = await page.$$eval('.vod-talk h4', (hs) => hs.map((h) => h.textContent));
    assert.deepEqual(titles, ['Erster Vortrag / First talk', 'Zweiter Vortrag / Second talk'], `${locale}: talks listed`);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'relay_vod');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', `${locale}: the session cookie`);

    if (locale === 'en-US') {
      // A talk plays.
      await page.click('li[data-talk="first"] .vod-play');
      await page.waitForFunction(() => {
        const v = document.querySelector('li[data-talk="first"] video');
        return v && v.currentTime > 1.5;
      }, null, { timeout: 20_000 });
      await page.evaluate(() => document.querySelector('li[data-talk="first"] video').pause());

      // The whole event: the chapter button of the second talk seeks into its chapter.
      const chapter = await page.$eval('.vod-chapter[data-talk="second"]', (b) => Number(b.dataset.start));
      await page.click('.vod-chapter[data-talk="second"]');
      await page.waitForFunction((start) => {
        const v = document.querySelector('.vod-event-video');
        return v && v.currentTime >= start - 0.5 && v.currentTime < start + 6 && !v.paused;
      }, chapter, { timeout: 20_000 });
      const at = await page.$eval('.vod-event-video', (v) => v.currentTime);
      console.log(`whole event: chapter "second" at ${chapter} s, the player at ${at.toFixed(2)} s`);
      await page.screenshot({ path: path.join(args.out, 'vod-page-en.png'), fullPage: true });
    } else {
      await page.screenshot({ path: path.join(args.out, 'vod-page-de.png'), fullPage: true });
    }
    assert.deepEqual(errors, [], `${locale}: no script errors`);
    await context.close();
  }
  console.log(`vod page test passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, settings, { config: config() });
