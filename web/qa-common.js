// What the Q&A pages share: language choice, the REST calls, and the live feed
// (a WebSocket that resumes with since=<seq> after a drop, so nothing is missed or
// shown twice). Every piece of user text is put on the page with textContent.
(function () {
  'use strict';

  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 10000;
  // A write the Q&A could not take just now is sent again at most this often,
  // waiting as long as the server's Retry-After asks but never longer than this.
  const WRITE_RETRIES = 6;
  const WRITE_RETRY_MAX_S = 30;

  // The first of the reader's languages that we have decides; English otherwise.
  function pickLanguage() {
    const languages = navigator.languages && navigator.languages.length
      ? navigator.languages : [navigator.language || 'en'];
    for (const tag of languages) {
      const primary = String(tag).toLowerCase().split('-')[0];
      if (primary === 'de') return 'de';
      if (primary === 'en') return 'en';
    }
    return 'en';
  }

  function translator(messages) {
    const lang = pickLanguage();
    const table = messages[lang];
    function t(key, params) {
      let text = table[key] || messages.en[key] || key;
      for (const [name, value] of Object.entries(params || {})) text = text.split('{' + name + '}').join(String(value));
      return text;
    }
    document.documentElement.lang = lang;
    // data-qa-* rather than data-i18n: the attendee page shares its document with the player's own table.
    for (const element of document.querySelectorAll('[data-qa-i18n]')) element.textContent = t(element.dataset.qaI18n);
    for (const element of document.querySelectorAll('[data-qa-placeholder]')) {
      element.placeholder = t(element.dataset.qaPlaceholder);
    }
    for (const element of document.querySelectorAll('[data-qa-title]')) element.title = t(element.dataset.qaTitle);
    for (const element of document.querySelectorAll('[data-qa-alt]')) element.alt = t(element.dataset.qaAlt);
    for (const element of document.querySelectorAll('[data-qa-label]')) {
      element.setAttribute('aria-label', t(element.dataset.qaLabel));
    }
    return { t: t, lang: lang };
  }

  // { status, body } for every answer; body is the parsed JSON (or text).
  // `extraHeaders`, e.g. an Idempotency-Key, go along as they are.
  async function api(method, path, token, body, extraHeaders) {
    const headers = Object.assign({}, extraHeaders);
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    const type = response.headers.get('Content-Type') || '';
    const parsed = type.startsWith('application/json') ? await response.json() : await response.text();
    return { status: response.status, ok: response.ok, body: parsed, headers: response.headers };
  }

  // A key for one write (a question, a vote) that the server recognises when the
  // same write comes again: a retry after an answer that never arrived gets the
  // first answer instead of making a second question or vote. crypto.randomUUID
  // exists only on HTTPS (or localhost) pages; random bytes work everywhere.
  function idempotencyKey() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  // Whether a write may simply be sent again: the Q&A's database was away for a
  // moment (503, or a load balancer's 502/504 while an instance restarts), or no
  // answer came at all (null: the network). Anything else is the server's answer.
  function retryable(result) {
    return result === null || result.status === 502 || result.status === 503 || result.status === 504;
  }

  // Seconds to wait before the next attempt: the server's Retry-After when it
  // gave one (in seconds), else doubling from 1 s; between 1 s and WRITE_RETRY_MAX_S.
  function retryDelay(result, attempt) {
    const header = result ? result.headers.get('Retry-After') : null;
    const given = header === null || header.trim() === '' ? NaN : Number(header);
    const seconds = Number.isFinite(given) ? Math.ceil(given) : Math.pow(2, attempt);
    return Math.min(Math.max(seconds, 1), WRITE_RETRY_MAX_S);
  }

  // Runs send() (which makes one request, with the same idempotency key each
  // time) until it gets an answer that is not a passing failure, at most
  // WRITE_RETRIES times more; onWait(seconds) is told of each wait, for the page
  // to say so. Returns the last answer, or null when the network gave none.
  async function sendWithRetry(send, onWait) {
    for (let attempt = 0; ; attempt++) {
      let result = null;
      try {
        result = await send();
      } catch (e) {
        result = null;  // fetch rejects only when no answer came
      }
      if (!retryable(result) || attempt >= WRITE_RETRIES) return result;
      const seconds = retryDelay(result, attempt);
      onWait(seconds);
      await new Promise(function (resolve) { setTimeout(resolve, seconds * 1000); });
    }
  }

  // A token a link brought (#token=… or ?token=…, as an organiser may send it):
  // read once and removed from the address bar, so it is not shared, kept in the
  // history or sent anywhere. Null without one.
  function tokenFromAddress() {
    const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    const query = new URLSearchParams(location.search);
    const fromQuery = query.get('token');
    if (!fromHash && fromQuery === null) return null;
    query.delete('token');
    const search = query.toString();
    history.replaceState(null, '', location.pathname + (search ? '?' + search : ''));
    return fromHash ? decodeURIComponent(fromHash[1]) : fromQuery;
  }

  // A page's token for a staff role: from the address (then kept in this tab's
  // session) or from this tab's session. Tokens never go into a URL: the REST
  // calls send them as Authorization, the feed as its first message.
  function staffToken(storageKey) {
    const token = tokenFromAddress();
    if (token !== null) {
      sessionStorage.setItem(storageKey, token);
      return token;
    }
    return sessionStorage.getItem(storageKey);
  }

  // The questions of one room as this caller may see them, kept up to date from the feed.
  class QuestionSet {
    constructor() {
      this.items = new Map();
    }
    reset(items) {
      this.items = new Map();
      for (const item of items) this.items.set(item.id, item);
    }
    apply(message) {
      if (message.type === 'question') {
        const before = this.items.get(message.question.id);
        const next = Object.assign({}, message.question);
        // The feed does not say who voted for what; keep what this browser knows.
        if (before && before.voted !== undefined) next.voted = before.voted;
        if (before && before.own) next.own = true;
        this.items.set(next.id, next);
        return true;
      }
      if (message.type === 'question_removed') return this.items.delete(message.id);
      if (message.type === 'votes') {
        for (const entry of message.votes) {
          const item = this.items.get(entry.id);
          if (item) item.votes = entry.votes;
        }
        return true;
      }
      return false;
    }
    list() {
      return Array.from(this.items.values());
    }
  }

  // The live feed of one room. Calls onSnapshot(message) with a full picture,
  // onEvent(message) for each later event, onStatus('live' | 'reconnecting'), and
  // onUnreachable() after a few attempts in a row that never got to the room (the
  // token may be gone, e.g. after the Q&A database was reset), while it keeps trying.
  // Without a token it is a read-only viewer's feed. Closed with 4003 "banned"
  // (the attendee was banned; a bad token is 4003 with another reason) it calls
  // onBanned() and stops.
  class Feed {
    constructor(options) {
      this.options = options;
      this.room = options.room || 'current';
      this.seq = null;
      this.epoch = null;
      this.socket = null;
      this.retryDelay = RETRY_MIN_MS;
      this.failures = 0;
      this.stopped = false;
      this.connect();
    }

    url() {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      let url = scheme + '//' + location.host + '/api/qa/ws?room=' + encodeURIComponent(this.room);
      if (this.seq !== null) url += '&since=' + this.seq + '&epoch=' + encodeURIComponent(this.epoch);
      return url;
    }

    connect() {
      const socket = new WebSocket(this.url());
      this.socket = socket;
      // The token goes in the first message, not the URL; the server sends
      // nothing of the room before it.
      socket.onopen = () => { socket.send(JSON.stringify({ type: 'auth', token: this.options.token || '' })); };
      socket.onmessage = (event) => {
        // One event, or an array of events that were sent together.
        const data = JSON.parse(event.data);
        for (const message of Array.isArray(data) ? data : [data]) this.handle(message);
      };
      socket.onclose = (event) => {
        if (this.socket !== socket || this.stopped) return;
        if (event.code === 4003 && event.reason === 'banned' && this.options.onBanned) {
          this.stopped = true;
          this.options.onBanned();
          return;
        }
        this.options.onStatus('reconnecting');
        if (++this.failures === 3 && this.options.onUnreachable) this.options.onUnreachable();
        setTimeout(() => { if (!this.stopped) this.connect(); }, this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      };
    }

    // One event from the feed, in order.
    handle(message) {
      if (message.type === 'snapshot' || message.type === 'resumed') this.failures = 0;
      if (message.type === 'snapshot') {
        // Resume in this room even if "current" moves on meanwhile.
        this.room = String(message.room);
        this.seq = message.seq;
        this.epoch = message.epoch;
        this.retryDelay = RETRY_MIN_MS;
        this.options.onStatus('live');
        this.options.onSnapshot(message);
        return;
      }
      if (message.type === 'resumed') {
        this.retryDelay = RETRY_MIN_MS;
        this.options.onStatus('live');
        return;
      }
      if (typeof message.seq === 'number') {
        if (this.seq !== null && message.seq <= this.seq) return;  // never apply an event twice
        this.seq = message.seq;
      }
      this.options.onEvent(message);
    }

    // Another room: a fresh snapshot from it.
    switchRoom(room) {
      this.room = room;
      this.seq = null;
      this.epoch = null;
      const old = this.socket;
      this.socket = null;
      if (old) old.close();
      this.connect();
    }

    stop() {
      this.stopped = true;
      if (this.socket) this.socket.close();
    }
  }

  // Code points, as the server counts them.
  function length(text) {
    return Array.from(text.trim()).length;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Rebuilds `container` with rebuild() and puts keyboard focus back where it
  // was: the same control (same data-action, data-filter or class) of the same
  // item (data-id). Without this every live update would drop focus to the page.
  function keepFocus(container, rebuild) {
    const active = document.activeElement;
    let key = null;
    if (active && active !== container && container.contains(active)) {
      const item = active.closest('[data-id]');
      key = {
        id: item ? item.dataset.id : null,
        control: active.dataset.action ? '[data-action="' + active.dataset.action + '"]'
          : active.dataset.filter ? '[data-filter="' + active.dataset.filter + '"]'
            : active.className ? '.' + active.className.trim().split(/\s+/)[0] : active.tagName.toLowerCase(),
      };
    }
    rebuild();
    if (!key) return;
    const scope = key.id === null ? container : container.querySelector('[data-id="' + CSS.escape(key.id) + '"]');
    const again = scope ? scope.querySelector(key.control) : null;
    if (again && again !== document.activeElement) again.focus();
  }

  window.RelayQa = {
    keepFocus: keepFocus,
    pickLanguage: pickLanguage,
    translator: translator,
    api: api,
    idempotencyKey: idempotencyKey,
    sendWithRetry: sendWithRetry,
    staffToken: staffToken,
    tokenFromAddress: tokenFromAddress,
    QuestionSet: QuestionSet,
    Feed: Feed,
    length: length,
    element: element,
  };
})();
