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
      skipLinks: 'Sprunglinks',
      skipToPlayer: 'Zum Player springen',
      skipToQa: 'Zu den Fragen springen',
      playerTitle: 'Video',
      controls: 'Player-Steuerung',
      pause: 'Pause',
      captions: 'Untertitel',
      captionsLanguage: 'Untertitelsprache',
      audioLanguage: 'Tonspur',
      captionStyle: 'Untertitel-Darstellung',
      captionSize: 'Schriftgröße',
      sizeSmall: 'Klein',
      sizeMedium: 'Mittel',
      sizeLarge: 'Groß',
      captionBackground: 'Hintergrund',
      backgroundNone: 'Keiner',
      backgroundSemi: 'Halbtransparent',
      backgroundSolid: 'Deckend',
      captionSample: 'So sehen Untertitel aus.',
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
      skipLinks: 'Skip links',
      skipToPlayer: 'Skip to the player',
      skipToQa: 'Skip to the questions',
      playerTitle: 'Video',
      controls: 'Player controls',
      pause: 'Pause',
      captions: 'Captions',
      captionsLanguage: 'Caption language',
      audioLanguage: 'Audio language',
      captionStyle: 'Caption style',
      captionSize: 'Text size',
      sizeSmall: 'Small',
      sizeMedium: 'Medium',
      sizeLarge: 'Large',
      captionBackground: 'Background',
      backgroundNone: 'None',
      backgroundSemi: 'Semi-transparent',
      backgroundSolid: 'Solid',
      captionSample: 'This is how captions look.',
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
  for (const element of document.querySelectorAll('[data-i18n-label]')) {
    element.setAttribute('aria-label', t(element.dataset.i18nLabel));
  }

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

  // What the viewer chose for captions, audio and caption style, remembered in
  // this browser only (localStorage, nothing sent anywhere). `captions` stays
  // null until the viewer first turns them on or off: until then the stream's
  // own default (the master's DEFAULT=YES) decides.
  const PREFERENCES_KEY = 'relay.player.preferences';
  const CAPTION_SIZES = ['small', 'medium', 'large'];
  const CAPTION_BACKGROUNDS = ['none', 'semi', 'solid'];
  const preferences = Object.assign({
    captions: null, captionLanguage: null, audioLanguage: null, captionSize: 'medium', captionBackground: 'semi',
  }, loadPreferences());

  function loadPreferences() {
    try {
      const stored = JSON.parse(localStorage.getItem(PREFERENCES_KEY) || '{}');
      return stored && typeof stored === 'object' ? stored : {};
    } catch (e) {
      return {};
    }
  }

  function savePreferences() {
    try {
      localStorage.setItem(PREFERENCES_KEY, JSON.stringify(preferences));
    } catch (e) { /* storage full or refused: the choice holds for this page load */ }
  }

  const playPauseButton = document.getElementById('playpause');
  const playPauseLabel = document.getElementById('playpause-label');
  const captionsControls = document.getElementById('captions-controls');
  const captionsToggle = document.getElementById('captions-toggle');
  const captionsLanguageLabel = document.getElementById('captions-language-label');
  const captionsLanguage = document.getElementById('captions-language');
  const audioControls = document.getElementById('audio-controls');
  const audioLanguage = document.getElementById('audio-language');
  const settingsButton = document.getElementById('settings-button');
  const settingsMenu = document.getElementById('settings-menu');

  // Other pages (the captioner's) embed the player without these controls:
  // every control below is wired only where the page has it.
  function updatePlayPause() {
    if (!playPauseButton) return;
    playPauseButton.dataset.state = video.paused ? 'paused' : 'playing';
    playPauseLabel.textContent = t(video.paused ? 'play' : 'pause');
  }
  if (playPauseButton) {
    playPauseButton.addEventListener('click', function () {
      if (video.paused) {
        playButton.hidden = true;
        tryPlay();
      } else {
        video.pause();
      }
    });
  }
  video.addEventListener('play', updatePlayPause);
  video.addEventListener('pause', updatePlayPause);

  // A track's name as the master gives it ("Deutsch (Saal)"), else its language's name.
  const languageNames = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames([lang], { type: 'language' }) : null;
  function trackLabel(track, index) {
    if (track.name) return track.name;
    if (track.lang && languageNames) {
      try { return languageNames.of(track.lang); } catch (e) { /* not a language tag */ }
    }
    return track.lang || String(index + 1);
  }

  // The tracks the stream offers, the same shape from hls.js and from the
  // browser's own HLS (Safari): { lang, name } in the order of the master.
  function nativeTextTracks() {
    return Array.from(video.textTracks || []).filter(function (track) {
      return track.kind === 'subtitles' || track.kind === 'captions';
    });
  }

  function captionTracks() {
    if (player.hls) return player.hls.subtitleTracks.map(function (track) { return { lang: track.lang, name: track.name }; });
    return nativeTextTracks().map(function (track) { return { lang: track.language, name: track.label }; });
  }

  function audioTracks() {
    if (player.hls) return player.hls.audioTracks.map(function (track, id) { return { id: id, lang: track.lang, name: track.name, default: !!track.default }; });
    return Array.from(video.audioTracks || []).map(function (track, id) { return { id: id, lang: track.language, name: track.label, default: track.kind === 'main' }; });
  }

  function currentCaptionTrack() {
    if (player.hls) return player.hls.subtitleDisplay ? player.hls.subtitleTrack : -1;
    return nativeTextTracks().findIndex(function (track) { return track.mode === 'showing'; });
  }

  function currentAudioTrack() {
    if (player.hls) return player.hls.audioTrack;
    return Array.from(video.audioTracks || []).findIndex(function (track) { return track.enabled; });
  }

  function showCaptionTrack(index) {
    if (player.hls) {
      player.hls.subtitleDisplay = index >= 0;
      player.hls.subtitleTrack = index;
    } else {
      nativeTextTracks().forEach(function (track, i) { track.mode = i === index ? 'showing' : 'disabled'; });
    }
    updateCaptionControls();
  }

  function playAudioTrack(index) {
    if (index < 0 || index === currentAudioTrack()) return;
    if (player.hls) {
      // Switches at the end of what is buffered (no flush): setting
      // hls.audioTrack empties the sound buffer, which at LL-HLS latency can
      // stall the picture.
      const track = player.hls.audioTracks[index];
      player.hls.setAudioOption({ name: track.name, lang: track.lang, flushImmediate: false });
    } else {
      Array.from(video.audioTracks).forEach(function (track, i) { track.enabled = i === index; });
    }
  }

  // The track in `language` if there is one, else one in the page's language, else the first.
  function trackFor(tracks, language) {
    for (const wanted of [language, lang]) {
      if (!wanted) continue;
      const index = tracks.findIndex(function (track) { return (track.lang || '').toLowerCase().split('-')[0] === wanted; });
      if (index >= 0) return index;
    }
    return tracks.length ? 0 : -1;
  }

  function fillSelect(select, tracks, selected) {
    select.textContent = '';
    tracks.forEach(function (track, index) {
      const option = document.createElement('option');
      option.value = String(index);
      option.textContent = trackLabel(track, index);
      if (track.lang) option.lang = track.lang;
      select.appendChild(option);
    });
    if (selected >= 0) select.value = String(selected);
  }

  // The controls appear only when the master lists tracks.
  function updateCaptionControls() {
    if (!captionsControls) return;
    const tracks = captionTracks();
    const shown = currentCaptionTrack();
    captionsControls.hidden = tracks.length === 0;
    captionsLanguageLabel.hidden = tracks.length < 2;
    captionsToggle.setAttribute('aria-pressed', String(shown >= 0));
    const selected = shown >= 0 ? shown : trackFor(tracks, preferences.captionLanguage);
    if (captionsLanguage.options.length !== tracks.length) fillSelect(captionsLanguage, tracks, selected);
    else if (selected >= 0) captionsLanguage.value = String(selected);
  }

  function updateAudioControls() {
    if (!audioControls) return;
    const tracks = audioTracks();
    audioControls.hidden = tracks.length < 2;
    fillSelect(audioLanguage, tracks, currentAudioTrack());
  }

  // New tracks (the first manifest, or a reload that adds a language): apply
  // what the viewer chose before. hls.js picks its own track (the master's
  // DEFAULT) right after announcing the tracks, so the choice is applied after that.
  function captionTracksChanged() {
    Promise.resolve().then(function () {
      const tracks = captionTracks();
      if (tracks.length && preferences.captions !== null) {
        showCaptionTrack(preferences.captions ? trackFor(tracks, preferences.captionLanguage) : -1);
      } else {
        updateCaptionControls();
      }
    });
  }

  function audioTracksChanged() {
    Promise.resolve().then(function () {
      const tracks = audioTracks();
      if (tracks.length > 1 && preferences.audioLanguage) {
        const index = tracks.findIndex(function (track) { return track.lang === preferences.audioLanguage; });
        if (index >= 0) playAudioTrack(index);
      }
      updateAudioControls();
    });
  }

  if (captionsControls) {
    captionsToggle.addEventListener('click', function () {
      const on = currentCaptionTrack() < 0;
      preferences.captions = on;
      savePreferences();
      showCaptionTrack(on ? Number(captionsLanguage.value || trackFor(captionTracks(), preferences.captionLanguage)) : -1);
    });
    captionsLanguage.addEventListener('change', function () {
      const index = Number(captionsLanguage.value);
      const track = captionTracks()[index];
      preferences.captionLanguage = track ? track.lang || null : null;
      // Choosing a language means wanting to read it.
      preferences.captions = true;
      savePreferences();
      showCaptionTrack(index);
    });
  }
  if (audioControls) {
    audioLanguage.addEventListener('change', function () {
      const index = Number(audioLanguage.value);
      const track = audioTracks()[index];
      preferences.audioLanguage = track ? track.lang || null : null;
      savePreferences();
      playAudioTrack(index);
    });
  }
  if (video.textTracks) {
    video.textTracks.addEventListener('addtrack', function () { if (!player.hls) captionTracksChanged(); });
    video.textTracks.addEventListener('change', function () { if (!player.hls) updateCaptionControls(); });
  }
  if (video.audioTracks) {
    video.audioTracks.addEventListener('addtrack', function () { if (!player.hls) audioTracksChanged(); });
    video.audioTracks.addEventListener('change', function () { if (!player.hls) updateAudioControls(); });
  }

  // Caption size and background are ::cue rules in style.css keyed on these attributes.
  function applyCaptionStyle() {
    if (!CAPTION_SIZES.includes(preferences.captionSize)) preferences.captionSize = 'medium';
    if (!CAPTION_BACKGROUNDS.includes(preferences.captionBackground)) preferences.captionBackground = 'semi';
    for (const element of [video, document.getElementById('caption-sample')]) {
      if (!element) continue;
      element.dataset.captionSize = preferences.captionSize;
      element.dataset.captionBackground = preferences.captionBackground;
    }
    if (!settingsMenu) return;
    for (const input of settingsMenu.querySelectorAll('input[name="caption-size"]')) {
      input.checked = input.value === preferences.captionSize;
    }
    for (const input of settingsMenu.querySelectorAll('input[name="caption-background"]')) {
      input.checked = input.value === preferences.captionBackground;
    }
  }
  if (settingsMenu && settingsButton) {
    settingsMenu.addEventListener('change', function (event) {
      if (event.target.name === 'caption-size') preferences.captionSize = event.target.value;
      if (event.target.name === 'caption-background') preferences.captionBackground = event.target.value;
      savePreferences();
      applyCaptionStyle();
    });

    // The caption style panel is a disclosure: the button opens and closes it,
    // Escape closes it and gives focus back to the button, and so does leaving it
    // (by Tab or a click elsewhere), so it never covers the page or holds focus.
    function setMenuOpen(open, returnFocus) {
      settingsMenu.hidden = !open;
      settingsButton.setAttribute('aria-expanded', String(open));
      if (!open && returnFocus) settingsButton.focus();
    }
    settingsButton.addEventListener('click', function () {
      const open = settingsMenu.hidden;
      setMenuOpen(open, false);
      if (open) {
        const checked = settingsMenu.querySelector('input:checked');
        if (checked) checked.focus();
      }
    });
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && !settingsMenu.hidden) {
        event.preventDefault();
        setMenuOpen(false, settingsMenu.contains(document.activeElement) || document.activeElement === settingsButton);
      }
    });
    document.addEventListener('focusin', function (event) {
      if (!settingsMenu.hidden && !settingsMenu.contains(event.target) && event.target !== settingsButton) setMenuOpen(false, false);
    });
    document.addEventListener('click', function (event) {
      if (!settingsMenu.hidden && !settingsMenu.contains(event.target) && !settingsButton.contains(event.target)) {
        setMenuOpen(false, false);
      }
    });
  }

  player.preferences = preferences;
  player.captionTracks = captionTracks;
  player.audioTracks = audioTracks;
  player.currentCaptionTrack = currentCaptionTrack;
  player.currentAudioTrack = currentAudioTrack;
  applyCaptionStyle();
  updatePlayPause();

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
    const config = {
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
    };
    // The audio language chosen on an earlier visit plays from the start, not after a switch.
    if (preferences.audioLanguage) config.audioPreference = { lang: preferences.audioLanguage };
    const hls = new Hls(config);
    player.hls = hls;

    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      buildQualityMenu(hls);
      tryPlay();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, function () { updateAutoLabel(hls); });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, captionTracksChanged);
    hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, updateCaptionControls);
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, audioTracksChanged);
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, updateAudioControls);
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
