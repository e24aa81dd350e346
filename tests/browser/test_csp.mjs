// Every page under its Content-Security-Policy in Debian's chromium, with all
// the staff tokens configured (one relay for all): the attendee page plays and
// its Q&A feed goes live, the moderator signs in from a link's #token= (which
// leaves the address bar) and sees a question in the queue, the speaker's feed
// goes live, the technician's dashboard draws its charts and a thumbnail. No
// page reports a CSP violation (a `securitypolicyviolation` listener installed
// before any script, and the console); an inline script injected at the end is
// refused and reported, which shows the policy is in force and the listener hears it.
import assert from 'node:assert/strict';
import { LIGHT_LADDER, parseArgs, runBrowserTest } from './relay.mjs';

const MODERATOR = 'moderator-token-csp-0123456789ab';
const SPEAKER = 'speaker-token-csp-0123456789abcd';
const TECHNICIAN = 'technician-token-csp-0123456789a';

const args = parseArgs(process.argv);
const tokens = [`qa.moderator_tokens=["${MODERATOR}"]`, `qa.speaker_tokens=["${SPEAKER}"]`,
  `qa.technician_tokens=["${TECHNICIAN}"]`];
await runBrowserTest(args, async ({ relay, browser }) => {
  const violations = [];

  async function open(label, path, ready) {
    const context = await browser.newContext({ locale: 'en-GB' });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
      });
    });
    page.on('console', (msg) => {
      if (msg.text().includes('Content Security Policy')) violations.push(`${label}: console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => violations.push(`${label}: page error ${err}`));
    const response = await page.goto(`${relay.base}${path}`, { waitUntil: 'load' });
    const csp = response.headers()['content-security-policy'] || '';
    assert.match(csp, /default-src 'self'/, `${label} is sent with a Content-Security-Policy (${csp})`);
    assert.ok(!csp.includes('unsafe-inline'), `${label}: no 'unsafe-inline'`);
    await page.waitForFunction(ready, null, { timeout: 30_000 });
    return page;
  }

  const attendee = await open('attendee', '/', () => window.relayPlayer && window.relayPlayer.video.currentTime > 0 &&
    window.relayQa && window.relayQa.feed && window.relayQa.feed.seq !== null);

  // A question for the moderator's queue.
  const created = await (await fetch(`${relay.base}/api/qa/attendees`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"Ann"}',
  })).json();
  const asked = await fetch(`${relay.base}/api/qa/rooms/current/questions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${created.token}` },
    body: JSON.stringify({ text: 'Does the policy hold?' }),
  });
  assert.equal(asked.status, 201, 'a question is asked');

  const moderator = await open('moderator', `/moderator#token=${MODERATOR}`,
    () => document.querySelectorAll('#queue li[data-state="pending"]').length === 1);
  assert.ok(!moderator.url().includes(MODERATOR), 'the moderator token leaves the address bar');
  const speaker = await open('speaker', `/speaker?token=${SPEAKER}`,
    () => window.relaySpeaker && window.relaySpeaker.feed && window.relaySpeaker.feed.seq !== null);
  assert.ok(!speaker.url().includes(SPEAKER), 'a token in the query leaves the address bar too');
  const tech = await open('tech', `/tech#token=${TECHNICIAN}`, () => window.techDashboard &&
    window.techDashboard.chartPoints() >= 2 && document.getElementById('thumbnail').naturalWidth > 0);
  assert.equal(await tech.evaluate(() => document.querySelectorAll('#dashboard canvas').length), 4, 'the charts draw');

  const pages = { attendee, moderator, speaker, tech };
  for (const [label, page] of Object.entries(pages)) {
    for (const v of await page.evaluate(() => window.cspViolations)) violations.push(`${label}: ${v}`);
  }
  assert.deepEqual(violations, [], 'no page reports a CSP violation');

  // The control: the policy is in force, and a violation would have been heard.
  const injected = await attendee.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.inlineRan = true;';
    document.body.appendChild(script);
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { ran: window.inlineRan === true, reported: window.cspViolations.length };
  });
  assert.deepEqual(injected, { ran: false, reported: 1 }, 'an inline script is refused and reported');
  console.log('browser test passed: 4 pages, no CSP violation');
}, [...LIGHT_LADDER, ...tokens]);
