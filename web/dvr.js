// Live rewind in the attendee player: jump back 30 s or 10 s, a slider over the
// window the relay keeps (hls.dvr_window_s), where live is, "Back to live", and
// the chapter marks of past talks. The controls show only when the playlist
// reaches back far enough to make rewinding worth it; with the DVR off (the
// live window alone, a few segments) they stay hidden.
(function () {
  'use strict';

  const UPDATE_MS = 500;
  // Below this much window there is nothing worth a rewind control.
  const MIN_WINDOW_S = 20;
  // Within this many seconds of hls.js's live sync position the player counts as live.
  const LIVE_SLACK_S = 3;
  // A seek never goes to the very first seconds of the window: they leave the playlist next.
  const START_MARGIN_S = 2;

  const MESSAGES = {
    de: {
      rewind: 'Zurückspulen',
      back30: '−30 s – 30 Sekunden zurück',
      back10: '−10 s – 10 Sekunden zurück',
      position: 'Position in der Übertragung',
      live: 'LIVE',
      behind: '−{time}',
      behindLong: '{time} hinter live',
      atLive: 'live',
      backToLive: 'Zurück zu live',
      chapters: 'Kapitel',
      chapter: 'Kapitel: {title}, ab {time}',
    },
    en: {
      rewind: 'Rewind',
      back30: '−30 s – 30 seconds back',
      back10: '−10 s – 10 seconds back',
      position: 'Position in the stream',
      live: 'LIVE',
      behind: '−{time}',
      behindLong: '{time} behind live',
      atLive: 'live',
      backToLive: 'Back to live',
      chapters: 'Chapters',
      chapter: 'Chapter: {title}, from {time}',
    },
  };

  const player = window.relayPlayer;
  const box = document.getElementById('dvr');
  if (!player || !box) return;
  const video = player.video;
  const lang = window.RelayProgramme ? window.RelayProgramme.lang : 'en';
  function t(key, params) {
    let text = MESSAGES[lang][key] || MESSAGES.en[key] || key;
    for (const [name, value] of Object.entries(params || {})) text = text.split('{' + name + '}').join(String(value));
    return text;
  }
  // data-dvr-* rather than data-i18n: player.js has translated its own by now.
  for (const element of box.querySelectorAll('[data-dvr-i18n]')) element.textContent = t(element.dataset.dvrI18n);
  for (const element of box.querySelectorAll('[data-dvr-label]')) element.setAttribute('aria-label', t(element.dataset.dvrLabel));
  box.setAttribute('aria-label', t('rewind'));

  const slider = document.getElementById('dvr-seek');
  const liveState = document.getElementById('dvr-live-state');
  const chapterList = document.getElementById('dvr-chapters');
  let dragging = false;
  // Behind live by the viewer's choice (a rewind), until back at live; the QoE
  // report then leaves out the latency, which is not the stream's.
  let rewound = false;
  let programme = window.relayAgenda ? window.relayAgenda.doc : null;

  function levelDetails(hls) {
    const index = hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel;
    const level = hls.levels && hls.levels[index];
    const details = level && level.details;
    return details && details.live && details.fragments.length ? details : null;
  }

  // The seekable window in media time: { start, end } where end is where a
  // low-latency player sits (hls.js's live sync position, the edge less the
  // target latency), or null before the first playlist.
  function range() {
    if (player.hls) {
      const details = levelDetails(player.hls);
      if (!details) return null;
      const live = player.hls.liveSyncPosition;
      return { start: details.fragmentStart, end: live !== null && live !== undefined ? live : details.edge, details: details };
    }
    // The browser's own HLS (Safari) says what is seekable; live sits a few seconds from its end.
    if (!video.seekable || !video.seekable.length) return null;
    const last = video.seekable.length - 1;
    return { start: video.seekable.start(last), end: Math.max(video.seekable.start(last), video.seekable.end(last) - LIVE_SLACK_S), details: null };
  }

  function behind(r) {
    return Math.max(0, r.end - video.currentTime);
  }

  function atLive(r) {
    return !video.paused && behind(r) <= LIVE_SLACK_S;
  }

  function clock(seconds) {
    const whole = Math.round(seconds);
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = String(whole % 60).padStart(2, '0');
    return h ? h + ':' + String(m).padStart(2, '0') + ':' + s : m + ':' + s;
  }

  function seekTo(position) {
    const r = range();
    if (!r) return;
    video.currentTime = Math.min(r.end, Math.max(r.start + START_MARGIN_S, position));
    rewound = true;
    if (video.paused) video.play().catch(function () {});
    update();
  }

  // Back to the low-latency edge: hls.js's live sync position (lowLatencyMode
  // stays on, so it holds back parts, not segments), at normal speed; hls.js
  // then nudges the rate itself to hold the target latency.
  function backToLive() {
    const r = range();
    if (!r) return;
    video.playbackRate = 1;
    video.currentTime = r.end;
    rewound = false;
    if (video.paused) video.play().catch(function () {});
    update();
  }

  // Wall clock (ms) to media time through the playlist's PROGRAM-DATE-TIME: from
  // the last segment that began before it (segments are contiguous between
  // discontinuities), or the first one for a time before the window.
  function mediaTime(wallMs, details) {
    let best = null;
    for (const fragment of details.fragments) {
      if (!Number.isFinite(fragment.programDateTime)) continue;
      if (best && fragment.programDateTime > wallMs) break;
      best = fragment;
    }
    return best ? best.start + (wallMs - best.programDateTime) / 1000 : null;
  }

  // Past talks and the one on stage that fall in the window: { id, title, start, wallStart }.
  function chapters(r) {
    if (!programme || !r || !r.details) return [];
    const out = [];
    for (const talk of programme.talks) {
      if (!talk.actual_start) continue;
      const wallStart = Date.parse(talk.actual_start);
      const start = mediaTime(wallStart, r.details);
      const end = talk.actual_end ? mediaTime(Date.parse(talk.actual_end), r.details) : r.end;
      if (start === null || end === null || end < r.start || start > r.end) continue;
      out.push({ id: talk.id, title: talk.title, language: talk.language, start: Math.max(start, r.start), wallStart: wallStart });
    }
    return out;
  }

  const timeFormat = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });

  // Marks are kept, not rebuilt, so one that has keyboard focus keeps it.
  function renderChapters(r) {
    const wanted = chapters(r);
    const seen = new Set();
    const span = Math.max(1, r.end - r.start);
    for (const chapter of wanted) {
      seen.add(chapter.id);
      let item = chapterList.querySelector('[data-id="' + CSS.escape(chapter.id) + '"]');
      if (!item) {
        item = document.createElement('li');
        item.dataset.id = chapter.id;
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'dvr-chapter';
        const label = document.createElement('span');
        label.className = 'visually-hidden';
        button.append(label);
        button.addEventListener('click', function () { seekTo(Number(item.dataset.start)); });
        item.append(button);
        chapterList.append(item);
      }
      const text = t('chapter', { title: chapter.title, time: timeFormat.format(new Date(chapter.wallStart)) });
      const button = item.firstChild;
      button.title = text;
      if (button.firstChild.textContent !== text) button.firstChild.textContent = text;
      item.dataset.start = String(chapter.start);
      item.style.left = (100 * (chapter.start - r.start) / span).toFixed(2) + '%';
    }
    for (const item of Array.from(chapterList.children)) if (!seen.has(item.dataset.id)) item.remove();
    chapterList.hidden = wanted.length === 0;
  }

  function update() {
    const r = range();
    const length = r ? r.end - r.start : 0;
    box.hidden = !r || length < MIN_WINDOW_S;
    if (box.hidden) return;
    const live = atLive(r);
    const late = behind(r);
    if (live && !video.seeking) rewound = false;
    liveState.dataset.live = String(live);
    liveState.textContent = live ? t('live') : t('behind', { time: clock(late) });
    liveState.title = live ? '' : t('behindLong', { time: clock(late) });
    if (!dragging) {
      slider.max = String(Math.floor(length));
      slider.value = String(Math.round(Math.min(length, Math.max(0, video.currentTime - r.start))));
      slider.setAttribute('aria-valuetext', live ? t('atLive') : t('behindLong', { time: clock(late) }));
    }
    renderChapters(r);
  }

  document.getElementById('dvr-back30').addEventListener('click', function () { seekTo(video.currentTime - 30); });
  document.getElementById('dvr-back10').addEventListener('click', function () { seekTo(video.currentTime - 10); });
  document.getElementById('dvr-to-live').addEventListener('click', backToLive);
  // The slider seeks when let go (or at each key press), not at every pixel of a drag.
  slider.addEventListener('pointerdown', function () { dragging = true; });
  slider.addEventListener('change', function () {
    dragging = false;
    const r = range();
    if (r) seekTo(r.start + Number(slider.value));
  });
  document.addEventListener('relayprogramme', function (event) {
    programme = event.detail;
    update();
  });
  setInterval(update, UPDATE_MS);

  window.relayDvr = {
    range: range,
    atLive: function () { const r = range(); return Boolean(r) && atLive(r); },
    behind: function () { const r = range(); return r ? behind(r) : null; },
    chapters: function () { return chapters(range()); },
    rewound: function () { return rewound; },
    seekTo: seekTo,
    backToLive: backToLive,
  };
})();
