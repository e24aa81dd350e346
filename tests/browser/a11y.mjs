// What the accessibility tests share: the pages and their tokens (one table, to
// be extended when a page is added), the relay settings that configure those
// tokens, a question put on stage through the Q&A API (as test_qa.mjs does it
// through the pages), and axe-core, injected into a page from node_modules (the
// relay never serves it) and run at the WCAG 2.1 A/AA tags.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LIGHT_LADDER } from './relay.mjs';

export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// Every page the relay serves. `file`: the page's source in web/; a page whose
// file is not in this tree (/captioner comes with the captions branch) is left
// out and said so, never skipped silently once it exists. `tokenSetting`: the
// config key that lists the page's staff tokens (null: the attendee page has
// none); `signedIn`: the element that shows once the page took the token.
export const PAGES = [
  { name: 'attendee', path: '/', file: 'index.html', tokenSetting: null, token: null, signedIn: '#qa-list' },
  { name: 'moderator', path: '/moderator', file: 'moderator.html', tokenSetting: 'qa.moderator_tokens',
    token: 'moderator-token-a11y-0123456789ab', signedIn: '#workspace:not([hidden])' },
  { name: 'speaker', path: '/speaker', file: 'speaker.html', tokenSetting: 'qa.speaker_tokens',
    token: 'speaker-token-a11y-0123456789abcd', signedIn: '#monitor:not([hidden])' },
  { name: 'tech', path: '/tech', file: 'tech.html', tokenSetting: 'qa.technician_tokens',
    token: 'technician-token-a11y-0123456789', signedIn: '#dashboard:not([hidden])' },
  { name: 'captioner', path: '/captioner', file: 'captioner.html', tokenSetting: 'qa.captioner_tokens',
    token: 'captioner-token-a11y-0123456789a', signedIn: '#desk:not([hidden])' },
  // The recordings ask for the event code (not a staff token): `settings` turn them on with it.
  { name: 'vod', path: '/vod/', file: 'vod.html', tokenSetting: null,
    settings: ['vod.enabled=true', 'vod.event_code="vod-code-a11y-2026"'],
    token: 'vod-code-a11y-2026', signedIn: '#recordings:not([hidden])' },
];

// Browser language and colour scheme go together, so both schemes are audited
// without doubling the runs: German in dark, English in light.
export const LOCALES = [
  { locale: 'de-DE', colorScheme: 'dark', lang: 'de' },
  { locale: 'en-US', colorScheme: 'light', lang: 'en' },
];

export function pagesIn(sourceDir) {
  const present = [];
  for (const page of PAGES) {
    if (existsSync(path.join(sourceDir, 'web', page.file))) present.push(page);
    else console.log(`${page.path}: web/${page.file} is not in this tree; not audited`);
  }
  return present;
}

export function relaySettings(pages) {
  const settings = [...LIGHT_LADDER];
  for (const page of pages) {
    if (page.tokenSetting) settings.push(`${page.tokenSetting}=["${page.token}"]`);
    if (page.settings) settings.push(...page.settings);
  }
  settings.push('captions.languages=[{code="de",name="Deutsch"},{code="en",name="English"}]');
  // Live rewind on, so the player's rewind controls are audited too (they show
  // once the window reaches back 20 s).
  settings.push('hls.dvr_window_s=60');
  return settings;
}

export function moderatorToken() {
  return PAGES.find((p) => p.name === 'moderator').token;
}

async function call(base, method, apiPath, token, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(base + apiPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const parsed = await response.json();
  if (!response.ok) throw new Error(`${method} ${apiPath}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

// An attendee asks `text`; the moderator approves it and, with `action`, stars
// it or puts it on stage. Returns the question.
export async function question(base, text, action) {
  const attendee = await call(base, 'POST', '/api/qa/attendees', null, { name: 'Test' });
  const asked = await call(base, 'POST', '/api/qa/rooms/current/questions', attendee.token, { text });
  let result = await call(base, 'POST', `/api/qa/questions/${asked.id}/approve`, moderatorToken());
  if (action) result = await call(base, 'POST', `/api/qa/questions/${asked.id}/${action}`, moderatorToken());
  return result;
}

export function axeSource(sourceDir) {
  const require = createRequire(path.resolve(sourceDir, 'package.json'));
  return readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
}

// axe-core's findings at the WCAG 2.1 A/AA tags, one line per failing element.
// page.evaluate runs outside the page's Content-Security-Policy, which would
// refuse an inline <script>.
export async function audit(page, source) {
  await page.evaluate(source);
  const result = await page.evaluate(async (tags) => {
    // Colours mid-transition (a button just pressed) are not the ones the page settles on.
    await Promise.all(document.getAnimations().filter((a) => a instanceof CSSTransition).map((a) => a.finished.catch(() => {})));
    const run = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return {
      violations: run.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
      })),
      incomplete: run.incomplete.map((v) => v.id),
      passes: run.passes.length,
    };
  }, WCAG_TAGS);
  const lines = [];
  for (const v of result.violations) {
    for (const node of v.nodes) {
      lines.push(`${v.id} (${v.impact}): ${v.help}\n    target: ${node.target}\n    ${node.summary.replace(/\n/g, '\n    ')}\n    ${v.helpUrl}`);
    }
  }
  return { lines, incomplete: result.incomplete, passes: result.passes };
}

// The shipped config plus what the pages' caption and audio controls act on:
// an interpretation track (a test tone) beside the floor sound. Captions come
// with relaySettings(). Returns the path of the config file written.
export function trackedConfig(sourceDir) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'a11y-'));
  const file = path.join(dir, 'relay.toml');
  let text = readFileSync(path.join(sourceDir, 'config', 'relay.toml'), 'utf8').replaceAll('"../', `"${sourceDir}/`);
  text = text.replace('floor_audio_name = "Floor"', 'floor_audio_name = "Deutsch (Saal)"')
    .replace('floor_audio_language = ""', 'floor_audio_language = "de"');
  text += '\n[[audio]]\nname = "English (interpretation)"\nlanguage = "en"\nsource = "test:"\n';
  text += programmeToml(Date.now());
  writeFileSync(file, text);
  return file;
}

// Two talks around `nowMs` (whole minutes, UTC), for the programme's parts of
// the pages: the agenda, the moderator's Start/End, the speaker's slot clock.
export const PROGRAMME_TALKS = [
  { id: 'welcome', title: 'Begrüßung / Welcome', speakers: ['Jörg Müller'], from: -10, to: 20 },
  { id: 'access', title: 'Barrierefreiheit / Accessibility', speakers: ['Ada Lovelace', 'Grace Hopper'], from: 20, to: 50 },
];

export function programmeToml(nowMs) {
  const minute = Math.floor(nowMs / 60000) * 60000;
  const at = (m) => new Date(minute + m * 60000).toISOString().replace('.000Z', 'Z');
  return PROGRAMME_TALKS.map((t) => `\n[[programme.talks]]\nid = "${t.id}"\ntitle = "${t.title}"\n` +
    `speakers = [${t.speakers.map((n) => `"${n}"`).join(', ')}]\nstart = "${at(t.from)}"\nend = "${at(t.to)}"\n`).join('');
}

// The moderator puts `talk` on stage through the programme API.
export async function startTalk(base, talk) {
  return call(base, 'POST', `/api/programme/${talk}/start`, moderatorToken());
}
