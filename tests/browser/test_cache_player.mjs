// hls.js through Varnish: the attendee page, loaded from a Varnish node with the
// shipped configuration (deploy/varnish) in front of the relay, plays LL-HLS for
// 60 s with no stall after start, with blocking playlist requests (LL engaged)
// answered by Varnish (X-Cache on them). The same page loaded from the relay
// itself plays at the same time in another tab; the latency the cache adds is
// p50 of the page's latency (capture time from EXT-X-PROGRAM-DATE-TIME to now,
// on the browser's one clock) through Varnish minus p50 direct, sampled each
// second over the same 60 s.
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseArgs, runBrowserTest } from './relay.mjs';
import { startVarnish, stopVarnish, varnishCounters } from './varnish.mjs';
import { percentile, watchPlayback } from './watch.mjs';

const args = parseArgs(process.argv);
const seconds = Number(process.env.LL_TEST_SECONDS || 60);
await runBrowserTest(args, async ({ relay, browser }) => {
  const varnish = await startVarnish(args['source-dir'], relay.port);
  try {
    const cached = await browser.newPage({ locale: 'en-GB' });
    const direct = await browser.newPage({ locale: 'en-GB' });
    const cacheStatus = {};
    cached.on('response', (res) => {
      if (res.url().includes('/index.m3u8')) {
        const s = res.headers()['x-cache'] || 'none';
        cacheStatus[s] = (cacheStatus[s] || 0) + 1;
      }
    });
    const [c, d] = await Promise.all([
      watchPlayback(cached, varnish.base, seconds),
      watchPlayback(direct, relay.base, seconds),
    ]);
    await cached.screenshot({ path: path.join(args.out, 'cache-player.png') });
    const blocking = c.playlistQueries.filter((q) => q.includes('_HLS_msn=') && q.includes('_HLS_part='));
    const p50c = percentile(c.latencies, 50);
    const p50d = percentile(d.latencies, 50);
    console.log(JSON.stringify({
      throughVarnish: { stalls: c.stalls, stallSeconds: c.stallSeconds, hlsStalls: c.hlsStalls, p50: p50c,
        p95: percentile(c.latencies, 95), blocking: blocking.length, fatal: c.fatal },
      direct: { stalls: d.stalls, p50: p50d, p95: percentile(d.latencies, 95), fatal: d.fatal },
      playlistXCache: cacheStatus, varnishstat: varnishCounters(varnish),
    }));
    console.log(`latency added by the cache: p50 ${(p50c - p50d).toFixed(3)} s `
      + `(through Varnish ${p50c.toFixed(3)} s, direct ${p50d.toFixed(3)} s)`);
    assert.deepEqual(c.fatal, [], 'no fatal hls.js error through Varnish');
    assert.equal(c.stalls, 0, `no stall after start through Varnish (${c.stallSeconds.toFixed(2)} s stalled)`);
    assert.ok(blocking.length >= seconds, `LL engaged through Varnish: ${blocking.length} blocking part requests`);
    assert.ok(!cacheStatus.none && (cacheStatus.MISS || 0) + (cacheStatus.HIT || 0) >= seconds,
      `every playlist came through Varnish: X-Cache ${JSON.stringify(cacheStatus)}`);
    assert.ok(p50c < 5, `LL latency through Varnish, not regular HLS: p50 ${p50c}`);
    console.log('cache browser test passed');
  } finally {
    await stopVarnish(varnish);
  }
});
