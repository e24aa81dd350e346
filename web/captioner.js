// The captioner's desk: the low-latency picture (player.js) beside a text box
// whose lines go to POST /api/captions/<lang> when Enter is pressed or typing
// pauses; a correction of the last line; the floor (who is writing) kept in
// step with the other captioner over /api/captions/feed.
(function () {
  'use strict';

  const TOKEN_KEY = 'relay.captions.captioner';
  const AUTHOR_KEY = 'relay.captions.author';
  const PAUSE_KEY = 'relay.captions.pause';
  const LANGUAGE_KEY = 'relay.captions.language';
  const MAX_LINES_SHOWN = 200;
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 10000;
  const MESSAGES = {
    de: {
      title: 'Live-Untertitel',
      signinTitle: 'Anmelden',
      token: 'Token für Schriftdolmetscher',
      signin: 'Anmelden',
      badToken: 'Dieses Token ist nicht gültig.',
      deskTitle: 'Untertitel schreiben',
      playerTitle: 'Livebild',
      author: 'Ihr Name',
      language: 'Sprache der Untertitel',
      line: 'Untertitelzeile',
      lineHelp: 'Die Eingabetaste sendet die Zeile, ebenso eine Schreibpause.',
      pause: 'Senden nach einer Pause von (Sekunden, 0 = aus)',
      send: 'Senden',
      correct: 'Letzte Zeile korrigieren',
      correcting: 'Korrektur der letzten Zeile: ändern und senden.',
      linesTitle: 'Gesendete Zeilen',
      takeFloor: 'Übernehmen',
      floorNobody: 'Niemand schreibt gerade.',
      floorMine: 'Sie schreiben ({name}).',
      floorOther: '{name} schreibt gerade.',
      floorTaken: '{name} schreibt gerade – zum Schreiben zuerst „Übernehmen“ wählen.',
      noName: 'Bitte geben Sie Ihren Namen an.',
      sendFailed: 'Nicht gesendet: {message}',
      offline: 'Verbindung unterbrochen – verbinde neu …',
      replaced: '(korrigiert)',
    },
    en: {
      title: 'Live captions',
      signinTitle: 'Sign in',
      token: 'Captioner token',
      signin: 'Sign in',
      badToken: 'This token is not valid.',
      deskTitle: 'Captioning',
      playerTitle: 'Live picture',
      author: 'Your name',
      language: 'Caption language',
      line: 'Caption line',
      lineHelp: 'Enter sends the line; so does a pause in typing.',
      pause: 'Send after a pause of (seconds, 0 = off)',
      send: 'Send',
      correct: 'Correct last line',
      correcting: 'Correcting the last line: edit it and send.',
      linesTitle: 'Lines sent',
      takeFloor: 'Take over',
      floorNobody: 'Nobody is writing.',
      floorMine: 'You are writing ({name}).',
      floorOther: '{name} is writing.',
      floorTaken: '{name} is writing – choose “Take over” first.',
      noName: 'Please enter your name.',
      sendFailed: 'Not sent: {message}',
      offline: 'Connection lost – reconnecting …',
      replaced: '(corrected)',
    },
  };
  const { t } = RelayQa.translator(MESSAGES);
  document.title = t('title');
  const el = RelayQa.element;

  const signin = document.getElementById('signin');
  const desk = document.getElementById('desk');
  const floorText = document.getElementById('floor');
  const takeFloor = document.getElementById('take-floor');
  const compose = document.getElementById('compose');
  const author = document.getElementById('author');
  const language = document.getElementById('language');
  const line = document.getElementById('line');
  const pause = document.getElementById('pause');
  const correct = document.getElementById('correct');
  const message = document.getElementById('message');
  const lines = document.getElementById('lines');
  document.getElementById('player-section').setAttribute('aria-label', t('playerTitle'));

  let token = null;
  let holder = '';
  let lastLine = null;     // the last line this page sent: { lang, text }
  let correcting = false;
  let idleTimer = null;
  let socket = null;
  let reconnectDelay = RECONNECT_MIN_MS;
  const state = { lines: [], floor: '', sent: [] };
  window.relayCaptioner = state;

  author.value = localStorage.getItem(AUTHOR_KEY) || '';
  pause.value = localStorage.getItem(PAUSE_KEY) || pause.value;

  function me() { return author.value.trim(); }

  function showFloor() {
    state.floor = holder;
    if (!holder) floorText.textContent = t('floorNobody');
    else if (holder === me()) floorText.textContent = t('floorMine', { name: holder });
    else floorText.textContent = t('floorOther', { name: holder });
    takeFloor.hidden = holder !== '' && holder === me();
  }

  function showLine(item) {
    state.lines.push(item);
    const li = el('li');
    li.lang = item.lang;
    li.appendChild(el('span', 'captioner-author', item.author + ' · ' + item.lang));
    li.appendChild(el('span', null, item.text + (item.replaced ? ' ' + t('replaced') : '')));
    lines.appendChild(li);
    while (lines.children.length > MAX_LINES_SHOWN) lines.removeChild(lines.firstChild);
    lines.scrollTop = lines.scrollHeight;
  }

  function setCorrecting(on) {
    correcting = on && lastLine !== null;
    correct.setAttribute('aria-pressed', String(correcting));
    if (correcting) {
      line.value = lastLine.text;
      message.textContent = t('correcting');
      line.focus();
    }
  }

  async function send() {
    clearTimeout(idleTimer);
    const text = line.value.replace(/\s+/g, ' ').trim();
    if (!text) return;
    if (!me()) {
      message.textContent = t('noName');
      author.focus();
      return;
    }
    const lang = correcting && lastLine ? lastLine.lang : language.value;
    const body = { text: text, author: me() };
    if (correcting) body.replace_last = true;
    line.value = '';
    const sentAt = Date.now();
    let result;
    try {
      result = await RelayQa.api('POST', '/api/captions/' + encodeURIComponent(lang), token, body);
    } catch (e) {
      result = null;
    }
    if (result && result.status === 201) {
      lastLine = { lang: lang, text: text };
      state.sent.push({ text: text, lang: lang, at: sentAt, cue: result.body });
      setCorrecting(false);
      message.textContent = '';
      return;
    }
    // Nothing is lost: the line goes back into the box.
    if (!line.value) line.value = text;
    if (result && result.status === 409) {
      message.textContent = t('floorTaken', { name: holder || '?' });
    } else {
      const reason = result && result.body && result.body.message ? result.body.message : t('offline');
      message.textContent = t('sendFailed', { message: reason });
    }
  }

  function armIdleSend() {
    clearTimeout(idleTimer);
    const seconds = Number(pause.value);
    if (!(seconds > 0)) return;
    idleTimer = setTimeout(send, seconds * 1000);
  }

  line.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === 'Escape' && correcting) {
      setCorrecting(false);
      line.value = '';
      message.textContent = '';
    }
  });
  line.addEventListener('input', armIdleSend);
  compose.addEventListener('submit', function (event) {
    event.preventDefault();
    send();
  });
  correct.addEventListener('click', function () { setCorrecting(!correcting); });
  author.addEventListener('change', function () {
    localStorage.setItem(AUTHOR_KEY, me());
    showFloor();
  });
  pause.addEventListener('change', function () { localStorage.setItem(PAUSE_KEY, pause.value); });
  language.addEventListener('change', function () { localStorage.setItem(LANGUAGE_KEY, language.value); });
  takeFloor.addEventListener('click', async function () {
    if (!me()) {
      message.textContent = t('noName');
      author.focus();
      return;
    }
    const result = await RelayQa.api('POST', '/api/captions/floor', token, { author: me() });
    if (result.ok) {
      holder = result.body.holder;
      showFloor();
      message.textContent = '';
      line.focus();
    }
  });

  function onFeedMessage(data) {
    if (data.type === 'hello') {
      if (!language.options.length) {
        for (const l of data.languages) {
          const option = el('option', null, l.name);
          option.value = l.code;
          option.lang = l.code;
          language.appendChild(option);
        }
        const saved = localStorage.getItem(LANGUAGE_KEY);
        if (saved && data.languages.some(function (l) { return l.code === saved; })) language.value = saved;
      }
      lines.textContent = '';
      state.lines = [];
      for (const item of data.lines) showLine(item);
      holder = data.floor.holder;
      showFloor();
    } else if (data.type === 'floor') {
      holder = data.holder;
      showFloor();
    } else if (data.type === 'line') {
      showLine(data);
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(scheme + '//' + location.host + '/api/captions/feed');
    socket.addEventListener('open', function () {
      socket.send(JSON.stringify({ type: 'auth', token: token }));
      reconnectDelay = RECONNECT_MIN_MS;
    });
    socket.addEventListener('message', function (event) {
      const parsed = JSON.parse(event.data);
      // Messages that waited together arrive as one JSON array.
      for (const data of Array.isArray(parsed) ? parsed : [parsed]) onFeedMessage(data);
    });
    socket.addEventListener('close', function (event) {
      if (event.code === 4001 || event.code === 4003) {
        sessionStorage.removeItem(TOKEN_KEY);
        location.reload();
        return;
      }
      floorText.textContent = t('offline');
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
    });
  }

  function start(value) {
    token = value;
    signin.hidden = true;
    desk.hidden = false;
    showFloor();
    connect();
    (me() ? line : author).focus();
  }

  async function check(value) {
    if (!value) return false;
    const result = await RelayQa.api('GET', '/api/captions', value);
    return result.ok;
  }

  signin.addEventListener('submit', async function (event) {
    event.preventDefault();
    const value = document.getElementById('signin-token').value.trim();
    if (await check(value)) {
      sessionStorage.setItem(TOKEN_KEY, value);
      start(value);
    } else {
      document.getElementById('signin-message').textContent = t('badToken');
    }
  });

  (async function () {
    const saved = RelayQa.staffToken(TOKEN_KEY);
    if (saved && await check(saved)) return start(saved);
    sessionStorage.removeItem(TOKEN_KEY);
    signin.hidden = false;
  })();
})();
