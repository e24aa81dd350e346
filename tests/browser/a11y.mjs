// What the accessibility tests share: the pages and their tokens (one table, to
// be extended when a page is added), the relay settings that configure those
// tokens, a question put on stage through the Q&A API (as test_qa.mjs does it
// through the pages), and axe-core, injected into a page from node_modules (the
// relay never serves it) and run at the WCAG 2.1 A/AA tags.
import { existsSync, readFileSync } from 'node:fs';
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
  for (const page of pages) if (page.tokenSetting) settings.push(`${page.tokenSetting}=["${page.token}"]`);
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

// Until the relay itself lists subtitles and interpreter audio (the captions
// and audio branches, with [captions] languages and [[audio]] set), the test
// gives the player stand-ins: the master as the relay serves it plus what it
// lacks of
// - two WebVTT subtitle renditions (German, English) that follow the 180p
//   playlist's segments with empty WebVTT files, and
// - an audio group of the floor sound (in the video, the default) and an
//   "English (interpretation)" rendition that is the 180p playlist (whose sound
//   is the floor's too).
// That is enough for hls.js to list the tracks and switch between them, which is
// what the player's caption and audio controls act on; the tracks' content is
// tested with the captions and the audio. Returns what was added.
export async function tracksStandIn(context, base) {
  const master = await (await fetch(`${base}/live/master.m3u8`)).text();
  const added = { subtitles: !master.includes('TYPE=SUBTITLES'), audio: !master.includes('TYPE=AUDIO') };
  if (!added.subtitles && !added.audio) return added;
  await context.route(`${base}/live/master.m3u8`, async (route) => {
    const response = await route.fetch();
    const groups = (added.subtitles ? ',SUBTITLES="subs"' : '') + (added.audio ? ',AUDIO="aud"' : '');
    const lines = (await response.text()).split('\n').map((line) =>
      line.startsWith('#EXT-X-STREAM-INF:') ? line + groups : line);
    const at = lines.findIndex((line) => line.startsWith('#EXT-X-STREAM-INF:'));
    const media = [];
    if (added.subtitles) {
      media.push(
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Deutsch",LANGUAGE="de",AUTOSELECT=YES,DEFAULT=NO,URI="/test-captions/de.m3u8"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",AUTOSELECT=YES,DEFAULT=NO,URI="/test-captions/en.m3u8"');
    }
    if (added.audio) {
      media.push(
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Deutsch (Saal)",LANGUAGE="de",DEFAULT=YES,AUTOSELECT=YES',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English (interpretation)",LANGUAGE="en",AUTOSELECT=YES,URI="180p/index.m3u8"');
    }
    lines.splice(at, 0, ...media);
    await route.fulfill({ response, body: lines.join('\n') });
  });
  if (!added.subtitles) return added;
  await context.route(`${base}/test-captions/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith('.vtt')) {
      return route.fulfill({ contentType: 'text/vtt', body: 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n' });
    }
    const language = path.basename(url.pathname, '.m3u8');
    const video = await (await fetch(`${base}/live/180p/index.m3u8`)).text();
    const out = [];
    for (const line of video.split('\n')) {
      if (/^#EXT(M3U|-X-VERSION|-X-TARGETDURATION|-X-MEDIA-SEQUENCE|-X-PROGRAM-DATE-TIME|INF)/.test(line)) out.push(line);
      else if (line && !line.startsWith('#')) out.push(`/test-captions/${language}/${line.replace(/\.m4s$/, '.vtt')}`);
    }
    return route.fulfill({ contentType: 'application/vnd.apple.mpegurl', body: out.join('\n') + '\n' });
  });
  return added;
}
