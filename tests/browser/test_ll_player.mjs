// Low-Latency HLS in Debian's chromium: the attendee page (hls.js, lowLatencyMode)
// plays 60 s with no stall after start, its playlist requests carry _HLS_msn and
// _HLS_part (LL mode really engaged), and the latency it shows is that of LL-HLS.
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseArgs, runBrowserTest } from './relay.mjs';
import { percentile, watchPlayback } from './watch.mjs';

const args = parseArgs(process.argv);
const seconds = Number(process.env.LL_TEST_SECONDS || 60);
await runBrowserTest(args, async ({ relay, browser }) => {
  const page = await browser.newPage({ locale: 'en-GB' });
  const r = await watchPlayback(page, relay.base, seconds);
  await page.screenshot({ path: path.join(args.out, 'll-player.png') });
  const blocking = r.playlistQueries.filter((q) => q.includes('_HLS_msn=') && q.includes('_HLS_part='));
  console.log(JSON.stringify({
    stalls: r.stalls, stallSeconds: r.stallSeconds, hlsStalls: r.hlsStalls, switches: r.switches,
    p50: percentile(r.latencies, 50), p95: percentile(r.latencies, 95),
    playlistRequests: r.playlistQueries.length, blocking: blocking.length, fatal: r.fatal,
  }));
  assert.deepEqual(r.fatal, [], 'no fatal hls.js error');
  assert.equal(r.stalls, 0, `no stall after start (${r.stallSeconds.toFixed(2)} s stalled)`);
  assert.ok(blocking.length >= seconds, `LL engaged: ${blocking.length} blocking part requests in ${seconds} s`);
  // Latency is not a timed assertion (the machine is shared); it only has to be
  // that of a player holding back parts, not whole segments (>= 6 s).
  assert.ok(percentile(r.latencies, 50) < 5, `LL latency, not regular HLS: p50 ${percentile(r.latencies, 50)}`);
  console.log('LL browser test passed');
});
