// The programme on the pages, in Debian's chromium, in Europe/Berlin (not the
// relay's UTC), German then English:
// - the attendee page lists the three talks of the config with their planned
//   times in the browser's zone, nothing on stage and the first talk next;
// - the moderator starts the first talk with its Start button; the attendee page
//   then shows it as the current talk (from its poll) and the second as next,
//   and the agenda marks it "now";
// - the speaker page shows its title and a countdown of the slot that decreases;
// - "Next talk" moves on twice, a third time says there is no further talk (409);
// - in English the labels are English; a talk whose planned end has passed
//   (changed by the admin API) shows on the speaker page as +mm:ss "over time".
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIGHT_LADDER, parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const MODERATOR = 'moderator-token-programme-0123456';
const SPEAKER = 'speaker-token-programme-01234567';
const ADMIN = 'admin-token-programme-0123456789ab';
const ZONE = 'Europe/Berlin';

// Whole minutes, so the planned times read the same at any second of the run.
const now = Math.floor(Date.now() / 60000) * 60000;
const at = (minutes) => new Date(now + minutes * 60000).toISOString().replace('.000Z', 'Z');
const TALKS = [
  { id: 'opening', title: 'Eröffnung', speakers: ['Jörg Müller', 'Ada Lovelace'], start: -10, end: 20 },
  { id: 'codecs', title: 'Codecs', speakers: ['Grace Hopper'], start: 20, end: 40 },
  { id: 'panel', title: 'Panel', speakers: [], start: 40, end: 60 },
];

const sourceDir = path.resolve(args['source-dir']);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'programme-pages-'));
const config = path.join(tmp, 'relay.toml');
let text = readFileSync(path.join(sourceDir, 'config', 'relay.toml'), 'utf8').replaceAll('"../', `"${sourceDir}/`);
for (const talk of TALKS) {
  text += `\n[[programme.talks]]\nid = "${talk.id}"\ntitle = "${talk.title}"\n` +
    `speakers = [${talk.speakers.map((s) => `"${s}"`).join(', ')}]\nstart = "${at(talk.start)}"\nend = "${at(talk.end)}"\n`;
}
writeFileSync(config, text);

const overrides = [...LIGHT_LADDER, `qa.moderator_tokens=["${MODERATOR}"]`, `qa.speaker_tokens=["${SPEAKER}"]`,
  `qa.admin_tokens=["${ADMIN}"]`];

function berlin(locale, minutes) {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', timeZone: ZONE }).format(new Date(now + minutes * 60000));
}
function utcClock(locale, minutes) {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }).format(new Date(now + minutes * 60000));
}

// "mm:ss" or "+mm:ss" as seconds (negative for an overrun).
function seconds(clock) {
  const m = /^(\+?)(\d+):(\d\d)$/.exec(clock);
  assert.ok(m, `a countdown as mm:ss: "${clock}"`);
  const value = Number(m[2]) * 60 + Number(m[3]);
  return m[1] ? -value : value;
}

