// The Q&A pages in Debian's chromium, each in its own browser context: an attendee
// asks (the question is marked pending on their page), the moderator approves it
// on /moderator with the A key (and rejects another attendee's with R), the
// attendee sees it published, the moderator pushes it to the speaker, /speaker
// shows it in large type and the attendee's panel shows it on stage. The question is `<img src=x onerror=alert(1)>`: every page must show it
// as literal text, and no dialog, script error or request for "x" may happen.
// The attendee pages watch without an identity until their first question, and
// the other attendee deletes their rejected question with its delete button.
// Then the other attendee asks once more and the relay's answer is lost (the
// page sees a 503 with Retry-After: 1 instead): the text stays in the box, the
// page says it retries, sends the same Idempotency-Key again, and the question
// exists exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
  const minted = [];  // the pages that asked for an attendee identity, in order

  async function open(label, url, locale) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    page.on('dialog', async (dialog) => {
      problems.push(`${label}: a ${dialog.type()} dialog opened: ${dialog.message()}`);
      await dialog.dismiss();
    });
    page.on('pageerror', (err) => problems.push(`${label}: page error ${err}`));
    page.on('console', (msg) => {
      // Chromium logs the 503 this test makes up as a failed resource load.
      if (msg.type() === 'error' && !msg.text().includes('status of 503')) {
        problems.push(`${label}: console error ${msg.text()}`);
      }
    });
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.pathname === '/api/qa/attendees' && req.method() === 'POST') minted.push(label);
      if (url.pathname === '/x' || url.pathname.endsWith('/x')) problems.push(`${label}: requested ${req.url()}`);
      if (!req.url().startsWith(relay.base) && !req.url().startsWith('data:') && !req.url().startsWith('blob:')) {
        problems.push(`${label}: third-party request ${req.url()}`);
      }
    });
    await page.goto(url, { waitUntil: 'load' });
    return page;
  }

  const attendee = await open('attendee', `${relay.base}/`, 'de-DE');
  const other = await open('other attendee', `${relay.base}/`, 'en-GB');
  const moderator = await open('moderator', `${relay.base}/moderator#token=${MODERATOR}`, 'en-US');
  const speaker = await open('speaker', `${relay.base}/speaker#token=${SPEAKER}`, 'en-US');

  assert.equal(await moderator.evaluate(() => location.hash), '', 'the token is taken out of the address bar');
  await attendee.waitForFunction(() => window.relayQa && window.relayQa.feed, null, { timeout: 20_000 });
  await attendee.waitForFunction(() => document.getElementById('qa-status').hidden, null,
    { timeout: 20_000 });
  assert.equal(await attendee.evaluate(() => window.relayQa.identity), null, 'watching needs no identity');
  assert.deepEqual(minted, [], 'opening the page asks for no identity');
  assert.equal(await attendee.textContent('#qa-title'), 'Fragen', 'a German browser gets the German panel');

  // Ask.
  await attendee.fill('#qa-text', PAYLOAD);
  await attendee.click('#qa-submit');
  const own = attendee.locator('#qa-list li[data-state="pending"]');
  await own.waitFor({ timeout: 10_000 });
  assert.deepEqual(minted, ['attendee'], 'the first question asks for an identity');
  assert.ok(await attendee.evaluate(() => window.relayQa.identity && window.relayQa.identity.token),
    'the attendee has an identity after asking');
  assert.equal(await own.locator('.qa-text').textContent(), PAYLOAD, 'the attendee sees the question as text');
  assert.equal(await own.locator('.qa-badge--pending').textContent(), 'Wartet auf Freigabe',
    'the own pending question is marked as pending');

  await other.waitForFunction(() => window.relayQa && window.relayQa.feed, null, { timeout: 20_000 });
  await other.fill('#qa-text', 'Spam, spam, spam');
  await other.click('#qa-submit');
  await other.locator('#qa-list li[data-state="pending"]').waitFor({ timeout: 10_000 });

  // On /moderator, by keys: the oldest pending question is selected; A approves it
  // and the selection moves on to the next, which R rejects.
  const queued = moderator.locator('#queue li[data-state="pending"]');
  await moderator.waitForFunction(() => document.querySelectorAll('#queue li[data-state="pending"]').length === 2,
    null, { timeout: 10_000 });
  const selected = moderator.locator('#queue li[aria-current="true"]');
  assert.equal(await selected.locator('.qa-text').textContent(), PAYLOAD, 'the moderator sees the question as text');
  await moderator.keyboard.press('a');
  await moderator.waitForFunction(() => document.querySelectorAll('#queue li[data-state="pending"]').length === 1,
    null, { timeout: 10_000 });
  assert.equal(await selected.locator('.qa-text').textContent(), 'Spam, spam, spam', 'the selection moved on');
  await moderator.keyboard.press('r');
  await queued.waitFor({ state: 'detached', timeout: 10_000 });

  await attendee.locator('#qa-list li[data-state="approved"]').waitFor({ timeout: 10_000 });
  await other.locator('#qa-list li[data-state="rejected"] .qa-badge--rejected').waitFor({ timeout: 10_000 });
  assert.equal(await other.textContent('#qa-list li[data-state="rejected"] .qa-badge--rejected'), 'Not published',
    'the author of a rejected question sees it as not published');
  assert.equal(await attendee.locator('#qa-list li').count(), 1, "nobody else sees someone's rejected question");
  assert.equal(await attendee.locator('#qa-list li .qa-delete').count(), 1, 'the own question has a delete button');

  // The other attendee deletes their rejected question; the moderator's page drops it too.
  // The first press asks to confirm, the second deletes.
  await other.click('#qa-list li[data-state="rejected"] .qa-delete');
  assert.equal(await other.textContent('#qa-list li[data-state="rejected"] .qa-delete'), 'Really delete?',
    'the delete button asks to confirm');
  await other.click('#qa-list li[data-state="rejected"] .qa-delete');
  await other.locator('#qa-list li[data-state="rejected"]').waitFor({ state: 'detached', timeout: 10_000 });
  await moderator.waitForFunction(
    () => !window.relayModerator.questions.list().some((q) => q.text === 'Spam, spam, spam'), null, { timeout: 10_000 });

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

  // A lost answer: the relay makes the question, the page gets a 503 instead.
  const RETRIED = 'Does a retry after a lost answer make a second question?';
  const keys = [];
  let firstStatus = null;
  let secondArrived;
  const secondSeen = new Promise((resolve) => { secondArrived = resolve; });
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  await other.route('**/api/qa/rooms/*/questions', async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    keys.push(route.request().headers()['idempotency-key']);
    if (keys.length === 1) {
      firstStatus = (await route.fetch()).status();
      return route.fulfill({
        status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ error: 'database_unavailable' }),
      });
    }
    // Held until the test has seen the page waiting, then sent as it is.
    secondArrived();
    await released;
    return route.continue();
  });
  await other.fill('#qa-text', RETRIED);
  await other.click('#qa-submit');
  await other.waitForFunction(() => document.getElementById('qa-message').textContent.includes('Trying again in 1 s'),
    null, { timeout: 10_000 });
  assert.equal(await other.inputValue('#qa-text'), RETRIED, 'the text stays in the box while the page retries');
  await secondSeen;
  release();
  await other.waitForFunction(() => document.getElementById('qa-text').value === '', null, { timeout: 10_000 });
  assert.equal(await other.textContent('#qa-message'), 'Sent. Your question appears once a moderator approves it.',
    'the retry got the first answer');
  assert.equal(firstStatus, 201, 'the first attempt made the question');
  assert.equal(keys.length, 2, 'one retry');
  assert.match(keys[0], /^[A-Za-z0-9_-]{1,64}$/, 'the page sends a well-formed Idempotency-Key');
  assert.equal(keys[1], keys[0], 'the retry sends the same key');
  await other.unroute('**/api/qa/rooms/*/questions');
  const listed = await (await fetch(`${relay.base}/api/qa/rooms/current/questions`,
    { headers: { Authorization: `Bearer ${MODERATOR}` } })).json();
  assert.equal(listed.items.filter((q) => q.text === RETRIED).length, 1, 'the question exists once on the relay');
  assert.equal(await other.locator('#qa-list li .qa-text', { hasText: RETRIED }).count(), 1,
    'the page shows it once');

  for (const [label, page] of [['attendee', attendee], ['other', other], ['moderator', moderator], ['speaker', speaker]]) {
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
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
