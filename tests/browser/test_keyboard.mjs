// The attendee page by keyboard only, in Debian's chromium:
// - Tab from the top reaches the skip links, play/pause, quality, captions and
//   their language and the audio language (each when the master lists such
//   tracks, and then they must be there), the caption style button, the question
//   box, Ask and a vote button, in that order; every element that takes focus
//   shows it (its outline or box-shadow differs from the unfocused one); Tab
//   comes back round to the first element (no trap).
// - The caption style panel opens with Enter, focus goes into it, Escape closes
//   it and gives focus back to its button; Tab out of the open panel closes it.
// - Play/pause, a vote, captions on/off and their language and the audio
//   language work by key (focus stays on the vote button when the list is
//   redrawn); size, captions and audio language are remembered after a reload.
//   The relay runs with two caption languages and an interpretation track (a11y.mjs).
// - With WCAG 1.4.12 text spacing no control cuts its text off.
// - At 400 % zoom (320 × 256 CSS px) no page scrolls sideways and the controls stay on screen.
// - With prefers-reduced-motion nothing animates or transitions (and without it
//   something does, so the check can fail); prefers-contrast: more thickens borders.
// Screenshots go to --out.
import assert from 'node:assert/strict';
import path from 'node:path';
import { pagesIn, question, relaySettings, trackedConfig } from './a11y.mjs';
import { parseArgs, runBrowserTest } from './relay.mjs';

const args = parseArgs(process.argv);
const pages = pagesIn(args['source-dir']);

async function playerReady(tab) {
  await tab.waitForFunction(() => window.relayPlayer && window.relayPlayer.hls && window.relayPlayer.hls.levels.length > 0 &&
    window.relayQa && window.relayQa.feed && document.querySelector('#qa-list .qa-vote:not([disabled])'),
  null, { timeout: 20_000 });
}

// A name for the focused element that the test can compare, and whether its
// focus can be seen: outline or box-shadow not as it is without focus.
async function focused(tab) {
  return tab.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { name: 'body' };
    const name = el.id ? '#' + el.id : el.classList.contains('qa-vote') ? '.qa-vote'
      : el.dataset.sort ? `[data-sort=${el.dataset.sort}]` : el.classList.contains('skip-link') ? `skip:${el.getAttribute('href')}`
        : el.tagName.toLowerCase() + (el.name ? `[name=${el.name}]` : '');
    const style = getComputedStyle(el);
    const ring = `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor} | ${style.boxShadow}`;
    const before = window.unfocusedRings.get(el);
    const box = el.getBoundingClientRect();
    return {
      name, ring, visible: before !== ring && (style.outlineStyle !== 'none' || style.boxShadow !== 'none'),
      onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0 && box.left < innerWidth,
    };
  });
}

// How each focusable element looks without focus, to compare against.
async function recordRings(tab) {
  await tab.evaluate(() => {
    window.unfocusedRings = new Map();
    for (const el of document.querySelectorAll('a[href], button, input, select, textarea, video, [tabindex]')) {
      const style = getComputedStyle(el);
      window.unfocusedRings.set(el, `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor} | ${style.boxShadow}`);
    }
  });
}

