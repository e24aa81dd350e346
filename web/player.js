// The attendee player: hls.js where Media Source Extensions exist, the browser's own
// HLS (Safari, iOS) otherwise. No framework and no third-party requests.
(function () {
  'use strict';

  const SOURCE = '/live/master.m3u8';
  // Apple's players send this header with every playlist and media request; the
  // relay counts viewers per rendition by it. hls.js gets it added below.
  const SESSION_HEADER = 'X-Playback-Session-Id';
  const LATENCY_INTERVAL_MS = 500;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 10000;

  const MESSAGES = {
    de: {
      title: 'Live-Übertragung',
      connecting: 'Verbinde …',
      live: 'Live',
      waiting: 'Gleich live',
      reconnecting: 'Verbinde neu …',
      unsupported: 'Nicht unterstützt',
      waitingNotice: 'Die Übertragung beginnt gleich …',
      reconnectingNotice: 'Verbindung unterbrochen – verbinde neu …',
      unsupportedNotice: 'Dieser Browser kann den Livestream leider nicht abspielen.',
      unmute: 'Ton an',
      play: 'Abspielen',
      quality: 'Qualität',
      auto: 'Automatisch',
      autoWith: 'Automatisch ({level})',
      latency: 'Verzögerung',
      seconds: '{value} s',
    },
    en: {
      title: 'Live stream',
      connecting: 'Connecting …',
      live: 'Live',
      waiting: 'Starting soon',
      reconnecting: 'Reconnecting …',
      unsupported: 'Not supported',
      waitingNotice: 'The stream starts shortly …',
      reconnectingNotice: 'Connection lost – reconnecting …',
      unsupportedNotice: 'Sorry, this browser cannot play the live stream.',
      unmute: 'Unmute',
      play: 'Play',
      quality: 'Quality',
      auto: 'Auto',
      autoWith: 'Auto ({level})',
      latency: 'Latency',
      seconds: '{value} s',
    },
  };

  // The first of the reader's languages that we have decides; English otherwise.
  function pickLanguage(languages) {
    for (const tag of languages) {
      const primary = String(tag).toLowerCase().split('-')[0];
      if (primary === 'de') return 'de';
      if (primary === 'en') return 'en';
    }
    return 'en';
  }

  const lang = pickLanguage(navigator.languages && navigator.languages.length
    ? navigator.languages : [navigator.language || 'en']);
  const messages = MESSAGES[lang];

  function t(key, params) {
    let text = messages[key] || MESSAGES.en[key] || key;
    for (const [name, value] of Object.entries(params || {})) text = text.replace('{' + name + '}', value);
    return text;
  }

  const video = document.getElementById('video');
  const statusBox = document.getElementById('status');
  const statusText = document.getElementById('status-text');
  const notice = document.getElementById('notice');
  const unmuteButton = document.getElementById('unmute');
  const playButton = document.getElementById('play');
  const qualitySelect = document.getElementById('quality');
  const latencyOutput = document.getElementById('latency');

  const secondsFormat = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

  document.documentElement.lang = lang;
  document.title = t('title');
  for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n);

  function setStatus(state) {
    statusBox.dataset.state = state;
    statusText.textContent = t(state);
    const noticeKey = state + 'Notice';
    notice.hidden = !(noticeKey in messages);
    if (!notice.hidden) notice.textContent = t(noticeKey);
  }

  // A random id for this page load, kept nowhere: no cookie, nothing personal.
  // The QoE reports (qoe.js) carry the same one.
  function randomSession() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  const player = {
    hls: null,
    video: video,
    session: randomSession(),
    fatalErrors: [],
    // Seconds between capture (program date time) and what is on screen; null when unknown.
    latency: function () {
      let playing = null;
      if (player.hls) {
        playing = player.hls.playingDate;
      } else if (typeof video.getStartDate === 'function') {
        const start = video.getStartDate().getTime();
        if (!Number.isNaN(start) && start > 0) playing = new Date(start + video.currentTime * 1000);
      }
      if (!playing || Number.isNaN(playing.getTime())) return null;
      return (Date.now() - playing.getTime()) / 1000;
    },
  };
  // The audio tracks ([[audio]]: the floor and the interpreters) for an audio
  // menu: [{id, name, lang, default}], empty without hls.js or tracks.
  player.audioTracks = function () {
    if (!player.hls) return [];
    return player.hls.audioTracks.map(function (t, id) {
      return { id: id, name: t.name, lang: t.lang, default: !!t.default };
    });
  };
  // Switches at the end of what is buffered (no flush): an immediate switch
  // empties the sound buffer, which at LL-HLS latency can stall the picture.
  player.setAudioTrack = function (id) {
    const track = player.hls && player.hls.audioTracks[id];
    if (!track) return;
    player.hls.setAudioOption({ name: track.name, lang: track.lang, flushImmediate: false });
  };
  window.relayPlayer = player;

  function updateLatency() {
    const seconds = video.paused ? null : player.latency();
    latencyOutput.textContent = seconds === null ? '–' : t('seconds', { value: secondsFormat.format(seconds) });
  }

  function updateMuteButton() {
    unmuteButton.hidden = !video.muted;
  }

  function tryPlay() {
    const attempt = video.play();
    if (attempt && typeof attempt.catch === 'function') {
      // Autoplay refused even muted (power saving, site settings): let the viewer start it.
      attempt.then(function () { playButton.hidden = true; }, function () { playButton.hidden = false; });
    }
  }

  unmuteButton.addEventListener('click', function () {
    video.muted = false;
    if (video.volume === 0) video.volume = 1;
    tryPlay();
  });
  playButton.addEventListener('click', function () {
    playButton.hidden = true;
    tryPlay();
  });
  video.addEventListener('volumechange', updateMuteButton);
  video.addEventListener('playing', function () {
    playButton.hidden = true;
    setStatus('live');
  });


  let retryDelay = RETRY_MIN_MS;
  let retryTimer = null;
  let lastMediaRecovery = 0;

  function levelLabel(level) {
    const parts = [];
    if (level.height) parts.push(level.height + 'p');
    if (level.bitrate) parts.push(Math.round(level.bitrate / 1000) + ' kbit/s');
    return parts.join(' · ') || '?';
  }

  function buildQualityMenu(hls) {
    qualitySelect.textContent = '';
    const auto = document.createElement('option');
    auto.value = '-1';
    auto.textContent = t('auto');
    qualitySelect.appendChild(auto);
    const order = hls.levels.map(function (level, index) { return index; });
    order.sort(function (a, b) { return (hls.levels[b].height - hls.levels[a].height) || (hls.levels[b].bitrate - hls.levels[a].bitrate); });
    for (const index of order) {
      const option = document.createElement('option');
      option.value = String(index);
      option.textContent = levelLabel(hls.levels[index]);
      qualitySelect.appendChild(option);
    }
    qualitySelect.value = hls.autoLevelEnabled ? '-1' : String(hls.currentLevel);
    qualitySelect.disabled = hls.levels.length < 2;
  }

  function updateAutoLabel(hls) {
    const auto = qualitySelect.querySelector('option[value="-1"]');
    const level = hls.levels[hls.currentLevel];
    if (auto) auto.textContent = hls.autoLevelEnabled && level ? t('autoWith', { level: levelLabel(level) }) : t('auto');
  }

  qualitySelect.addEventListener('change', function () {
    if (!player.hls) return;
    // nextLevel switches at the next fragment, so the picture does not stall while the buffer is flushed.
    player.hls.nextLevel = Number(qualitySelect.value);
    updateAutoLabel(player.hls);
  });

  function scheduleRetry(action) {
    if (retryTimer) return;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      action();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
  }

  function onFatalError(hls, data) {
    player.fatalErrors.push({ type: data.type, details: data.details, time: Date.now() });
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      // A second media error soon after the first means recovery did not help: start afresh.
      const now = Date.now();
      if (now - lastMediaRecovery > 5000) {
        lastMediaRecovery = now;
        hls.recoverMediaError();
        return;
      }
    }
    const starting = data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR ||
      data.details === Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT || !hls.levels || hls.levels.length === 0;
    // 503 before the first segment exists is the normal state before the event starts.
    const notYet = data.response && data.response.code === 503;
    setStatus(starting && notYet ? 'waiting' : 'reconnecting');
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !starting) {
      scheduleRetry(function () { hls.startLoad(); });
    } else {
      // Without a manifest there is nothing for startLoad() to resume; load the source again.
      scheduleRetry(startHlsJs);
    }
  }

  // The session header goes only to this page's own origin: to a cache path on
  // another origin (content steering) it would make the browser send a CORS
  // preflight for every part, which caches pass to the relay. The relay counts
  // those viewers from their QoE reports instead.
  function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch (e) { return false; }
  }

  function startHlsJs() {
    if (player.hls) player.hls.destroy();
    // maxLiveSyncPlaybackRate lets hls.js play slightly fast to win back latency lost
    // to a hiccup, instead of staying behind for the rest of the talk.
    const hls = new Hls({
      lowLatencyMode: true, backBufferLength: 30, maxLiveSyncPlaybackRate: 1.5,
      xhrSetup: function (xhr, url) {
        // A header can only be set on an opened request; hls.js does not open it twice.
        if (!xhr.readyState) xhr.open('GET', url, true);
        if (sameOrigin(url)) xhr.setRequestHeader(SESSION_HEADER, player.session);
      },
      fetchSetup: function (context, init) {
        if (sameOrigin(context.url)) init.headers.set(SESSION_HEADER, player.session);
        return new Request(context.url, init);
      },
    });
    player.hls = hls;

    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      buildQualityMenu(hls);
      tryPlay();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, function () { updateAutoLabel(hls); });
    hls.on(Hls.Events.FRAG_LOADED, function () { retryDelay = RETRY_MIN_MS; });
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (data.fatal) onFatalError(hls, data);
    });

    hls.loadSource(SOURCE);
    hls.attachMedia(video);
  }


  function startNative() {
    qualitySelect.disabled = true;
    video.src = SOURCE;
    video.addEventListener('error', function () {
      player.fatalErrors.push({ type: 'nativeError', details: video.error ? video.error.code : null, time: Date.now() });
      setStatus('reconnecting');
      scheduleRetry(function () {
        video.src = SOURCE;
        video.load();
        tryPlay();
      });
    });
    video.addEventListener('playing', function () { retryDelay = RETRY_MIN_MS; });
    tryPlay();
  }

  setStatus('connecting');
  updateMuteButton();
  setInterval(updateLatency, LATENCY_INTERVAL_MS);

  if (window.Hls && Hls.isSupported()) {
    startHlsJs();
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    startNative();
  } else {
    setStatus('unsupported');
  }
})();
