// The technician's dashboard: one event a second from /api/tech/stream (an
// event stream, read with fetch() so that the token travels in the
// Authorization header and never in a URL), charts of the last 15 minutes
// (uPlot), tiles for the ingest, the input's frames, the sound, the viewers, the
// questions waiting, the alerts and the incident log. The token comes from a
// link (#token=… or ?token=…, removed from the address bar at once) or the
// sign-in form and is kept for this tab only.
(function () {
  'use strict';
  const WINDOW_S = 15 * 60;
  const THUMBNAIL_EVERY_MS = 3000;
  const $ = function (id) { return document.getElementById(id); };

  const MESSAGES = {
    de: {
      title: 'Zustand der Übertragung',
      skipToMain: 'Zum Hauptinhalt springen',
      signinTitle: 'Anmelden',
      token: 'Technik-Token',
      signin: 'Anmelden',
      badToken: 'Dieses Token ist kein Technik-Token.',
      dashboard: 'Übersicht',
      ingest: 'Eingang',
      inputFrames: 'Eingangsbilder',
      picture: 'Bild',
      pictureAlt: 'Das gesendete Bild',
      sound: 'Programmton',
      viewers: 'Zuschauende',
      questionsWaiting: 'Wartende Fragen',
      alerts: 'Alarme',
      incidents: 'Vorfälle',
      chartBitrate: 'Bitrate (kbit/s): Eingang und Qualitätsstufen',
      chartFps: 'Bildrate des Eingangs',
      chartViewers: 'Zuschauende',
      chartLatency: 'Verzögerung bei den Zuschauenden, Median (s)',
      seriesInput: 'Eingang',
      seriesViewers: 'Zuschauende',
      seriesMedian: 'Median',
      none: 'keine',
      connecting: 'verbinde',
      live: 'live',
      reconnecting: 'verbinde neu',
      signedOut: 'abgemeldet',
      state_live: 'live',
      state_backup: 'Ersatzquelle',
      state_lost: 'verloren',
      state_slate: 'Standbild',
      state_waiting: 'wartet',
      state_failed: 'ausgefallen',
      state_ended: 'beendet',
      onAir: 'auf Sendung: {source}',
      since: 'seit {time}',
      noMeasurement: 'keine Messung',
      level: 'RMS {rms} dBFS, Spitze {peak} dBFS',
      keyframeEvery: 'Schlüsselbild alle {s} s',
      noKeyframes: 'keine Schlüsselbilder',
      frames: 'verworfen {dropped} · wiederholt {repeated} · verspätet {late}',
      reporting: '{n} melden',
      medianLatency: 'Median-Verzögerung {s} s',
      stalls: '{n} Hänger je Zuschauer-Minute',
      alert: '{rule} seit {time}: {message}',
      firing: 'aktiv',
      recording: 'Aufzeichnung',
      recordingStart: 'Aufzeichnung starten',
      recordingStop: 'Aufzeichnung stoppen',
      rec_off: 'aus',
      rec_recording: 'nimmt auf',
      rec_stopped: 'gestoppt',
      recStopped: 'gestoppt ({reason})',
      recDetail: 'Veranstaltung {event}, Lauf {run} · {mb} MB in {segments} Segmenten · verworfen {dropped}',
      recDisk: 'frei auf dem Datenträger: {gb} GB',
      recDiskLow: 'frei auf dem Datenträger: {gb} GB – wenig Platz!',
      recOldest: 'älteste Aufzeichnung: {event} ({date})',
      recNoneKept: 'keine Aufzeichnung gespeichert',
    },
    en: {
      title: 'Stream health',
      skipToMain: 'Skip to the main content',
      signinTitle: 'Sign in',
      token: 'Technician token',
      signin: 'Sign in',
      badToken: 'This token is not a technician token.',
      dashboard: 'Dashboard',
      ingest: 'Ingest',
      inputFrames: 'Input frames',
      picture: 'Picture',
      pictureAlt: 'The picture on air',
      sound: 'Programme sound',
      viewers: 'Viewers',
      questionsWaiting: 'Questions waiting',
      alerts: 'Alerts',
      incidents: 'Incidents',
      chartBitrate: 'Bitrate (kbit/s): input and renditions',
      chartFps: 'Input frame rate',
      chartViewers: 'Viewers',
      chartLatency: 'Viewer latency, median (s)',
      seriesInput: 'input',
      seriesViewers: 'viewers',
      seriesMedian: 'median',
      none: 'none',
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      signedOut: 'signed out',
      state_live: 'live',
      state_backup: 'backup',
      state_lost: 'lost',
      state_slate: 'slate',
      state_waiting: 'waiting',
      state_failed: 'failed',
      state_ended: 'ended',
      onAir: 'on air: {source}',
      since: 'since {time}',
      noMeasurement: 'no measurement',
      level: 'RMS {rms} dBFS, peak {peak} dBFS',
      keyframeEvery: 'keyframe every {s} s',
      noKeyframes: 'no keyframes',
      frames: 'dropped {dropped} · repeated {repeated} · late {late}',
      reporting: '{n} reporting',
      medianLatency: 'median latency {s} s',
      stalls: '{n} stalls per viewer-minute',
      alert: '{rule} since {time}: {message}',
      firing: 'firing',
      recording: 'Recording',
      recordingStart: 'Start recording',
      recordingStop: 'Stop recording',
      rec_off: 'off',
      rec_recording: 'recording',
      rec_stopped: 'stopped',
      recStopped: 'stopped ({reason})',
      recDetail: 'event {event}, run {run} · {mb} MB in {segments} segments · dropped {dropped}',
      recDisk: 'free on the disk: {gb} GB',
      recDiskLow: 'free on the disk: {gb} GB – running low!',
      recOldest: 'oldest recording kept: {event} ({date})',
      recNoneKept: 'no recording kept',
    },
  };
  // The same language choice and data-qa-* page texts as the Q&A pages.
  const { t } = RelayQa.translator(MESSAGES);
  document.title = t('title');

  let token = null;
  let stream = null;  // the AbortController of the open event stream
  let charts = null;
  let renditions = [];
  // Column arrays for uPlot: data[0] is time in seconds, then one per series.
  // points counts the seconds charted, from the history and live.
  const series = { bitrate: null, fps: [[], []], viewers: [[], []], latency: [[], []] };
  let points = 0;
  let thumbnailAt = 0;

  function setStatus(state) {
    $('status-text').textContent = t(state);
    $('status').dataset.state = state === 'signedOut' ? 'offline' : state;
  }

  function chart(element, label, names) {
    // As wide as its column, so that a narrow window (or 400 % zoom) needs no sideways scrolling.
    const width = Math.max(200, element.clientWidth || 420);
    // The canvas is drawn, not styled: its text takes the page's text colour, so
    // it stays readable in the dark scheme, and every line colour has 3:1
    // against both backgrounds (WCAG 1.4.11).
    const text = getComputedStyle(document.body).color;
    const grid = { stroke: 'rgba(127,127,127,0.35)', width: 1 };
    return new uPlot({
      width: width,
      height: 200,
      series: [{}].concat(names.map(function (name, i) {
        return { label: name, stroke: ['#2a9d58', '#457b9d', '#a97c00', '#d1495b', '#8e7dbe', '#d9622b'][i % 6], width: 2 };
      })),
      axes: [{ stroke: text, grid: grid, ticks: grid }, { label: label, stroke: text, grid: grid, ticks: grid }],
    }, [[]].concat(names.map(function () { return []; })), element);
  }

  function setupCharts(event) {
    renditions = event.renditions.map(function (r) { return r.name; });
    series.bitrate = [[], []].concat(renditions.map(function () { return []; }));
    charts = {
      bitrate: chart($('chart-bitrate'), 'kbit/s', [t('seriesInput')].concat(renditions)),
      fps: chart($('chart-fps'), 'fps', [t('seriesInput')]),
      viewers: chart($('chart-viewers'), t('seriesViewers'), [t('seriesViewers')]),
      latency: chart($('chart-latency'), 's', [t('seriesMedian')]),
    };
  }

  function push(columns, t, values) {
    columns[0].push(t);
    values.forEach(function (v, i) { columns[i + 1].push(v === undefined ? null : v); });
    while (columns[0].length && columns[0][0] < t - WINDOW_S) columns.forEach(function (c) { c.shift(); });
  }

  function list(element, items, render) {
    element.replaceChildren();
    if (!items.length) {
      const li = document.createElement('li');
      li.textContent = t('none');
      element.appendChild(li);
      return;
    }
    items.forEach(function (item) {
      const li = document.createElement('li');
      li.textContent = render(item);
      element.appendChild(li);
    });
  }

  function dbToPercent(db) { return db === null ? 0 : Math.max(0, Math.min(100, (db + 60) / 60 * 100)); }

  // One second of the charts, in the form the server keeps its history in.
  function addPoint(p) {
    const t = p.t / 1000;
    if (series.fps[0].length && t <= series.fps[0][series.fps[0].length - 1]) return;
    push(series.bitrate, t, [p.input_kbps || null].concat(p.rendition_kbps));
    push(series.fps, t, [p.input_fps || null]);
    push(series.viewers, t, [p.viewers]);
    push(series.latency, t, [p.latency_s]);
    points += 1;
  }

  function onEvent(event) {
    if (!charts) setupCharts(event);
    // The first event of a stream brings the last 15 minutes.
    (event.history || []).forEach(addPoint);
    const input = event.input || {};
    addPoint({
      t: event.t, input_kbps: input.kbps, input_fps: input.fps, viewers: event.viewers, latency_s: event.latency_s,
      rendition_kbps: event.renditions.map(function (r) { return r.kbps; }),
    });
    charts.bitrate.setData(series.bitrate);
    charts.fps.setData(series.fps);
    charts.viewers.setData(series.viewers);
    charts.latency.setData(series.latency);

    if (event.thumbnail && Date.now() - thumbnailAt >= THUMBNAIL_EVERY_MS) {
      thumbnailAt = Date.now();
      loadThumbnail();
    }
    $('tile-ingest').dataset.state = event.ingest.state;
    const stateKey = 'state_' + event.ingest.state;
    $('ingest-state').textContent = stateKey in MESSAGES.en ? t(stateKey) : event.ingest.state;
    $('ingest-detail').textContent = t('onAir', { source: input.role || event.ingest.output }) +
      (input.width ? ' · ' + input.width + '×' + input.height + ' · ' + (input.fps || 0).toFixed(1) + ' fps' : '') +
      ' · ' + t('since', { time: event.ingest.since.slice(11, 19) });
    const rms = event.audio.rms_db, peak = event.audio.peak_db;
    $('audio-rms').style.width = dbToPercent(rms) + '%';
    $('audio-peak').style.left = dbToPercent(peak) + '%';
    $('audio-text').textContent = rms === null ? t('noMeasurement') : t('level', { rms: rms.toFixed(0), peak: peak.toFixed(0) });
    $('audio-meter').setAttribute('aria-valuenow', String(rms === null ? -60 : Math.max(-60, Math.min(0, Math.round(rms)))));
    $('audio-meter').setAttribute('aria-valuetext', $('audio-text').textContent);
    // Keyframes and lost frames describe a compressed input; a raw one has no keyframes.
    $('input-keyframes').textContent = typeof input.keyframe_interval_s === 'number'
      ? t('keyframeEvery', { s: input.keyframe_interval_s.toFixed(1) }) : (event.input ? t('noKeyframes') : '–');
    $('input-frames').textContent = event.input
      ? t('frames', { dropped: input.frames_dropped, repeated: input.frames_duplicated, late: input.frames_late }) : '';
    $('viewers').textContent = String(event.viewers);
    $('viewer-renditions').textContent = event.renditions.map(function (r) { return r.name + ' ' + r.viewers; }).join(' · ');
    $('viewer-detail').textContent = t('reporting', { n: event.qoe_sessions }) + ' · ' +
      (event.latency_s === null ? '' : t('medianLatency', { s: event.latency_s.toFixed(1) }) + ' · ') +
      t('stalls', { n: event.stalls_per_minute.toFixed(1) });
    $('pending-questions').textContent = event.pending_questions === null ? '–' : String(event.pending_questions);
    list($('alerts'), event.alerts, function (a) {
      return t('alert', { rule: a.rule, time: a.since.slice(11, 19), message: a.message });
    });
    list($('incidents'), event.incidents, function (i) {
      return '#' + i.id + ' ' + i.rule + ' ' + i.fired_at.slice(5, 19).replace('T', ' ') +
        (i.ended_at ? ' → ' + i.ended_at.slice(11, 19) + ' (' + i.ending + ')' : ' (' + t('firing') + ')');
    });
  }

  function authorization() { return { Authorization: 'Bearer ' + token }; }

  // The picture, fetched with the token in its header and shown from a blob: URL.
  function loadThumbnail() {
    fetch('/api/tech/thumbnail.jpg', { headers: authorization(), cache: 'no-store' }).then(function (r) {
      return r.ok ? r.blob() : null;
    }).then(function (blob) {
      if (!blob) return;
      const image = $('thumbnail');
      const old = image.src;
      image.src = URL.createObjectURL(blob);
      image.hidden = false;
      if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    }, function () { /* the next event tries again */ });
  }

  // Reads the event stream until it ends: {refused: message} for a token the
  // server does not take, 'ended' when the server closed it; throws on a lost connection.
  async function readStream(controller) {
    const response = await fetch('/api/tech/stream', {
      headers: Object.assign({ Accept: 'text/event-stream' }, authorization()),
      cache: 'no-store',
      signal: controller.signal,
    });
    if (response.status === 401 || response.status === 403) {
      // A relay without technician tokens says how to configure access; show that.
      const refusal = await response.json().catch(function () { return {}; });
      return { refused: refusal.error === 'technician_access_not_configured' ? refusal.message : t('badToken') };
    }
    if (!response.ok || !response.body) throw new Error('event stream: ' + response.status);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return 'ended';
      buffered += decoder.decode(chunk.value, { stream: true });
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const data = buffered.slice(0, end).split('\n').filter(function (line) { return line.startsWith('data:'); })
          .map(function (line) { return line.slice(5).replace(/^ /, ''); }).join('\n');
        buffered = buffered.slice(end + 2);
        if (!data) continue;
        setStatus('live');
        onEvent(JSON.parse(data));
      }
    }
  }

  function connect() {
    if (stream) stream.abort();
    const controller = new AbortController();
    stream = controller;
    $('signin').hidden = true;
    $('dashboard').hidden = false;
    setStatus('connecting');
    pollRecording();
    const retry = function () {
      if (stream !== controller) return;
      setStatus('reconnecting');
      setTimeout(function () { if (stream === controller) connect(); }, 2000);
    };
    readStream(controller).then(function (result) {
      if (stream !== controller) return;
      if (result.refused) {
        stream = null;
        signIn(result.refused);
      } else {
        retry();
      }
    }, retry);
  }

  // The recording panel: GET /api/recording every few seconds while signed in;
  // the buttons POST start and stop and show the answer at once.
  const RECORDING_EVERY_MS = 5000;
  let recordingTimer = null;
  function showRecording(r) {
    const state = r.state === 'stopped' && r.stop_reason ? t('recStopped', { reason: r.stop_reason }) : t('rec_' + r.state);
    $('recording-state').textContent = state;
    $('recording-detail').textContent = r.event ? t('recDetail', {
      event: r.event, run: r.run, mb: (r.bytes_written / 1e6).toFixed(1), segments: r.segments, dropped: r.dropped,
    }) : '';
    $('recording-disk').textContent = r.disk_free_bytes === null ? '' :
      t(r.disk_low ? 'recDiskLow' : 'recDisk', { gb: (r.disk_free_bytes / 1e9).toFixed(1) });
    $('recording-oldest').textContent = r.oldest_event ?
      t('recOldest', { event: r.oldest_event, date: (r.oldest_event_start || '').slice(0, 10) }) : t('recNoneKept');
    $('recording-error').textContent = r.last_error || '';
    $('recording-start').disabled = r.state === 'recording';
    $('recording-stop').disabled = r.state !== 'recording';
  }
  function loadRecording() {
    if (token === null) return;
    fetch('/api/recording', { headers: authorization(), cache: 'no-store' }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (r) { if (r) showRecording(r); }, function () { /* the next poll tries again */ });
  }
  function changeRecording(action) {
    fetch('/api/recording/' + action, { method: 'POST', headers: authorization(), cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (r) {
        if (r.state) showRecording(r);
        if (r.message) $('recording-error').textContent = r.message;
      }, function () { /* shown by the next poll */ });
  }
  $('recording-start').addEventListener('click', function () { changeRecording('start'); });
  $('recording-stop').addEventListener('click', function () { changeRecording('stop'); });
  function pollRecording() {
    if (recordingTimer) return;
    loadRecording();
    recordingTimer = setInterval(loadRecording, RECORDING_EVERY_MS);
  }

  function signIn(message) {
    token = null;
    sessionStorage.removeItem('relay-tech-token');
    $('dashboard').hidden = true;
    $('signin').hidden = false;
    $('signin-message').textContent = message || '';
    setStatus('signedOut');
  }

  $('signin').addEventListener('submit', function (event) {
    event.preventDefault();
    token = $('signin-token').value.trim();
    sessionStorage.setItem('relay-tech-token', token);
    connect();
  });

  window.techDashboard = {
    points: function () { return points; },
    chartPoints: function () { return charts ? charts.bitrate.data[0].length : 0; },
    signedIn: function () { return token !== null; },
  };

  // A link's token is read once and removed from the address bar.
  const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  const query = new URLSearchParams(location.search);
  if (fromHash || query.has('token')) {
    token = fromHash ? decodeURIComponent(fromHash[1]) : query.get('token');
    sessionStorage.setItem('relay-tech-token', token);
    query.delete('token');
    history.replaceState(null, '', location.pathname + (query.toString() ? '?' + query.toString() : ''));
  } else {
    token = sessionStorage.getItem('relay-tech-token');
  }
  if (token) connect(); else signIn('');
})();