await runBrowserTest(args, async ({ relay, browser }) => {
  const errors = [];
  async function open(context, page, name) {
    const tab = await context.newPage();
    tab.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
    await tab.goto(relay.base + page);
    return tab;
  }

  // ---- German ----
  const de = await browser.newContext({ locale: 'de-DE', timezoneId: ZONE });
  const attendee = await open(de, '/', 'attendee');
  await attendee.waitForSelector('#programme:not([hidden])', { timeout: 15_000 });
  assert.equal(await attendee.textContent('#programme-title'), 'Programm');
  assert.equal(await attendee.textContent('#programme-current'), 'Gerade kein Vortrag');
  assert.match(await attendee.textContent('#programme-next'), /^Eröffnung – mit Jörg Müller, Ada Lovelace/);
  await attendee.click('#agenda summary');
  await attendee.waitForSelector('#agenda-list .agenda-item >> nth=2', { state: 'visible' });
  const slots = await attendee.$$eval('#agenda-list .agenda-slot', (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(slots, TALKS.map((t) => `${berlin('de-DE', t.start)}–${berlin('de-DE', t.end)}`),
    'the agenda shows the planned times in the browser\'s zone');
  assert.notEqual(berlin('de-DE', 0), utcClock('de-DE', 0), 'the zone is not the relay\'s UTC');
  console.log(`agenda in ${ZONE}: ${slots.join(', ')}`);

  const moderator = await open(de, `/moderator#token=${MODERATOR}`, 'moderator');
  await moderator.waitForSelector('#programme-panel:not([hidden]) [data-id="opening"] [data-action="programme-start"]');
  assert.equal(await moderator.getAttribute('[data-id="opening"] [data-action="programme-start"]', 'aria-label'), '„Eröffnung“ starten');
  await moderator.click('[data-id="opening"] [data-action="programme-start"]');
  await moderator.waitForFunction(() => document.getElementById('programme-message').textContent.includes('Eröffnung'));
  assert.match(await moderator.textContent('#programme-message'), /„Eröffnung“ läuft/);
  assert.equal(await moderator.getAttribute('#agenda-list [data-id="opening"]', 'data-state'), 'now');
  assert.ok(await moderator.isVisible('[data-id="opening"] [data-action="programme-end"]'), 'the talk on stage has an End button');
  // The talk's Q&A room is current, and the moderator's queue follows to it.
  await moderator.waitForFunction(() => {
    const option = document.getElementById('room-select').selectedOptions[0];
    return option && option.textContent.includes('Eröffnung');
  }, null, { timeout: 10_000 });

  // The attendee page learns it from its poll.
  const started = Date.now();
  await attendee.waitForFunction(() => document.getElementById('programme-current').textContent.startsWith('Eröffnung'), null, { timeout: 15_000 });
  console.log(`attendee page showed the started talk after ${Date.now() - started} ms`);
  assert.match(await attendee.textContent('#programme-next'), /^Codecs – mit Grace Hopper/);
  assert.equal(await attendee.textContent('#agenda-list [data-id="opening"] .agenda-mark'), 'läuft');
  assert.equal(await attendee.textContent('#agenda-list [data-id="codecs"] .agenda-mark'), 'als Nächstes');

  const speaker = await open(de, `/speaker#token=${SPEAKER}`, 'speaker');
  await speaker.waitForSelector('#talk:not([hidden])', { timeout: 15_000 });
  assert.equal(await speaker.textContent('#talk-title'), 'Eröffnung');
  assert.equal(await speaker.textContent('#slot-label'), 'Verbleibende Zeit');
  const first = seconds(await speaker.textContent('#slot-left'));
  const planned = (now + 20 * 60000 - Date.now()) / 1000;
  assert.ok(Math.abs(first - planned) < 5, `time left ${first} s, the slot ends in ${planned.toFixed(0)} s`);
  await speaker.waitForFunction((before) => {
    const m = /^(\d+):(\d\d)$/.exec(document.getElementById('slot-left').textContent);
    return m && Number(m[1]) * 60 + Number(m[2]) < before;
  }, first, { timeout: 5_000 });
  assert.ok(await speaker.isHidden('#slot-over'), 'no overrun yet');
  assert.equal(await speaker.getAttribute('#slot', 'data-overrun'), 'false');
  const inTime = await speaker.$eval('#slot-left', (n) => getComputedStyle(n).color);
  await attendee.screenshot({ path: path.join(args.out, 'programme-attendee-de.png'), fullPage: true });
  await moderator.screenshot({ path: path.join(args.out, 'programme-moderator-de.png'), fullPage: true });
  await speaker.screenshot({ path: path.join(args.out, 'programme-speaker-de.png') });

  // "Next talk" twice, then nothing is next: a 409 said in words.
  for (const id of ['codecs', 'panel']) {
    await moderator.click('#programme-next');
    await moderator.waitForFunction((talk) => document.querySelector(`#agenda-list [data-id="${talk}"]`).dataset.state === 'now', id);
  }
  assert.equal(await moderator.getAttribute('#agenda-list [data-id="opening"]', 'data-state'), 'done');
  await moderator.click('#programme-next');
  await moderator.waitForFunction(() => document.getElementById('programme-message').textContent === 'Es gibt keinen weiteren Vortrag.');
  await speaker.waitForFunction(() => document.getElementById('talk-title').textContent === 'Panel', null, { timeout: 15_000 });
  await de.close();

  // ---- English; the panel's slot moved into the past: an overrun ----
  const changed = await fetch(`${relay.base}/api/programme/panel`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ start: at(-40), end: at(-20) }),
  });
  assert.equal(changed.status, 200, `the admin moves the panel: ${await changed.text()}`);
  const en = await browser.newContext({ locale: 'en-US', timezoneId: ZONE });
  const attendeeEn = await open(en, '/', 'attendee (en)');
  await attendeeEn.waitForFunction(() => document.getElementById('programme-current').textContent.startsWith('Panel'), null, { timeout: 15_000 });
  assert.equal(await attendeeEn.textContent('#programme-title'), 'Programme');
  assert.equal(await attendeeEn.textContent('#programme-next'), 'No further talk');
  assert.equal(await attendeeEn.textContent('#agenda summary'), 'Whole agenda');
  const first12 = await attendeeEn.textContent('#agenda-list [data-id="panel"] .agenda-slot');
  assert.equal(first12, `${berlin('en-US', -40)}–${berlin('en-US', -20)}`, 'English times in the browser\'s zone');
  assert.equal(await attendeeEn.textContent('#agenda-list [data-id="panel"] .agenda-mark'), 'now');

  const moderatorEn = await open(en, `/moderator#token=${MODERATOR}`, 'moderator (en)');
  await moderatorEn.waitForSelector('#programme-panel:not([hidden]) [data-id="panel"] [data-action="programme-end"]');
  assert.equal(await moderatorEn.textContent('#programme-next'), 'Next talk');
  assert.equal(await moderatorEn.getAttribute('[data-id="panel"] [data-action="programme-end"]', 'aria-label'), 'End “Panel”');

  const speakerEn = await open(en, `/speaker#token=${SPEAKER}`, 'speaker (en)');
  await speakerEn.waitForFunction(() => document.getElementById('slot').dataset.overrun === 'true', null, { timeout: 15_000 });
  assert.equal(await speakerEn.textContent('#slot-label'), 'Time left');
  assert.equal(await speakerEn.textContent('#slot-over'), 'over time');
  assert.ok(await speakerEn.isVisible('#slot-over'), 'the overrun is said in words, not colour alone');
  const over = seconds(await speakerEn.textContent('#slot-left'));
  assert.ok(over <= -20 * 60 + 5 && over > -22 * 60, `the overrun counts from the planned end: ${over} s`);
  const overColour = await speakerEn.$eval('#slot-left', (n) => getComputedStyle(n).color);
  assert.notEqual(overColour, inTime, 'the overrun also changes colour');
  await speakerEn.screenshot({ path: path.join(args.out, 'programme-speaker-en-overrun.png') });

  // The moderator ends it; the attendee page then has nothing on stage.
  await moderatorEn.click('[data-id="panel"] [data-action="programme-end"]');
  await moderatorEn.waitForFunction(() => document.getElementById('programme-message').textContent === '“Panel” has ended.');
  await attendeeEn.waitForFunction(() => document.getElementById('programme-current').textContent === 'No talk right now', null, { timeout: 15_000 });
  await en.close();
  assert.deepEqual(errors, [], 'no script error on the pages');
  console.log('programme pages test passed');
}, overrides, { config });
