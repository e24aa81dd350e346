// Glass-to-glass latency as the attendee page measures it (now − hls.playingDate,
// PDT being the capture wall clock), with LL-HLS on and then off, side by side.
// Run through scripts/bench-latency.sh.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, loadPlaywright, startRelay, stopRelay, LIGHT_LADDER } from '../tests/browser/relay.mjs';
import { percentile, watchPlayback } from '../tests/browser/watch.mjs';

const sourceDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binary = process.env.RELAY_BINARY || path.join(sourceDir, 'build', 'seminar-relay');
const seconds = Number(process.env.BENCH_SECONDS || 120);
const light = process.env.BENCH_LIGHT === '1';
const partOverride = process.env.BENCH_PART_S ? [`hls.part_duration_s=${process.env.BENCH_PART_S}`] : [];
const skipRegular = process.env.BENCH_SKIP_REGULAR === '1';
const playwright = loadPlaywright(sourceDir);

async function run(label, overrides) {
  const relay = await startRelay({ binary, 'source-dir': sourceDir }, [...(light ? LIGHT_LADDER : []), ...overrides]);
  const browser = await launchChromium(playwright);
  try {
    const page = await browser.newPage();
    const r = await watchPlayback(page, relay.base, seconds);
    return {
      label,
      p50: percentile(r.latencies, 50),
      p95: percentile(r.latencies, 95),
      stalls: r.stalls,
      stallSeconds: r.stallSeconds,
      switches: r.switches,
      fatal: r.fatal.length,
      blocking: r.playlistQueries.filter((q) => q.includes('_HLS_msn=')).length,
    };
  } finally {
    await browser.close();
    await stopRelay(relay);
  }
}

const results = [];
results.push(await run(`LL-HLS (parts ${process.env.BENCH_PART_S || 'default'} s)`,
  ['hls.low_latency=true', ...partOverride]));
if (!skipRegular) results.push(await run('regular HLS (2 s segments)', ['hls.low_latency=false']));

const fmt = (v, d = 2) => (v === null || v === undefined ? '-' : Number(v).toFixed(d));
console.log(`\nlatency = now - hls.playingDate, sampled every second for ${seconds} s` +
  `${light ? ' (light ladder)' : ' (default ladder)'}`);
console.log('mode                         p50 s   p95 s   stalls  stalled s  switches  blocking reqs');
for (const r of results) {
  console.log(`${r.label.padEnd(28)} ${fmt(r.p50).padStart(6)}  ${fmt(r.p95).padStart(6)}  ${String(r.stalls).padStart(6)}` +
    `  ${fmt(r.stallSeconds).padStart(9)}  ${String(r.switches).padStart(8)}  ${String(r.blocking).padStart(13)}`);
}
if (results.length > 1 && results[0].p50 && results[1].p50) {
  console.log(`LL-HLS p50 is ${fmt(results[1].p50 / results[0].p50, 1)}x lower than regular HLS`);
}
