// The attendee page's programme: the talk on stage and the next one, and the
// whole agenda in a disclosure, kept current by polling the public programme.
// Other parts of the page (the player's chapter marks) get each new programme
// as a "relayprogramme" event on the document.
(function () {
  'use strict';

  const POLL_MS = 5000;
  const P = window.RelayProgramme;
  const section = document.getElementById('programme');
  const current = document.getElementById('programme-current');
  const next = document.getElementById('programme-next');
  const list = document.getElementById('agenda-list');

  // "Title – with A, B (09:00–10:00)"; `fallback` when there is no such talk.
  function describe(target, talk, fallback, withDay) {
    target.textContent = '';
    if (!talk) {
      target.textContent = fallback;
      return;
    }
    const title = document.createElement('strong');
    title.textContent = talk.title;
    if (talk.language) title.lang = talk.language;
    target.append(title);
    const names = P.speakers(talk);
    if (names) target.append(' – ' + names);
    target.append(' (', P.timeElement(talk.planned_start, withDay), '–', P.timeElement(talk.planned_end, false), ')');
  }

  function show(doc) {
    window.relayAgenda.doc = doc;
    section.hidden = doc.talks.length === 0;
    const withDay = P.severalDays(doc);
    describe(current, P.find(doc, doc.on_stage), P.t('nothingNow'), withDay);
    describe(next, P.find(doc, doc.next), P.t('nothingNext'), withDay);
    P.renderAgenda(list, doc);
    document.dispatchEvent(new CustomEvent('relayprogramme', { detail: doc }));
  }

  window.relayAgenda = { doc: null };
  window.relayAgenda.poll = P.poll(show, POLL_MS);
})();
