// The programme as GET /api/programme gives it, for the attendee, moderator and
// speaker pages: its texts in German and English, times in the viewer's own zone,
// the agenda list, and a poll that keeps it current. The list is public and
// cacheable for a moment, so thousands of attendees polling it cost the relay
// (or a cache in front of it) one answer every few seconds.
(function () {
  'use strict';

  const PATH = '/api/programme';
  const MESSAGES = {
    de: {
      programme: 'Programm',
      agenda: 'Ganzes Programm',
      now: 'Jetzt',
      next: 'Als Nächstes',
      nothingNow: 'Gerade kein Vortrag',
      nothingNext: 'Kein weiterer Vortrag',
      markNow: 'läuft',
      markNext: 'als Nächstes',
      markDone: 'vorbei',
      startedAt: 'begonnen {time}',
      endedAt: 'beendet {time}',
      by: 'mit {names}',
      start: 'Starten',
      startTalk: '„{title}“ starten',
      end: 'Beenden',
      endTalk: '„{title}“ beenden',
      nextTalk: 'Nächster Vortrag',
      started: '„{title}“ läuft; die Fragen gehen jetzt in seinen Raum.',
      ended: '„{title}“ ist beendet.',
      already_ended: 'Dieser Vortrag ist schon beendet und kann nicht noch einmal starten.',
      not_on_stage: 'Dieser Vortrag läuft gerade nicht.',
      nothing_next: 'Es gibt keinen weiteren Vortrag.',
      unknown_talk: 'Diesen Vortrag gibt es nicht (mehr) im Programm.',
      forbidden: 'Dieses Token darf das Programm nicht ändern.',
      failed: 'Fehlgeschlagen: {message}',
      slotLeft: 'Verbleibende Zeit',
      overrun: 'überzogen',
      startsAt: 'beginnt um {time}',
      noTalk: 'Kein Vortrag auf der Bühne',
      chapters: 'Kapitel',
    },
    en: {
      programme: 'Programme',
      agenda: 'Whole agenda',
      now: 'Now',
      next: 'Next',
      nothingNow: 'No talk right now',
      nothingNext: 'No further talk',
      markNow: 'now',
      markNext: 'next',
      markDone: 'over',
      startedAt: 'started {time}',
      endedAt: 'ended {time}',
      by: 'with {names}',
      start: 'Start',
      startTalk: 'Start “{title}”',
      end: 'End',
      endTalk: 'End “{title}”',
      nextTalk: 'Next talk',
      started: '“{title}” is on; questions now go to its room.',
      ended: '“{title}” has ended.',
      already_ended: 'This talk has already ended and cannot start again.',
      not_on_stage: 'This talk is not on stage.',
      nothing_next: 'There is no further talk.',
      unknown_talk: 'This talk is not (or no longer) in the programme.',
      forbidden: 'This token may not change the programme.',
      failed: 'Failed: {message}',
      slotLeft: 'Time left',
      overrun: 'over time',
      startsAt: 'starts at {time}',
      noTalk: 'No talk on stage',
      chapters: 'Chapters',
    },
  };

  function pickLanguage() {
    for (const tag of navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en']) {
      const primary = String(tag).toLowerCase().split('-')[0];
      if (primary === 'de' || primary === 'en') return primary;
    }
    return 'en';
  }

  const lang = pickLanguage();
  function t(key, params) {
    let text = MESSAGES[lang][key] || MESSAGES.en[key] || key;
    for (const [name, value] of Object.entries(params || {})) text = text.split('{' + name + '}').join(String(value));
    return text;
  }
  // data-prog-* rather than data-i18n or data-qa-i18n: these pages share their
  // document with the player's and the Q&A's own tables.
  for (const element of document.querySelectorAll('[data-prog-i18n]')) element.textContent = t(element.dataset.progI18n);
  for (const element of document.querySelectorAll('[data-prog-label]')) element.setAttribute('aria-label', t(element.dataset.progLabel));

  // Hours and minutes in the viewer's zone (Intl's default); a programme over
  // several days also names the weekday, so "09:00" is never ambiguous.
  const clock = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });
  const dayClock = new Intl.DateTimeFormat(lang, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const dayKey = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' });

  function severalDays(doc) {
    return new Set(doc.talks.map(function (talk) { return dayKey.format(new Date(talk.planned_start)); })).size > 1;
  }

  function formatTime(iso, withDay) {
    return (withDay ? dayClock : clock).format(new Date(iso));
  }

  function timeElement(iso, withDay) {
    const node = document.createElement('time');
    node.dateTime = new Date(iso).toISOString();
    node.textContent = formatTime(iso, withDay);
    return node;
  }

  function find(doc, id) {
    return id ? doc.talks.find(function (talk) { return talk.id === id; }) || null : null;
  }

  function speakers(talk) {
    return talk.speakers && talk.speakers.length ? t('by', { names: talk.speakers.join(', ') }) : '';
  }

  // Seconds left as mm:ss (minutes unbounded, so a 90-minute slot reads 90:00),
  // rounded up so 00:00 means the slot is over; past it, the overrun as +mm:ss.
  function countdown(secondsLeft) {
    const whole = secondsLeft >= 0 ? Math.ceil(secondsLeft) : Math.floor(-secondsLeft);
    const text = String(Math.floor(whole / 60)).padStart(2, '0') + ':' + String(whole % 60).padStart(2, '0');
    return secondsLeft < 0 ? '+' + text : text;
  }

  function state(doc, talk) {
    if (talk.id === doc.on_stage) return 'now';
    if (talk.id === doc.next) return 'next';
    if (talk.actual_end) return 'done';
    return 'planned';
  }

  // The agenda as an ordered list: slot, title, speakers and a written mark
  // ("now", "next", "over": never colour alone). `extend(item, talk)` adds a
  // page's own parts (the moderator's buttons).
  function renderAgenda(list, doc, extend) {
    const withDay = severalDays(doc);
    list.textContent = '';
    for (const talk of doc.talks) {
      const item = document.createElement('li');
      item.className = 'agenda-item';
      item.dataset.id = talk.id;
      item.dataset.state = state(doc, talk);
      const slot = document.createElement('span');
      slot.className = 'agenda-slot';
      slot.append(timeElement(talk.planned_start, withDay), '–', timeElement(talk.planned_end, false));
      const title = document.createElement('span');
      title.className = 'agenda-title';
      title.textContent = talk.title;
      if (talk.language) title.lang = talk.language;
      item.append(slot, ' ', title);
      const names = speakers(talk);
      if (names) {
        const who = document.createElement('span');
        who.className = 'agenda-speakers';
        who.textContent = names;
        item.append(' ', who);
      }
      const markKey = { now: 'markNow', next: 'markNext', done: 'markDone' }[item.dataset.state];
      if (markKey) {
        const mark = document.createElement('span');
        mark.className = 'agenda-mark';
        mark.textContent = t(markKey);
        item.append(' ', mark);
      }
      if (extend) extend(item, talk);
      list.appendChild(item);
    }
  }

  // `fresh`: past any cache (the moderator must not see a programme older than their own mark).
  async function load(fresh) {
    const response = await fetch(PATH, { headers: { Accept: 'application/json' }, cache: fresh ? 'no-cache' : 'default' });
    if (!response.ok) throw new Error(PATH + ': ' + response.status);
    return response.json();
  }

  // Calls onUpdate(doc) now and every `intervalMs` while the page is open; a
  // failed poll keeps the last programme shown and tries again on the next tick.
  function poll(onUpdate, intervalMs, fresh) {
    let last = null;
    async function tick() {
      try {
        const doc = await load(fresh);
        const text = JSON.stringify(doc);
        if (text !== last) {
          last = text;
          onUpdate(doc);
        }
      } catch (e) { /* the relay restarting: the next tick tries again */ }
    }
    tick();
    const timer = setInterval(tick, intervalMs);
    return {
      refresh: tick,
      // A page that got the programme another way (a mark's answer) shows it at once.
      show: function (doc) { last = JSON.stringify(doc); onUpdate(doc); },
      stop: function () { clearInterval(timer); },
    };
  }

  window.RelayProgramme = {
    lang: lang,
    t: t,
    load: load,
    poll: poll,
    find: find,
    speakers: speakers,
    countdown: countdown,
    formatTime: formatTime,
    timeElement: timeElement,
    severalDays: severalDays,
    renderAgenda: renderAgenda,
  };
})();
