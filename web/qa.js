// The attendee's Q&A panel beside the player: ask, vote, sort by popular or
// recent, the reader's own questions (marked while they wait for review), and the
// question on stage — optionally shown in step with the video, i.e. delayed by the
// player's measured latency, so it appears when the speaker is seen to take it.
(function () {
  'use strict';

  const IDENTITY_KEY = 'relay.qa.attendee';

  const MESSAGES = {
    de: {
      qaTitle: 'Fragen',
      nameLabel: 'Ihr Name (freiwillig)',
      sortLabel: 'Sortierung',
      onStage: 'Jetzt auf der Bühne',
      askLabel: 'Ihre Frage',
      askPlaceholder: 'Fragen Sie die Vortragenden …',
      namePlaceholder: 'Name (freiwillig)',
      ask: 'Fragen',
      popular: 'Beliebt',
      recent: 'Neu',
      sync: 'Im Takt mit dem Video',
      empty: 'Noch keine Fragen.',
      count: '{n}/{max}',
      sent: 'Gesendet. Ihre Frage erscheint nach der Freigabe durch die Moderation.',
      published: 'Veröffentlicht.',
      pending: 'Wartet auf Freigabe',
      rejected: 'Nicht veröffentlicht',
      answered: 'Beantwortet',
      starred: 'Vorgemerkt',
      stageBadge: 'Auf der Bühne',
      yours: 'Ihre Frage',
      anonymous: 'Anonym',
      vote: 'Gute Frage',
      votes: '{n} Stimmen',
      answer: 'Antwort: {text}',
      offline: 'Fragen: Verbindung unterbrochen – verbinde neu …',
      too_long: 'Zu lang: höchstens {max} Zeichen.',
      empty_error: 'Bitte eine Frage eingeben.',
      rate_limited: 'Zu viele Fragen kurz hintereinander. Bitte in {s} s erneut versuchen.',
      slow_mode: 'Langsamer Modus: bitte in {s} s erneut versuchen.',
      closed: 'Für diesen Vortrag werden gerade keine Fragen angenommen.',
      banned: 'Sie können keine Fragen mehr stellen.',
      timed_out: 'Sie können in {s} s wieder Fragen stellen.',
      invalid_text: 'Die Frage enthält unzulässige Zeichen.',
      failed: 'Das hat nicht geklappt ({status}). Bitte erneut versuchen.',
      delete: 'Löschen',
      deleteConfirm: 'Wirklich löschen?',
      deleteTitle: 'Ihre Frage löschen – sie wird auch aus der Datenbank entfernt',
      too_many_attendees: 'Die Fragerunde ist voll. Bitte später erneut versuchen.',
      room_full: 'Für diesen Vortrag werden keine weiteren Fragen angenommen.',
      ask_retry: 'Ihre Frage ist noch nicht angekommen. Neuer Versuch in {s} s …',
      vote_retry: 'Ihre Stimme ist noch nicht angekommen. Neuer Versuch in {s} s …',
      unavailable: 'Die Fragerunde ist gerade nicht erreichbar. Ihr Text bleibt stehen – bitte gleich noch einmal senden.',
    },
    en: {
      qaTitle: 'Questions',
      nameLabel: 'Your name (optional)',
      sortLabel: 'Sort order',
      onStage: 'On stage now',
      askLabel: 'Your question',
      askPlaceholder: 'Ask the speakers …',
      namePlaceholder: 'Name (optional)',
      ask: 'Ask',
      popular: 'Popular',
      recent: 'Recent',
      sync: 'In step with the video',
      empty: 'No questions yet.',
      count: '{n}/{max}',
      sent: 'Sent. Your question appears once a moderator approves it.',
      published: 'Published.',
      pending: 'Waiting for review',
      rejected: 'Not published',
      answered: 'Answered',
      starred: 'Shortlisted',
      stageBadge: 'On stage',
      yours: 'Your question',
      anonymous: 'Anonymous',
      vote: 'Good question',
      votes: '{n} votes',
      answer: 'Answer: {text}',
      offline: 'Questions: connection lost – reconnecting …',
      too_long: 'Too long: at most {max} characters.',
      empty_error: 'Please type a question.',
      rate_limited: 'Too many questions in a row. Please try again in {s} s.',
      slow_mode: 'Slow mode: please try again in {s} s.',
      closed: 'Questions are closed for this talk right now.',
      banned: 'You cannot ask questions any more.',
      timed_out: 'You can ask again in {s} s.',
      invalid_text: 'The question contains characters that are not allowed.',
      failed: 'That did not work ({status}). Please try again.',
      delete: 'Delete',
      deleteConfirm: 'Really delete?',
      deleteTitle: 'Delete your question – it is removed from the database too',
      too_many_attendees: 'The Q&A is full. Please try again later.',
      room_full: 'This talk takes no more questions.',
      ask_retry: 'Your question has not arrived yet. Trying again in {s} s …',
      vote_retry: 'Your vote has not arrived yet. Trying again in {s} s …',
      unavailable: 'The Q&A cannot be reached right now. Your text stays here – please send it again in a moment.',
    },
  };

  const { t } = RelayQa.translator(MESSAGES);
  const el = RelayQa.element;

  const form = document.getElementById('qa-ask');
  const textInput = document.getElementById('qa-text');
  const nameInput = document.getElementById('qa-name');
  const submit = document.getElementById('qa-submit');
  const counter = document.getElementById('qa-count');
  const formMessage = document.getElementById('qa-message');
  const list = document.getElementById('qa-list');
  const empty = document.getElementById('qa-empty');
  const status = document.getElementById('qa-status');
  const stageBox = document.getElementById('qa-stage');
  const stageText = document.getElementById('qa-stage-text');
  const stageAuthor = document.getElementById('qa-stage-author');
  const syncBox = document.getElementById('qa-sync');
  const sortButtons = document.querySelectorAll('[data-sort]');

  const questions = new RelayQa.QuestionSet();
  // The attendee's identity (token and id), made when they first ask or vote;
  // until then the page only watches, without one.
  let identity = null;
  let banned = false;
  let feed = null;
  let maxChars = 300;
  let sort = 'popular';
  // The question the page shows on stage, which may lag the server by the video's latency.
  let shownStage = null;
  let stageTimers = [];
  // The question being sent: its text, room and idempotency key. It outlives a
  // failed attempt, so sending the same text again (by the page's own retry or
  // the attendee's click) reuses the key and can never make it twice.
  let pendingAsk = null;
  // Own questions whose delete button was pressed once and now asks to confirm.
  const confirmingDelete = new Set();
  // Questions whose vote is on its way; a second press waits for it.
  const voting = new Set();

  const state = { questions: questions, get identity() { return identity; }, get shownStage() { return shownStage; } };
  window.relayQa = state;

  function loadIdentity() {
    try {
      return JSON.parse(localStorage.getItem(IDENTITY_KEY) || 'null');
    } catch (e) {
      return null;
    }
  }

  // The stored identity if the server still knows it (it may have been reset,
  // or the identity deleted after qa.retention_days).
  async function restoreIdentity() {
    identity = loadIdentity();
    if (!identity) return;
    const me = await RelayQa.api('GET', '/api/qa/me', identity.token);
    if (me.status === 401) {
      identity = null;
      localStorage.removeItem(IDENTITY_KEY);
    } else if (me.ok) {
      banned = Boolean(me.body.banned);
    }
  }

  // Made on the first question or vote; the feed then reopens with it, to show
  // the attendee's own questions and votes. The failed answer when it cannot be made.
  async function ensureIdentity() {
    if (identity) return null;
    const created = await RelayQa.api('POST', '/api/qa/attendees', null, { name: nameInput.value || '' });
    if (!created.ok) return created;
    identity = { token: created.body.token, id: created.body.id };
    localStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
    restartFeed();
    return null;
  }

  function errorText(result) {
    const body = result.body || {};
    const seconds = Number(result.headers.get('Retry-After')) || 1;
    switch (body.error) {
      case 'too_long': return t('too_long', { max: maxChars });
      case 'empty': return t('empty_error');
      case 'rate_limited': return t('rate_limited', { s: seconds });
      case 'slow_mode': return t('slow_mode', { s: seconds });
      case 'closed': return t('closed');
      case 'banned': return t('banned');
      case 'timed_out': return t('timed_out', { s: seconds });
      case 'invalid_text': return t('invalid_text');
      case 'too_many_attendees': return t('too_many_attendees');
      case 'room_full': return t('room_full');
      case 'database_unavailable': return t('unavailable');
      default: return t('failed', { status: result.status });
    }
  }

  function updateCounter() {
    const n = RelayQa.length(textInput.value);
    counter.textContent = t('count', { n: n, max: maxChars });
    counter.classList.toggle('qa-count--over', n > maxChars);
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    const text = textInput.value;
    if (submit.getAttribute('aria-disabled') === 'true') return;
    if (!RelayQa.length(text)) {
      formMessage.textContent = t('empty_error');
      return;
    }
    if (!pendingAsk || pendingAsk.text !== text) pendingAsk = { text: text, room: feedRoom(), key: RelayQa.idempotencyKey() };
    const ask = pendingAsk;
    const body = { text: text };
    if (nameInput.value.trim()) body.name = nameInput.value.trim();
    // aria-disabled rather than disabled: a disabled button loses keyboard focus.
    submit.setAttribute('aria-disabled', 'true');
    // The text stays in the box, unchanged, while the page retries it.
    textInput.readOnly = true;
    try {
      const result = await RelayQa.sendWithRetry(async function () {
        const refused = await ensureIdentity();
        if (refused) return refused;
        return RelayQa.api('POST', '/api/qa/rooms/' + ask.room + '/questions', identity.token, body,
          { 'Idempotency-Key': ask.key });
      }, function (seconds) { formMessage.textContent = t('ask_retry', { s: seconds }); });
      if (result === null) {
        formMessage.textContent = t('unavailable');
      } else if (result.status === 201) {
        pendingAsk = null;
        if (textInput.value === text) textInput.value = '';
        updateCounter();
        formMessage.textContent = result.body.state === 'pending' ? t('sent') : t('published');
        result.body.own = true;
        questions.apply({ type: 'question', question: result.body });
        render();
      } else {
        // A refusal made no question, so the next attempt may take a new key;
        // after a 503 the first attempt may still have landed: keep it.
        if (result.status !== 503 && result.status !== 502 && result.status !== 504) pendingAsk = null;
        formMessage.textContent = errorText(result);
      }
    } finally {
      textInput.readOnly = false;
      submit.removeAttribute('aria-disabled');
    }
  });
  textInput.addEventListener('input', updateCounter);
  nameInput.addEventListener('change', function () { localStorage.setItem(IDENTITY_KEY + '.name', nameInput.value); });
  nameInput.value = localStorage.getItem(IDENTITY_KEY + '.name') || '';

  for (const button of sortButtons) {
    button.addEventListener('click', function () {
      sort = button.dataset.sort;
      for (const other of sortButtons) other.setAttribute('aria-pressed', String(other === button));
      render();
    });
  }

  function feedRoom() {
    return feed && feed.room ? feed.room : 'current';
  }

  async function toggleVote(question, button) {
    if (voting.has(question.id)) return;
    // Not button.disabled: the button keeps keyboard focus while the vote travels.
    voting.add(question.id);
    const method = question.voted ? 'DELETE' : 'POST';
    // One key per click: its retries count once.
    const key = RelayQa.idempotencyKey();
    let waited = false;
    try {
      const result = await RelayQa.sendWithRetry(async function () {
        const refused = await ensureIdentity();
        if (refused) return refused;
        return RelayQa.api(method, '/api/qa/questions/' + question.id + '/vote', identity.token, undefined,
          { 'Idempotency-Key': key });
      }, function (seconds) {
        waited = true;
        formMessage.textContent = t('vote_retry', { s: seconds });
      });
      if (result === null) {
        formMessage.textContent = t('unavailable');
      } else if (result.ok) {
        if (waited) formMessage.textContent = '';
        // The first vote makes an identity and restarts the feed, whose snapshot
        // may replace this question's object while the vote travels: update the one shown now.
        const shown = questions.items.get(question.id) || question;
        shown.voted = result.body.voted;
        shown.votes = result.body.votes;
        render();
      } else {
        formMessage.textContent = errorText(result);
      }
    } finally {
      voting.delete(question.id);
    }
  }

  // Deleted for good: the server removes it from its database and tells every page.
  async function deleteQuestion(question, button) {
    button.disabled = true;
    const result = await RelayQa.api('DELETE', '/api/qa/questions/' + question.id, identity.token);
    if (result.ok || result.status === 404) {
      questions.apply({ type: 'question_removed', id: question.id });
      render();
    } else {
      button.disabled = false;
      formMessage.textContent = errorText(result);
    }
  }

  // What a question shows as its state, given what the page shows on stage.
  function badgeFor(question) {
    if (shownStage && question.id === shownStage.id) return ['stage', t('stageBadge')];
    if (question.own && question.state === 'pending') return ['pending', t('pending')];
    if (question.own && question.state === 'rejected') return ['rejected', t('rejected')];
    if (question.state === 'answered') return ['answered', t('answered')];
    if (question.state === 'starred') return ['starred', t('starred')];
    return null;
  }

  function visible(question) {
    if (['approved', 'starred', 'on_stage', 'answered'].includes(question.state)) return true;
    return question.own && (question.state === 'pending' || question.state === 'rejected');
  }

  function render() {
    RelayQa.keepFocus(list, renderList);
  }

  function renderList() {
    const items = questions.list().filter(visible);
    items.sort(function (a, b) {
      // The reader's own waiting questions stay on top, where they can see them.
      const aWaiting = a.own && a.state === 'pending', bWaiting = b.own && b.state === 'pending';
      if (aWaiting !== bWaiting) return aWaiting ? -1 : 1;
      if (sort === 'popular' && a.votes !== b.votes) return b.votes - a.votes;
      return sort === 'popular' ? a.created - b.created : b.created - a.created;
    });
    list.textContent = '';
    for (const question of items) {
      const item = el('li', 'qa-item');
      item.dataset.id = String(question.id);
      item.dataset.state = question.state;
      if (question.own) item.classList.add('qa-item--own');

      const votable = ['approved', 'starred', 'on_stage'].includes(question.state);
      const vote = el('button', 'qa-vote');
      vote.type = 'button';
      vote.setAttribute('aria-pressed', String(Boolean(question.voted)));
      vote.dataset.action = 'vote';
      vote.title = t('vote');
      vote.setAttribute('aria-label', t('vote') + ' – ' + t('votes', { n: question.votes }));
      vote.appendChild(el('span', 'qa-vote-arrow', '▲'));
      vote.appendChild(el('span', 'qa-vote-count', question.votes));
      vote.disabled = !votable && !question.voted;
      vote.addEventListener('click', function () { toggleVote(question, vote); });
      item.appendChild(vote);

      const body = el('div', 'qa-body');
      body.appendChild(el('p', 'qa-text', question.text));
      const meta = el('p', 'qa-meta');
      meta.appendChild(el('span', 'qa-author', question.own ? t('yours') : (question.author_name || t('anonymous'))));
      const badge = badgeFor(question);
      if (badge) meta.appendChild(el('span', 'qa-badge qa-badge--' + badge[0], badge[1]));
      body.appendChild(meta);
      if (question.answer) body.appendChild(el('p', 'qa-answer', t('answer', { text: question.answer })));
      if (question.own && identity) {
        // Deleting is for good, so it takes a second click to confirm (WCAG 3.3.4).
        const confirming = confirmingDelete.has(question.id);
        const remove = el('button', 'qa-delete', t(confirming ? 'deleteConfirm' : 'delete'));
        remove.type = 'button';
        remove.title = t('deleteTitle');
        remove.dataset.action = 'delete';
        remove.addEventListener('click', function () {
          if (confirmingDelete.has(question.id)) {
            confirmingDelete.delete(question.id);
            deleteQuestion(question, remove);
          } else {
            confirmingDelete.add(question.id);
            render();
          }
        });
        body.appendChild(remove);
      }
      item.appendChild(body);
      list.appendChild(item);
    }
    empty.hidden = items.length > 0;
  }

  function showStage(question) {
    shownStage = question;
    stageBox.hidden = !question;
    stageText.textContent = question ? question.text : '';
    stageAuthor.textContent = question ? (question.author_name || t('anonymous')) : '';
    render();
  }

  // The stage as the server has it now; shown at once, or when the video gets there.
  function stageChanged(serverTime) {
    const onStage = questions.list().find(function (q) { return q.state === 'on_stage'; }) || null;
    const same = (onStage && shownStage && onStage.id === shownStage.id && onStage.text === shownStage.text) ||
      (!onStage && !shownStage);
    if (same && stageTimers.length === 0) return;
    let delay = 0;
    const latency = syncBox.checked && window.relayPlayer ? window.relayPlayer.latency() : null;
    if (serverTime && latency !== null && latency > 0 && latency < 60) {
      delay = serverTime + latency * 1000 - Date.now();
    }
    const snapshot = onStage ? Object.assign({}, onStage) : null;
    if (delay <= 0) {
      showStage(snapshot);
      return;
    }
    const timer = setTimeout(function () {
      stageTimers = stageTimers.filter(function (other) { return other !== timer; });
      showStage(snapshot);
    }, delay);
    stageTimers.push(timer);
  }

  function onSnapshot(message) {
    for (const timer of stageTimers) clearTimeout(timer);
    stageTimers = [];
    questions.reset(message.items);
    shownStage = null;
    stageChanged(null);
    render();
  }

  function onEvent(message) {
    if (message.type === 'current_room') {
      feed.switchRoom(String(message.current_room));
      return;
    }
    const stageBefore = questions.list().find(function (q) { return q.state === 'on_stage'; });
    if (questions.apply(message)) {
      const stageAfter = questions.list().find(function (q) { return q.state === 'on_stage'; });
      if (stageBefore !== stageAfter || (stageAfter && message.question && message.question.id === stageAfter.id)) {
        stageChanged(message.time);
      }
      render();
    }
  }

  function onStatus(value) {
    status.hidden = value === 'live';
    status.textContent = value === 'live' ? '' : t('offline');
  }

  // With the attendee's token once there is one (and they are not banned), else read-only.
  function startFeed(room) {
    feed = new RelayQa.Feed({
      token: identity && !banned ? identity.token : null,
      room: room,
      onSnapshot: onSnapshot,
      onEvent: onEvent,
      onStatus: onStatus,
      onBanned: function () {
        banned = true;
        formMessage.textContent = t('banned');
        startFeed(feed.room);
      },
      onUnreachable: async function () {
        // A token the server no longer knows: watch without it until the next question or vote.
        if (!identity) return;
        const old = identity;
        try {
          await restoreIdentity();
        } catch (e) {
          return;
        }
        if (identity !== old) restartFeed();
      },
    });
    state.feed = feed;
  }

  function restartFeed() {
    const room = feed ? feed.room : undefined;
    if (feed) feed.stop();
    startFeed(room);
  }

  async function start() {
    updateCounter();
    try {
      const rooms = await RelayQa.api('GET', '/api/qa/rooms');
      if (rooms.ok && rooms.body.max_question_chars) maxChars = rooms.body.max_question_chars;
      updateCounter();
      await restoreIdentity();
      startFeed();
    } catch (e) {
      onStatus('reconnecting');
      setTimeout(start, 5000);
    }
  }
  start();
})();