await runBrowserTest(args, async ({ relay, browser }) => {
  const started = Date.now();
  await question(relay.base, 'Can I follow the talk by keyboard?', null);
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
  const tab = await context.newPage();
  await tab.goto(relay.base + '/', { waitUntil: 'load' });
  await playerReady(tab);
  const tracks = await tab.evaluate(() => ({
    captions: window.relayPlayer.captionTracks().length, audio: window.relayPlayer.audioTracks().length,
  }));
  console.log(`the master lists ${tracks.captions} subtitle and ${tracks.audio} audio tracks`);

  // Tab from the top until focus comes back to where it started.
  await recordRings(tab);
  const walk = [];
  const hidden = [];
  for (let i = 0; i < 120; i += 1) {
    await tab.keyboard.press('Tab');
    const now = await focused(tab);
    if (walk.length && now.name === walk[0]) break;
    if (now.name === 'body') continue;  // past the last element, before the first
    walk.push(now.name);
    if (now.name !== '#video' && (!now.visible || !now.onScreen)) hidden.push(`${now.name} (${now.ring})`);
  }
  console.log('tab order:', walk.join(' → '));
  assert.equal(walk[0], 'skip:#player', 'the first Tab reaches the skip link');
  assert.ok(walk.length < 120 && walk.length > 5, `Tab comes back round to the first element (${walk.length} stops)`);
  assert.deepEqual(hidden, [], 'every element that takes focus shows it');

  const expected = ['skip:#player', 'skip:#qa', '#playpause', '#quality'];
  if (tracks.captions > 0) expected.push('#captions-toggle');
  if (tracks.captions > 1) expected.push('#captions-language');
  if (tracks.audio > 1) expected.push('#audio-language');
  expected.push('#settings-button', '#qa-text', '#qa-name', '#qa-submit', '[data-sort=popular]', '.qa-vote');
  const positions = expected.map((name) => walk.indexOf(name));
  for (const [i, name] of expected.entries()) assert.ok(positions[i] >= 0, `focus reaches ${name}`);
  for (let i = 1; i < positions.length; i += 1) {
    assert.ok(positions[i] > positions[i - 1], `${expected[i - 1]} comes before ${expected[i]} in the tab order`);
  }
  for (const absent of ['#captions-toggle', '#audio-language']) {
    if (!expected.includes(absent)) assert.ok(!walk.includes(absent), `${absent} is not reachable without tracks`);
  }

  // A vote by key; the list is rebuilt with the new count and focus stays on the button.
  await tab.focus('#qa-list .qa-vote:not([disabled])');
  await tab.keyboard.press('Enter');
  await tab.waitForSelector('#qa-list .qa-vote[aria-pressed="true"]', { timeout: 10_000 });
  assert.ok(await tab.evaluate(() => document.activeElement.matches('.qa-vote[aria-pressed="true"]')),
    'focus stays on the vote button after the vote');

  // The skip link moves focus to the player.
  await tab.focus('.skip-link[href="#player"]');
  await tab.keyboard.press('Enter');
  assert.equal(await tab.evaluate(() => document.activeElement.id), 'player', 'the skip link takes focus to the player');

  // Play/pause by key.
  await tab.focus('#playpause');
  await tab.keyboard.press('Enter');
  // Paused, the button offers Play; playing again, Pause.
  await tab.waitForFunction(() => window.relayPlayer.video.paused &&
    document.getElementById('playpause-label').textContent === 'Play', null, { timeout: 5_000 });
  await tab.keyboard.press('Space');
  await tab.waitForFunction(() => !window.relayPlayer.video.paused &&
    document.getElementById('playpause-label').textContent === 'Pause', null, { timeout: 10_000 });

  // The caption style panel: Enter opens it with focus inside, Escape closes it back to its button.
  await tab.focus('#settings-button');
  await tab.keyboard.press('Enter');
  assert.equal(await tab.getAttribute('#settings-button', 'aria-expanded'), 'true', 'Enter opens the panel');
  assert.ok(await tab.isVisible('#settings-menu'), 'the panel shows');
  assert.equal(await tab.evaluate(() => document.activeElement.name), 'caption-size', 'focus goes into the panel');
  await tab.keyboard.press('ArrowDown');  // radio buttons move by arrow keys: medium → large
  assert.equal(await tab.evaluate(() => window.relayPlayer.video.dataset.captionSize), 'large', 'arrow keys choose the size');
  await tab.screenshot({ path: path.join(args.out, 'keyboard-caption-style.png') });
  await tab.keyboard.press('Escape');
  assert.ok(await tab.isHidden('#settings-menu'), 'Escape closes the panel');
  assert.equal(await tab.getAttribute('#settings-button', 'aria-expanded'), 'false', 'aria-expanded says closed');
  assert.equal(await tab.evaluate(() => document.activeElement.id), 'settings-button', 'focus is back on the button');
  await tab.keyboard.press('Enter');
  await tab.keyboard.press('Tab');  // to the background radio group
  await tab.keyboard.press('Tab');  // out of the panel
  assert.ok(await tab.isHidden('#settings-menu'), 'leaving the panel by Tab closes it');
  assert.notEqual(await tab.evaluate(() => document.activeElement.name), 'caption-background', 'focus moved on');

  // Captions by key: Space turns them on, the language list switches the track.
  const showing = () => tab.evaluate(() => {
    const shown = Array.from(window.relayPlayer.video.textTracks).filter((t) => t.mode === 'showing');
    return { index: window.relayPlayer.currentCaptionTrack(), showing: shown.map((t) => t.language) };
  });
  if (tracks.captions > 0) {
    assert.equal(await tab.getAttribute('#captions-toggle', 'aria-pressed'), 'false', 'captions start off');
    await tab.focus('#captions-toggle');
    await tab.keyboard.press('Space');
    assert.equal(await tab.getAttribute('#captions-toggle', 'aria-pressed'), 'true', 'Space turns captions on');
    await tab.waitForFunction(() => Array.from(window.relayPlayer.video.textTracks).some((t) => t.mode === 'showing'));
    assert.deepEqual((await showing()).showing, ['en'], 'the English page shows the English track first');
    if (tracks.captions > 1) {
      await tab.focus('#captions-language');
      await tab.selectOption('#captions-language', { label: 'Deutsch' });
      await tab.waitForFunction(() => Array.from(window.relayPlayer.video.textTracks).some((t) => t.mode === 'showing' && t.language === 'de'));
      assert.deepEqual((await showing()).showing, ['de'], 'choosing Deutsch shows the German track only');
    }
    await tab.screenshot({ path: path.join(args.out, 'keyboard-captions-on.png') });
  }

  // The audio language by key: arrow down in the list picks the next track.
  if (tracks.audio > 1) {
    assert.equal(await tab.evaluate(() => window.relayPlayer.currentAudioTrack()), 0, 'the default (floor) track plays first');
    await tab.focus('#audio-language');
    await tab.keyboard.press('ArrowDown');
    await tab.waitForFunction(() => window.relayPlayer.currentAudioTrack() === 1, null, { timeout: 10_000 });
    assert.equal(await tab.evaluate(() => window.relayPlayer.preferences.audioLanguage), 'en', 'the audio language is remembered');
    await tab.screenshot({ path: path.join(args.out, 'keyboard-captions-and-audio.png') });
  }

  // Remembered in this browser: the size and the captions chosen above survive a reload.
  await tab.reload({ waitUntil: 'load' });
  await playerReady(tab);
  assert.equal(await tab.evaluate(() => window.relayPlayer.video.dataset.captionSize), 'large', 'the caption size is remembered');
  assert.ok(await tab.isChecked('#settings-menu input[value="large"]'), 'and shown as chosen');
  if (tracks.captions > 1) {
    await tab.waitForFunction(() => Array.from(window.relayPlayer.video.textTracks).some((t) => t.mode === 'showing'),
      null, { timeout: 10_000 });
    assert.deepEqual((await showing()).showing, ['de'], 'captions come back on, in German, after a reload');
    assert.equal(await tab.getAttribute('#captions-toggle', 'aria-pressed'), 'true', 'and the toggle says so');
    await tab.focus('#captions-toggle');
    await tab.keyboard.press('Enter');
    assert.equal(await tab.getAttribute('#captions-toggle', 'aria-pressed'), 'false', 'Enter turns them off');
    assert.deepEqual((await showing()).showing, [], 'no track shows');
  }
  if (tracks.audio > 1) {
    await tab.waitForFunction(() => window.relayPlayer.currentAudioTrack() === 1, null, { timeout: 10_000 });
    assert.equal(await tab.inputValue('#audio-language'), '1', 'the remembered audio language plays after a reload');
  }

  // Text spacing as WCAG 1.4.12 sets it (line height 1.5, paragraph spacing 2,
  // letter 0.12 and word spacing 0.16 em): no control clips its text and nothing
  // scrolls sideways. A constructed style sheet, which the page's CSP allows.
  const clipped = await tab.evaluate(() => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync('* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }' +
      ' p { margin-bottom: 2em !important; }');
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    const out = [];
    for (const el of document.querySelectorAll('button, select, label, legend, .qa-text, h1, h2, h3')) {
      if (el.offsetParent && !el.matches('.visually-hidden') && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) &&
        getComputedStyle(el).overflow !== 'visible') out.push(el.id || el.textContent.trim().slice(0, 30));
    }
    if (document.scrollingElement.scrollWidth > document.scrollingElement.clientWidth) out.push('the page scrolls sideways');
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
    return out;
  });
  assert.deepEqual(clipped, [], 'with WCAG text spacing no text is cut off');

  // Reduced motion: nothing on the page animates or transitions.
  const durations = () => {
    const moving = [];
    for (const el of document.querySelectorAll('*')) {
      const style = getComputedStyle(el);
      const longest = (list) => Math.max(...list.split(',').map((d) => parseFloat(d) * (d.trim().endsWith('ms') ? 0.001 : 1)));
      const seconds = Math.max(longest(style.transitionDuration), style.animationName === 'none' ? 0 : longest(style.animationDuration));
      if (seconds > 0) moving.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} ${seconds} s`);
    }
    return moving;
  };
  await tab.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  const movingNormally = await tab.evaluate(durations);
  assert.ok(movingNormally.some((m) => m.includes('status-dot')) && movingNormally.some((m) => m.includes('control')),
    `without a preference the live dot pulses and the controls fade (${movingNormally.length} elements move)`);
  await tab.emulateMedia({ reducedMotion: 'reduce' });
  assert.deepEqual(await tab.evaluate(durations), [], 'with prefers-reduced-motion nothing moves');

  // More contrast: full-strength borders.
  const border = () => getComputedStyle(document.getElementById('playpause')).borderTopWidth;
  const normal = await tab.evaluate(border);
  await tab.emulateMedia({ reducedMotion: 'reduce', contrast: 'more' });
  const stronger = await tab.evaluate(border);
  assert.ok(parseFloat(stronger) > parseFloat(normal), `prefers-contrast: more thickens borders (${normal} → ${stronger})`);
  await tab.screenshot({ path: path.join(args.out, 'keyboard-more-contrast.png') });
  await context.close();

  // 400 % zoom: every page at 320 × 256 CSS px, signed in.
  const zoomed = await browser.newContext({ locale: 'de-DE', viewport: { width: 320, height: 256 } });
  for (const page of pages) {
    const view = await zoomed.newPage();
    await view.goto(relay.base + page.path + (page.token ? `#token=${page.token}` : ''), { waitUntil: 'load' });
    if (page.token) await view.waitForSelector(page.signedIn, { state: 'attached', timeout: 15_000 });
    else await playerReady(view);
    if (page.name === 'tech') await view.waitForFunction(() => window.techDashboard.points() > 0, null, { timeout: 15_000 });
    const layout = await view.evaluate(() => ({
      scrollWidth: document.scrollingElement.scrollWidth, clientWidth: document.scrollingElement.clientWidth,
    }));
    assert.ok(layout.scrollWidth <= layout.clientWidth,
      `${page.path} at 400 %: no horizontal scroll (${layout.scrollWidth} > ${layout.clientWidth} px)`);
    if (page.name === 'attendee') {
      for (const selector of ['#playpause', '#quality', '#settings-button', '#qa-text', '#qa-submit', '.qa-vote']) {
        const element = view.locator(selector).first();
        await element.scrollIntoViewIfNeeded();
        const box = await element.boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 320 && box.width > 0,
          `${selector} stays on screen at 400 % (${JSON.stringify(box)})`);
      }
      await view.evaluate(() => window.scrollTo(0, 0));
    }
    await view.screenshot({ path: path.join(args.out, `zoom400-${page.name}.png`), fullPage: true });
  }
  console.log(`keyboard, zoom and motion test passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in`, args.out);
}, relaySettings(pages), { config: trackedConfig(args['source-dir']) });

