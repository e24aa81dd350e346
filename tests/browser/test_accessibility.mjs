// axe-core in Debian's chromium on every page (the table in a11y.mjs) in German
// and English, in the main states one after the other on the same tabs:
//   1. signed out (staff pages show their sign-in form; the attendee watches
//      without an identity),
//   2. signed in (the staff token typed into the form and sent with Enter; the
//      attendee has asked a question and sees it waiting for review),
//   3. a question on stage and another shortlisted (through the Q&A API),
//   4. captions on: captions turned on, the audio language list shown and the
//      caption style panel open (the relay runs with German and English captions
//      and an interpretation track, see a11y.mjs),
//   5. a talk on stage: the attendee's agenda open and the rewind controls
//      shown (the relay keeps a 60 s window), the moderator's programme panel
//      with Start/End, the speaker's slot clock.
// Each audit must find no violation at the WCAG 2.1 A/AA tags; a failure prints
// every violation with its target and help URL. Every page must name its
// language in <html lang> and have a title. Screenshots go to --out.
import assert from 'node:assert/strict';
import path from 'node:path';
import { LOCALES, PAGES, audit, axeSource, pagesIn, question, relaySettings, startTalk, trackedConfig } from './a11y.mjs';
import { parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const pages = pagesIn(args['source-dir']);
const source = axeSource(args['source-dir']);
const captionerToken = PAGES.find((p) => p.name === 'captioner').token;

await runBrowserTest(args, async ({ relay, browser }) => {
  const started = Date.now();
  const violations = [];
  const pageErrors = [];
  let audits = 0;

  async function check(tab, label) {
    const found = await audit(tab, source);
    audits += 1;
    console.log(`${((Date.now() - started) / 1000).toFixed(1)} s ${label}: ${found.lines.length} violations, ${found.passes} rules passed` +
      (found.incomplete.length ? `; for a person to review: ${found.incomplete.join(', ')}` : ''));
    if (found.lines.length) {
      violations.push(`${label}:\n  ${found.lines.join('\n  ')}`);
      console.log(`  ${found.lines.join('\n  ')}`);
    }
  }

  // One tab per page and language, kept through the states.
  const tabs = [];
  for (const setting of LOCALES) {
    const context = await browser.newContext({ locale: setting.locale, colorScheme: setting.colorScheme,
      viewport: { width: 1280, height: 800 } });
    for (const page of pages) {
      const tab = await context.newPage();
      tab.on('pageerror', (err) => pageErrors.push(`${page.path} ${setting.locale}: ${err}`));
      tabs.push({ page, setting, tab, label: `${page.path} ${setting.locale} ${setting.colorScheme}` });
    }
  }

  // 1. Signed out.
  await Promise.all(tabs.map(async ({ page, tab }) => {
    await tab.goto(relay.base + page.path, { waitUntil: 'load' });
    if (page.token) {
      await tab.waitForSelector('#signin:not([hidden])', { timeout: 15_000 });
    } else {
      await tab.waitForFunction(() => window.relayQa && window.relayQa.feed &&
        document.getElementById('qa-status').hidden && window.relayPlayer.hls && window.relayPlayer.hls.levels.length > 0,
      null, { timeout: 20_000 });
    }
  }));
  for (const { tab, setting, label } of tabs) {
    const named = await tab.evaluate(() => ({ lang: document.documentElement.lang, title: document.title }));
    assert.equal(named.lang, setting.lang, `${label}: <html lang> names the page's language`);
    assert.ok(named.title.length > 0, `${label}: the page has a title`);
    await check(tab, `${label}, signed out`);
  }

  // 2. Signed in: staff type their token, the attendee asks.
  await Promise.all(tabs.map(async ({ page, tab, setting }) => {
    if (page.token) {
      await tab.fill('#signin-token', page.token);
      await tab.press('#signin-token', 'Enter');
      await tab.waitForSelector(page.signedIn, { state: 'attached', timeout: 15_000 });
    } else {
      await tab.fill('#qa-text', `Eine Frage aus ${setting.locale}: wird es Untertitel geben?`);
      await tab.click('#qa-submit');
      await tab.waitForSelector('#qa-list li[data-state="pending"] .qa-delete', { timeout: 15_000 });
    }
  }));
  for (const { tab, label } of tabs) await check(tab, `${label}, signed in`);

  // 3. A question on stage, another shortlisted: every page shows them.
  const staged = await question(relay.base, 'Wie barrierefrei ist der Stream? / How accessible is the stream?', 'stage');
  await question(relay.base, 'Gibt es eine Gebärdensprachdolmetschung? / Is there sign language?', 'star');
  await Promise.all(tabs.map(async ({ page, tab }) => {
    if (page.name === 'attendee') {
      await tab.waitForFunction((text) => document.getElementById('qa-stage-text').textContent === text, staged.text,
        { timeout: 30_000 });
    } else if (page.name === 'speaker') {
      await tab.waitForFunction((text) => document.getElementById('stage-text').textContent === text, staged.text,
        { timeout: 15_000 });
    } else if (page.name === 'moderator') {
      await tab.click('button[data-filter="published"]');
      await tab.waitForSelector('#queue li[data-state="on_stage"]', { timeout: 15_000 });
    }
  }));
  for (const { tab, label } of tabs) await check(tab, `${label}, question on stage`);

  // 4. Captions on: the caption style panel open, captions on when the stream has them.
  for (const { page, tab, setting, label } of tabs) {
    if (page.name === 'attendee') {
      assert.ok(await tab.isVisible('#captions-toggle'), `${label}: the caption controls show`);
      assert.ok(await tab.isVisible('#audio-language'), `${label}: the audio language shows`);
      if (await tab.getAttribute('#captions-toggle', 'aria-pressed') !== 'true') await tab.click('#captions-toggle');
      await tab.waitForFunction(() => window.relayPlayer.currentCaptionTrack() >= 0);
      await tab.click('#settings-button');
      await tab.waitForSelector('#settings-menu:not([hidden])');
      await tab.evaluate(() => Promise.all(document.getAnimations().map((a) => a instanceof CSSTransition ? a.finished : null)));
      await check(tab, `${label}, captions on`);
      // The player as a viewer sees it: a live caption on the picture and the
      // audio language list opened out (headless Chromium draws no open
      // dropdown, so the list is shown at its full height instead).
      const text = setting.lang === 'de' ? 'Willkommen zum Seminar' : 'Welcome to the seminar';
      const language = await tab.evaluate(() => window.relayPlayer.captionTracks()[window.relayPlayer.currentCaptionTrack()].lang);
      const posted = await fetch(`${relay.base}/api/captions/${language}`, {
        method: 'POST', headers: { Authorization: `Bearer ${captionerToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ text, duration_s: 30 }),
      });
      assert.equal(posted.status, 201, `${label}: the caption is taken`);
      await tab.waitForFunction((t) => [...window.relayPlayer.video.textTracks].some((track) =>
        track.mode === 'showing' && track.activeCues && [...track.activeCues].some((cue) => cue.text === t)), text,
      { timeout: 20_000 });
      await tab.evaluate(() => {
        const list = document.getElementById('audio-language');
        list.size = list.options.length;
        list.focus();
      });
      await tab.screenshot({ path: path.join(args.out, `player-captions-audio-menu-${setting.lang}.png`) });
      await tab.evaluate(() => { document.getElementById('audio-language').removeAttribute('size'); });
    }
    await tab.screenshot({ path: path.join(args.out, `a11y-${page.name}-${setting.lang}.png`), fullPage: true });
  }

  // 5. A talk on stage: the programme on every page that shows it.
  await startTalk(relay.base, 'welcome');
  await Promise.all(tabs.map(async ({ page, tab }) => {
    if (page.name === 'attendee') {
      await tab.click('#agenda summary');
      await tab.waitForSelector('#agenda-list .agenda-item[data-state="now"]', { state: 'visible', timeout: 15_000 });
      await tab.waitForSelector('#dvr:not([hidden])', { timeout: 30_000 });
    } else if (page.name === 'moderator') {
      await tab.waitForSelector('#programme-panel [data-action="programme-end"]', { timeout: 15_000 });
    } else if (page.name === 'speaker') {
      await tab.waitForSelector('#talk:not([hidden]) #slot:not([hidden])', { timeout: 15_000 });
    }
  }));
  for (const { page, tab, setting, label } of tabs) {
    if (!['attendee', 'moderator', 'speaker'].includes(page.name)) continue;
    await check(tab, `${label}, a talk on stage`);
    await tab.screenshot({ path: path.join(args.out, `a11y-${page.name}-programme-${setting.lang}.png`), fullPage: true });
  }

  const seconds = (Date.now() - started) / 1000;
  console.log(`${audits} audits of ${pages.length} pages in ${LOCALES.length} languages, ${seconds.toFixed(1)} s`);
  assert.deepEqual(pageErrors, [], 'no script error on any page');
  assert.ok(violations.length === 0, `axe-core found violations at ${['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}:\n` +
    violations.join('\n'));
  console.log('accessibility audit passed; screenshots in', args.out);
}, relaySettings(pages), { config: trackedConfig(args['source-dir']) });
