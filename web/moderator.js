// The moderator's live queue: filters with counts, the actions of the Q&A API on
// buttons and keys, inline edit and answer, room settings, export.
(function () {
  'use strict';

  const TOKEN_KEY = 'relay.qa.moderator';
  const MESSAGES = {
    de: {
      title: 'Moderation',
      skipToMain: 'Zum Hauptinhalt springen',
      newRoomLabel: 'Titel des neuen Raums',
      filterLabel: 'Filter',
      shortcutsOn: 'Tastenkürzel mit einer Taste',
      signinTitle: 'Anmelden',
      token: 'Moderations-Token',
      signin: 'Anmelden',
      badToken: 'Dieses Token gehört keiner Moderation.',
      room: 'Raum',
      makeCurrent: 'Zum aktuellen Raum machen',
      roomName: 'Titel',
      open: 'Fragen möglich',
      autoApprove: 'Ohne Prüfung veröffentlichen',
      slowMode: 'Langsamer Modus (s)',
      save: 'Speichern',
      export: 'CSV exportieren',
      newRoom: 'Neuer Raum …',
      create: 'Anlegen',
      shortcuts: 'Tastatur',
      shortcutHelp: 'J/K nächste/vorige · A freigeben · R ablehnen · S vormerken · P auf die Bühne · D beantwortet · E bearbeiten · H verbergen · O wieder öffnen',
      queue: 'Fragen',
      emptyQueue: 'Hier ist nichts.',
      pending: 'Zu prüfen',
      published: 'Veröffentlicht',
      starred: 'Vorgemerkt',
      on_stage: 'Auf der Bühne',
      answered: 'Beantwortet',
      removed: 'Abgelehnt/verborgen',
      all: 'Alle',
      approve: 'Freigeben',
      reject: 'Ablehnen',
      star: 'Vormerken',
      unstar: 'Nicht mehr vormerken',
      stage: 'Auf die Bühne',
      done: 'Beantwortet',
      edit: 'Bearbeiten',
      answer: 'Antworten',
      hide: 'Verbergen',
      reopen: 'Wieder öffnen',
      timeout: '10 min sperren',
      ban: 'Bannen',
      ban_network: 'Netz bannen (24 h)',
      ban_network_title: 'Bannt die Person und für 24 Stunden ihr Netz (ihre IPv4-Adresse oder ihr IPv6-/64-Netz): von dort keine neuen Identitäten, Fragen oder Stimmen. Trifft alle hinter derselben Adresse, z. B. im Saal-WLAN.',
      save_edit: 'Speichern',
      cancel: 'Abbrechen',
      held: 'Wortliste',
      original: 'Original: {text}',
      answerText: 'Antwort: {text}',
      meta: '#{id} · {author} · {votes} Stimmen · {state}',
      anonymous: 'anonym',
      current: '{title} (aktuell)',
      live: 'Live',
      reconnecting: 'Verbinde neu …',
      saved: 'Gespeichert.',
      failed: 'Fehlgeschlagen: {message}',
      unavailable: 'Die Datenbank der Fragerunde ist gerade nicht erreichbar; nichts wurde geändert. Bitte in {s} s erneut versuchen.',
    },
    en: {
      title: 'Moderation',
      skipToMain: 'Skip to the main content',
      newRoomLabel: 'Title of the new room',
      filterLabel: 'Filter',
      shortcutsOn: 'Single-key shortcuts',
      signinTitle: 'Sign in',
      token: 'Moderator token',
      signin: 'Sign in',
      badToken: 'This token is not a moderator token.',
      room: 'Room',
      makeCurrent: 'Make current',
      roomName: 'Title',
      open: 'Questions open',
      autoApprove: 'Publish without review',
      slowMode: 'Slow mode (s)',
      save: 'Save',
      export: 'Export CSV',
      newRoom: 'New room …',
      create: 'Create',
      shortcuts: 'Keyboard',
      shortcutHelp: 'J/K next/previous · A approve · R reject · S star · P push to speaker · D answered · E edit · H hide · O reopen',
      queue: 'Questions',
      emptyQueue: 'Nothing here.',
      pending: 'To review',
      published: 'Published',
      starred: 'Starred',
      on_stage: 'On stage',
      answered: 'Answered',
      removed: 'Rejected/hidden',
      all: 'All',
      approve: 'Approve',
      reject: 'Reject',
      star: 'Star',
      unstar: 'Unstar',
      stage: 'Push to speaker',
      done: 'Answered',
      edit: 'Edit',
      answer: 'Answer',
      hide: 'Hide',
      reopen: 'Reopen',
      timeout: 'Time out 10 min',
      ban: 'Ban',
      ban_network: 'Ban network (24 h)',
      ban_network_title: 'Bans the person and, for 24 hours, their network (their IPv4 address or IPv6 /64): no new identities, questions or votes from there. Hits everyone behind the same address, e.g. on the venue Wi-Fi.',
      save_edit: 'Save',
      cancel: 'Cancel',
      held: 'word list',
      original: 'Original: {text}',
      answerText: 'Answer: {text}',
      meta: '#{id} · {author} · {votes} votes · {state}',
      anonymous: 'anonymous',
      current: '{title} (current)',
      live: 'Live',
      reconnecting: 'Reconnecting …',
      saved: 'Saved.',
      failed: 'Failed: {message}',
      unavailable: 'The Q&A database cannot be reached right now; nothing was changed. Please try again in {s} s.',
    },
  };
  const { t } = RelayQa.translator(MESSAGES);
  document.title = t('title');
  const el = RelayQa.element;
  const $ = function (id) { return document.getElementById(id); };

  const FILTERS = {
    pending: function (q) { return q.state === 'pending'; },
    published: function (q) { return ['approved', 'starred', 'on_stage'].includes(q.state); },
    starred: function (q) { return q.state === 'starred'; },
    on_stage: function (q) { return q.state === 'on_stage'; },
    answered: function (q) { return q.state === 'answered'; },
    removed: function (q) { return q.state === 'rejected' || q.state === 'hidden'; },
    all: function () { return true; },
  };
  // Which actions make sense in which state (the server checks again).
  const ACTIONS = {
    pending: ['approve', 'reject', 'edit', 'hide'],
    approved: ['star', 'stage', 'done', 'edit', 'answer', 'reject', 'hide'],
    starred: ['stage', 'unstar', 'done', 'edit', 'answer', 'reject', 'hide'],
    on_stage: ['done', 'edit', 'answer', 'hide'],
    answered: ['stage', 'reopen', 'edit', 'answer', 'hide'],
    rejected: ['reopen', 'edit'],
    hidden: ['reopen', 'edit'],
  };
  // Button → API action.
  const API_ACTION = { unstar: 'approve', done: 'answer' };
  const KEYS = { a: 'approve', r: 'reject', s: 'star', p: 'stage', d: 'done', h: 'hide', o: 'reopen' };

  let token = null;
  let feed = null;
  let rooms = [];
  let currentRoom = null;
  let filter = 'pending';
  let selected = null;
  let editing = null;  // { id, kind: 'edit' | 'answer' }
  const questions = new RelayQa.QuestionSet();
  window.relayModerator = { questions: questions };

  function setStatus(value) {
    $('status').dataset.state = value === 'live' ? 'live' : 'reconnecting';
    $('status-text').textContent = t(value);
  }

  function visibleItems() {
    const items = questions.list().filter(FILTERS[filter]);
    items.sort(function (a, b) {
      if (filter === 'pending' || filter === 'all') return a.created - b.created;
      return (b.votes - a.votes) || (a.created - b.created);
    });
    return items;
  }

  function renderFilters() {
    const box = $('filters');
    box.textContent = '';
    const all = questions.list();
    for (const name of Object.keys(FILTERS)) {
      const button = el('button', 'chip', t(name) + ' (' + all.filter(FILTERS[name]).length + ')');
      button.type = 'button';
      button.dataset.filter = name;
      button.setAttribute('aria-pressed', String(name === filter));
      button.addEventListener('click', function () {
        filter = name;
        render();
      });
      box.appendChild(button);
    }
  }

  // What the page says when the server refused: the database being away for a
  // moment (503) is not the moderator's mistake, and they may simply try again.
  function failure(result) {
    const body = result.body && typeof result.body === 'object' ? result.body : {};
    if (result.status === 503 && body.error === 'database_unavailable') {
      return t('unavailable', { s: Number(result.headers.get('Retry-After')) || 1 });
    }
    return t('failed', { message: body.message || body.error || result.status });
  }

  async function act(question, action, text) {
    const apiAction = API_ACTION[action] || action;
    const body = text === undefined ? undefined : { text: text };
    const result = await RelayQa.api('POST', '/api/qa/questions/' + question.id + '/' + apiAction, token, body);
    if (!result.ok) {
      $('room-message').textContent = failure(result);
      return false;
    }
    questions.apply({ type: 'question', question: result.body });
    return true;
  }

  async function sanction(question, kind) {
    const path = '/api/qa/attendees/' + question.author + '/' + kind;
    const bodies = { timeout: { seconds: 600 }, ban: undefined, ban_network: { network: true } };
    const result = await RelayQa.api('POST', path.replace(/ban_network$/, 'ban'), token, bodies[kind]);
    $('room-message').textContent = result.ok ? t('saved') : failure(result);
  }

  function editor(question, kind) {
    const form = el('form', 'qa-ask');
    const area = el('textarea');
    area.rows = 3;
    area.value = kind === 'edit' ? question.text : question.answer || '';
    form.appendChild(area);
    const row = el('div', 'form-row');
    const save = el('button', 'button', t('save_edit'));
    save.type = 'submit';
    const cancel = el('button', 'chip', t('cancel'));
    cancel.type = 'button';
    cancel.addEventListener('click', function () { editing = null; render(); });
    row.appendChild(save);
    row.appendChild(cancel);
    form.appendChild(row);
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      if (await act(question, kind === 'edit' ? 'edit' : 'answer', area.value)) {
        editing = null;
        render();
      }
    });
    setTimeout(function () { area.focus(); }, 0);
    return form;
  }

  function render() {
    RelayQa.keepFocus($('filters'), renderFilters);
    RelayQa.keepFocus($('queue'), renderQueue);
  }

  function renderQueue() {
    const items = visibleItems();
    if (selected !== null && !items.some(function (q) { return q.id === selected; })) selected = null;
    if (selected === null && items.length) selected = items[0].id;
    const queue = $('queue');
    queue.textContent = '';
    for (const question of items) {
      const item = el('li', 'mod-item');
      item.dataset.id = String(question.id);
      item.dataset.state = question.state;
      item.dataset.held = String(Boolean(question.held));
      // aria-current, not aria-selected: a list item with buttons inside is no listbox option.
      item.setAttribute('aria-current', String(question.id === selected));
      item.addEventListener('click', function () {
        if (selected !== question.id) {
          selected = question.id;
          render();
        }
      });
      item.appendChild(el('p', 'qa-text', question.text));
      const meta = el('p', 'qa-meta', t('meta', {
        id: question.id, author: question.author_name || t('anonymous'), votes: question.votes, state: t(question.state) || question.state,
      }));
      if (question.held) meta.appendChild(el('span', 'qa-badge qa-badge--pending', t('held')));
      item.appendChild(meta);
      if (question.original_text) item.appendChild(el('p', 'qa-meta', t('original', { text: question.original_text })));
      if (question.answer) item.appendChild(el('p', 'qa-answer', t('answerText', { text: question.answer })));
      if (editing && editing.id === question.id) {
        item.appendChild(editor(question, editing.kind));
      } else {
        const actions = el('div', 'mod-actions');
        for (const action of ACTIONS[question.state] || []) {
          const button = el('button', null, t(action));
          button.type = 'button';
          button.dataset.action = action;
          button.addEventListener('click', function (event) {
            event.stopPropagation();
            run(question, action);
          });
          actions.appendChild(button);
        }
        if (question.author) {
          for (const kind of ['timeout', 'ban', 'ban_network']) {
            const button = el('button', null, t(kind));
            button.type = 'button';
            if (kind === 'ban_network') button.title = t('ban_network_title');
            button.dataset.action = kind;
            button.addEventListener('click', function (event) {
              event.stopPropagation();
              sanction(question, kind);
            });
            actions.appendChild(button);
          }
        }
        item.appendChild(actions);
      }
      queue.appendChild(item);
    }
    $('queue-empty').hidden = items.length > 0;
  }

  async function run(question, action) {
    if (action === 'edit' || action === 'answer') {
      editing = { id: question.id, kind: action };
      render();
      return;
    }
    // After a decision the selection moves on, so a moderator can work through the queue by keys.
    const items = visibleItems();
    const index = items.findIndex(function (q) { return q.id === question.id; });
    if (await act(question, action)) {
      const remaining = visibleItems();
      if (!remaining.some(function (q) { return q.id === question.id; })) {
        const nextItem = remaining[Math.min(index, remaining.length - 1)];
        selected = nextItem ? nextItem.id : null;
      }
      render();
    }
  }

  // Single-key shortcuts can be turned off (WCAG 2.1.4): speech input users
  // would otherwise trigger them by dictating. On unless the moderator turned them off.
  const SHORTCUTS_KEY = 'relay.moderator.shortcuts';
  const shortcutsBox = $('shortcuts-on');
  shortcutsBox.checked = localStorage.getItem(SHORTCUTS_KEY) !== 'off';
  shortcutsBox.addEventListener('change', function () {
    localStorage.setItem(SHORTCUTS_KEY, shortcutsBox.checked ? 'on' : 'off');
  });

  document.addEventListener('keydown', function (event) {
    if (!token || editing || !shortcutsBox.checked || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')) return;
    const key = event.key.toLowerCase();
    const items = visibleItems();
    const index = items.findIndex(function (q) { return q.id === selected; });
    if (key === 'j' || key === 'arrowdown' || key === 'n') {
      if (items.length) selected = items[Math.min(index + 1, items.length - 1)].id;
      render();
    } else if (key === 'k' || key === 'arrowup') {
      if (items.length) selected = items[Math.max(index - 1, 0)].id;
      render();
    } else if (index >= 0 && (KEYS[key] || key === 'e')) {
      const question = items[index];
      const action = key === 'e' ? 'edit' : KEYS[key];
      if (key === 's' && question.state === 'starred') return;
      if ((ACTIONS[question.state] || []).includes(action) || action === 'approve' || action === 'reject') {
        run(question, action);
      }
    } else {
      return;
    }
    event.preventDefault();
  });

  function selectedRoom() {
    return rooms.find(function (r) { return String(r.id) === String(feed && feed.room); }) || null;
  }

  function renderRooms(currentId) {
    const select = $('room-select');
    select.textContent = '';
    for (const room of rooms) {
      const option = el('option', null, room.id === currentId ? t('current', { title: room.title }) : room.title);
      option.value = String(room.id);
      select.appendChild(option);
    }
    if (feed) select.value = String(feed.room);
    const room = selectedRoom();
    if (room) {
      $('room-name').value = room.title;
      $('room-open').checked = room.open;
      $('room-auto').checked = room.auto_approve;
      $('room-slow').value = String(room.slow_mode_s);
    }
  }

  async function loadRooms() {
    const result = await RelayQa.api('GET', '/api/qa/rooms');
    if (!result.ok) return;
    rooms = result.body.rooms;
    currentRoom = result.body.current_room;
    renderRooms(currentRoom);
  }

  $('room-select').addEventListener('change', function () {
    feed.switchRoom($('room-select').value);
    renderRooms(currentRoom);
  });
  $('room-current').addEventListener('click', async function () {
    const result = await RelayQa.api('POST', '/api/qa/rooms/' + feed.room + '/current', token);
    $('room-message').textContent = result.ok ? t('saved') : failure(result);
    await loadRooms();
  });
  $('room-form').addEventListener('submit', async function (event) {
    event.preventDefault();
    const result = await RelayQa.api('PATCH', '/api/qa/rooms/' + feed.room, token, {
      title: $('room-name').value,
      open: $('room-open').checked,
      auto_approve: $('room-auto').checked,
      slow_mode_s: Number($('room-slow').value) || 0,
    });
    $('room-message').textContent = result.ok ? t('saved') : failure(result);
    await loadRooms();
  });
  $('new-room').addEventListener('submit', async function (event) {
    event.preventDefault();
    const result = await RelayQa.api('POST', '/api/qa/rooms', token, { title: $('new-room-title').value });
    if (result.ok) {
      $('new-room-title').value = '';
      await loadRooms();
      feed.switchRoom(String(result.body.id));
      renderRooms(currentRoom);
    } else {
      $('room-message').textContent = failure(result);
    }
  });
  $('export').addEventListener('click', async function () {
    const response = await fetch('/api/qa/rooms/' + feed.room + '/export.csv', {
      headers: { Authorization: 'Bearer ' + token },
    });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const link = el('a');
    link.href = url;
    link.download = 'qa-room-' + feed.room + '.csv';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  });


  // The programme panel: the agenda with Start/End per talk and "Next talk".
  // The relay moves the Q&A to a started talk's room itself; this page sees
  // that as the feed's current_room event, like any other room change.
  const Programme = window.RelayProgramme;
  let programmePoll = null;

  function renderProgramme(doc) {
    const P = Programme;
    $('programme-panel').hidden = doc.talks.length === 0;
    RelayQa.keepFocus($('agenda-list'), function () {
      P.renderAgenda($('agenda-list'), doc, function (item, talk) {
        const actions = el('div', 'agenda-actions');
        if (talk.actual_start) {
          const started = el('span', 'agenda-actual');
          started.append(P.t('startedAt', { time: '' }), P.timeElement(talk.actual_start, false));
          if (talk.actual_end) started.append(' · ' + P.t('endedAt', { time: '' }), P.timeElement(talk.actual_end, false));
          actions.append(started);
        }
        if (talk.id === doc.on_stage) {
          actions.append(programmeButton('end', P.t('end'), P.t('endTalk', { title: talk.title }), talk));
        } else if (!talk.actual_end) {
          actions.append(programmeButton('start', P.t('start'), P.t('startTalk', { title: talk.title }), talk));
        }
        item.append(actions);
      });
    });
  }

  // Visible text "Start"/"End", the accessible name with the talk's title (WCAG 2.5.3: it begins with the visible text).
  function programmeButton(action, text, label, talk) {
    const button = el('button', 'chip', text);
    button.type = 'button';
    button.dataset.action = 'programme-' + action;
    button.setAttribute('aria-label', label);
    button.addEventListener('click', function () { mark('/api/programme/' + encodeURIComponent(talk.id) + '/' + action, action, talk); });
    return button;
  }

  async function mark(path, action, talk) {
    const P = Programme;
    const message = $('programme-message');
    let result;
    try {
      result = await RelayQa.api('POST', path, token);
    } catch (e) {
      message.textContent = P.t('failed', { message: e.message });
      return;
    }
    if (!result.ok) {
      const reason = result.body && result.body.error;
      message.textContent = ['already_ended', 'not_on_stage', 'nothing_next', 'unknown_talk', 'forbidden'].includes(reason)
        ? P.t(reason) : P.t('failed', { message: (result.body && result.body.message) || result.status });
      programmePoll.refresh();
      return;
    }
    const doc = result.body;
    const onStage = P.find(doc, doc.on_stage);
    message.textContent = action === 'end' ? P.t('ended', { title: talk.title })
      : onStage ? P.t('started', { title: onStage.title }) : '';
    programmePoll.show(doc);
    // The moderator who starts a talk moderates its questions next: the queue
    // follows to its room (the relay made it current for everyone already).
    if (action !== 'end' && onStage && onStage.room !== null && feed && String(feed.room) !== String(onStage.room)) {
      feed.switchRoom(String(onStage.room));
      loadRooms();
    }
  }

  $('programme-next').addEventListener('click', function () { mark('/api/programme/next', 'next', null); });

  function startProgramme() {
    if (!programmePoll) programmePoll = Programme.poll(renderProgramme, 5000, true);
    window.relayModerator.programme = programmePoll;
  }

  function start(value) {
    token = value;
    $('signin').hidden = true;
    $('workspace').hidden = false;
    $('shortcuts').textContent = t('shortcutHelp');
    feed = new RelayQa.Feed({
      token: token,
      onSnapshot: function (message) {
        questions.reset(message.items);
        editing = null;
        loadRooms();
        render();
      },
      onEvent: function (message) {
        if (message.type === 'current_room' || message.type === 'room') {
          loadRooms();
          return;
        }
        if (questions.apply(message)) render();
      },
      onStatus: setStatus,
    });
    window.relayModerator.feed = feed;
    startProgramme();
    window.relayModerator.run = function (id, action) { return run(questions.items.get(id), action); };
  }

  async function check(value) {
    const me = await RelayQa.api('GET', '/api/qa/me', value);
    return me.ok && (me.body.role === 'moderator' || me.body.role === 'admin');
  }

  $('signin').addEventListener('submit', async function (event) {
    event.preventDefault();
    const value = $('signin-token').value.trim();
    if (await check(value)) {
      sessionStorage.setItem(TOKEN_KEY, value);
      start(value);
    } else {
      $('signin-message').textContent = t('badToken');
    }
  });

  (async function () {
    const stored = RelayQa.staffToken(TOKEN_KEY);
    if (stored && await check(stored)) return start(stored);
    sessionStorage.removeItem(TOKEN_KEY);
    $('signin').hidden = false;
  })();
})();
