// Watches the attendee page play: samples hls.js latency, counts stalls (video
// 'waiting' after playback started, and hls.js buffer-stall errors), rendition
// switches, and the playlist requests' query strings. Shared by the LL browser
// test and scripts/bench-latency.sh.
export async function watchPlayback(page, base, seconds, { onSample } = {}) {
  const playlistQueries = [];
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith(base) && url.includes('/index.m3u8')) playlistQueries.push(new URL(url).search);
  });
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.relayPlayer && window.relayPlayer.video.currentTime > 0, null,
    { timeout: 30_000 });
  await page.evaluate(() => {
    const w = { stalls: 0, stallStart: null, stallSeconds: 0, switches: 0, hlsStalls: 0 };
    window.relayWatch = w;
    const { video, hls } = window.relayPlayer;
    video.addEventListener('waiting', () => { w.stalls++; w.stallStart = performance.now(); });
    video.addEventListener('playing', () => {
      if (w.stallStart !== null) w.stallSeconds += (performance.now() - w.stallStart) / 1000;
      w.stallStart = null;
    });
    if (hls) {
      hls.on(window.Hls.Events.LEVEL_SWITCHED, () => { w.switches++; });
      hls.on(window.Hls.Events.ERROR, (_e, data) => { if (data.details === 'bufferStalledError') w.hlsStalls++; });
    }
  });
  const latencies = [];
  for (let i = 0; i < seconds; i++) {
    await page.waitForTimeout(1000);
    const l = await page.evaluate(() => window.relayPlayer.latency());
    if (l !== null) latencies.push(l);
    if (onSample) onSample(i, l);
  }
  const watch = await page.evaluate(() => ({
    ...window.relayWatch,
    currentTime: window.relayPlayer.video.currentTime,
    fatal: window.relayPlayer.fatalErrors.map((e) => String(e.details || e)),
  }));
  return { latencies, playlistQueries, ...watch };
}

export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
