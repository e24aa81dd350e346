// The Q&A pages in Debian's chromium, each in its own browser context: an attendee
// asks (the question is marked pending on their page), the moderator approves it
// on /moderator, the attendee sees it published, the moderator pushes it to the
// speaker, /speaker shows it in large type and the attendee's panel shows it on
// stage. The question is `<img src=x onerror=alert(1)>`: every page must show it
// as literal text, and no dialog, script error or request for "x" may happen.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, launchChromium, loadPlaywright, parseArgs, startRelay, stopRelay } from './relay.mjs';

const MODERATOR = 'moderator-token-0123456789abcdef';
const SPEAKER = 'speaker-token-0123456789abcdef';
const PAYLOAD = '<img src=x onerror=alert(1)>';

const args = parseArgs(process.argv);
const playwright = loadPlaywright(args['source-dir']);
const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-qa-browser-'));
const relay = await startRelay(args, [
  ...LIGHT_LADDER, `qa.data_dir=${dataDir}`, `qa.moderator_tokens=["${MODERATOR}"]`, `qa.speaker_tokens=["${SPEAKER}"]`,
]);
let browser;
let failed = false;
try {
  browser = await launchChromium(playwright);
  const problems = [];

  async function open(label, url, locale) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    page.on('dialog', async (dialog) => {
      problems.push(`${label}: a ${dialog.type()} dialog opened: ${dialog.message()}`);
      await dialog.dismiss();
    });
    page.on('pageerror', (err) => problems.push(`${label}: page error ${err}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`${label}: console error ${msg.text()}`); });
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.pathname === '/x' || url.pathname.endsWith('/x')) problems.push(`${label}: requested ${req.url()}`);
      if (!req.url().startsWith(relay.base) && !req.url().startsWith('data:') && !req.url().startsWith('blob:')) {
        problems.push(`${label}: third-party request ${req.url()}`);
      }
    });
    await page.goto(url, { waitUntil: 'load' });
    return page;
  }

  const attendee = await open('attendee', `${relay.base}/`, 'de-DE');
  const moderator = await open('moderator', `${relay.base}/moderator#token=${MODERATOR}`, 'en-US');
  const speaker = await open('speaker', `${relay.base}/speaker#token=${SPEAKER}`, 'en-US');

  assert.equal(await moderator.evaluate(() => location.hash), '', 'the token is taken out of the address bar');
  await attendee.waitForFunction(() => window.relayQa && window.relayQa.feed && window.relayQa.identity, null,
    { timeout: 20_000 });
  assert.equal(await attendee.textContent('#qa-title'), 'Fragen', 'a German browser gets the German panel');

  // Ask.
  await attendee.fill('#qa-text', PAYLOAD);
  await attendee.click('#qa-submit');
  const own = attendee.locator('#qa-list li[data-state="pending"]');
  await own.waitFor({ timeout: 10_000 });
  assert.equal(await own.locator('.qa-text').textContent(), PAYLOAD, 'the attendee sees the question as text');
  assert.equal(await own.locator('.qa-badge--pending').textContent(), 'Wartet auf Freigabe',
    'the own pending question is marked as pending');

  // Approve on /moderator.
  const queued = moderator.locator('#queue li[data-state="pending"]');
  await queued.waitFor({ timeout: 10_000 });
  assert.equal(await queued.locator('.qa-text').textContent(), PAYLOAD, 'the moderator sees the question as text');
  await queued.locator('button[data-action="approve"]').click();

  await attendee.locator('#qa-list li[data-state="approved"]').waitFor({ timeout: 10_000 });

  // Push to the speaker.
  await moderator.click('button[data-filter="published"]');
  const published = moderator.locator('#queue li[data-state="approved"]');
  await published.waitFor({ timeout: 10_000 });
  await published.locator('button[data-action="stage"]').click();

  await speaker.waitForFunction((text) => document.getElementById('stage-text').textContent === text, PAYLOAD,
    { timeout: 10_000 });
  assert.ok(await speaker.isHidden('#idle'), 'the speaker page no longer says nothing is on stage');
  // The attendee page may hold the stage change back by the video's latency.
  await attendee.waitForFunction((text) => document.getElementById('qa-stage-text').textContent === text, PAYLOAD,
    { timeout: 30_000 });
  await moderator.locator('#queue li[data-state="on_stage"]').waitFor({ timeout: 10_000 });

  for (const [label, page] of [['attendee', attendee], ['moderator', moderator], ['speaker', speaker]]) {
    const injected = await page.evaluate(() => document.querySelectorAll('main img, #qa img').length);
    assert.equal(injected, 0, `${label}: no <img> element was created from the question`);
    await page.screenshot({ path: path.join(args.out, `qa-${label}.png`), fullPage: true });
  }
  await attendee.waitForTimeout(1000);  // an onerror handler would have run by now
  assert.deepEqual(problems, [], 'no dialog, script error, request for x or third-party request on any page');
  console.log('browser Q&A test passed; screenshots in', args.out);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close();
  await stopRelay(relay);
}
process.exit(failed ? 1 : 0);
