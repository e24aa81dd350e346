// Reports how playback goes to the relay every 10 s (POST /api/qoe), so the
// technician sees viewers, their latency and stalls before anyone complains.
// The player's random session id, kept only in this page: no cookie, nothing
// personal; the player's own requests carry it too.
(function () {
  'use strict';
  const REPORT_INTERVAL_MS = 10000;
  const player = window.relayPlayer;
  if (!player || !window.fetch) return;
  const video = player.video;

  const session = player.session;
  let stalls = 0;
  let errors = 0;
  let reportedErrors = player.fatalErrors.length;
  let started = false;

  video.addEventListener('playing', function () { started = true; });
  // "waiting" after playback started is a stall; before it, the start-up; while
  // seeking (a rewind, back to live), the viewer's own choice.
  video.addEventListener('waiting', function () { if (started && !video.seeking) stalls += 1; });

  function bufferAhead() {
    const ranges = video.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) <= video.currentTime && video.currentTime <= ranges.end(i)) {
        return Math.max(0, Math.min(3600, ranges.end(i) - video.currentTime));
      }
    }
    return 0;
  }

  function rendition() {
    const hls = player.hls;
    if (!hls || hls.currentLevel < 0 || !hls.levels[hls.currentLevel]) return '';
    // The variant URI is <rendition>/index.m3u8; its first path element names the rendition.
    const url = hls.levels[hls.currentLevel].url;
    const match = /([a-z0-9_-]+)\/index\.m3u8/i.exec(Array.isArray(url) ? url[0] : url);
    return match ? match[1] : '';
  }

  function report() {
    errors += player.fatalErrors.length - reportedErrors;
    reportedErrors = player.fatalErrors.length;
    // A viewer who rewound is behind live by choice: no latency to report.
    const rewound = window.relayDvr && window.relayDvr.rewound();
    const latency = video.paused || rewound ? null : player.latency();
    const body = {
      session: session,
      latency_s: latency === null || latency < 0 ? null : Math.min(3600, latency),
      buffer_s: bufferAhead(),
      rendition: rendition(),
      stalls: Math.min(1000, stalls),
      errors: Math.min(1000, errors),
    };
    stalls = 0;
    errors = 0;
    fetch('/api/qoe', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      keepalive: true,
    }).catch(function () { /* the next report tries again */ });
  }

  setInterval(report, REPORT_INTERVAL_MS);
})();
