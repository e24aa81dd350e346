// The hall uplink in Debian's chromium: a hall relay on `test:` pushes its ladder
// to a cloud relay (ingest.source = "push:"); the attendee page (hls.js, LL-HLS)
// plays the CLOUD relay; the hall relay is stopped (SIGSTOP) for 5 s and
// continued; playback goes on with no fatal hls.js error.
import assert from 'node:assert/strict';
import path from 'node:path';
import { LIGHT_LADDER, freePort, parseArgs, runBrowserTest, startRelay, stopRelay } from './relay.mjs';
import { watchPlayback } from './watch.mjs';

const TOKEN = 'uplink-browser-token-0123456789abcdef';
const WATCH_S = 30;
const STOP_AT_S = 8;
const STOP_S = 5;

const args = parseArgs(process.argv);
const cloudPort = await freePort();
const hall = await startRelay(args, [...LIGHT_LADDER, 'ingest.source=test:',
  `uplink.url=http://127.0.0.1:${cloudPort}/ingest`, `uplink.token=${TOKEN}`, 'uplink.timeout_s=1']);

await runBrowserTest(args, async ({ relay, browser }) => {
  const page = await browser.newPage({ locale: 'en-GB' });
  const times = [];
  const r = await watchPlayback(page, relay.base, WATCH_S, {
    onSample: (i) => {
      if (i === STOP_AT_S) hall.proc.kill('SIGSTOP');
      if (i === STOP_AT_S + STOP_S) hall.proc.kill('SIGCONT');
      times[i] = page.evaluate(() => window.relayPlayer.video.currentTime);
    },
  });
  await page.screenshot({ path: path.join(args.out, 'uplink-player.png') });
  const resumedAt = await times[STOP_AT_S + STOP_S];
  const stoppedAt = await times[STOP_AT_S];
  console.log(JSON.stringify({
    stalls: r.stalls, stallSeconds: r.stallSeconds, hlsStalls: r.hlsStalls, fatal: r.fatal,
    stoppedAt, resumedAt, end: r.currentTime,
  }));
  assert.deepEqual(r.fatal, [], 'no fatal hls.js error across the hall relay\'s stop');
  // After the hall continued, the cloud's stream plays on: most of the remaining time is played.
  const remaining = WATCH_S - 1 - (STOP_AT_S + STOP_S);
  assert.ok(r.currentTime - resumedAt > remaining / 2,
    `playback continued after the hall relay came back (${resumedAt} -> ${r.currentTime} in ${remaining} s)`);
  console.log('uplink browser test passed');
}, [...LIGHT_LADDER, 'ingest.source=push:', `ingest.push_tokens=["${TOKEN}"]`], {
  port: cloudPort,
  cleanup: async () => { hall.proc.kill('SIGCONT'); await stopRelay(hall); },
});
