// The recordings page (/vod/): lists the recorded events and their talks from
// /api/vod, plays a talk or the whole event with hls.js (native HLS where
// there is no MSE), and seeks the whole event to a talk from its chapter list.
// Asks for the event code when the relay wants one (403 code_required). Every
// piece of text from the server goes on the page with textContent.
(function () {
  'use strict';

  const messages = {
    en: {
      title: 'Recordings',
      signinTitle: 'Event code',
      signinHelp: "The recordings are for the event's attendees. Enter the event code you were given.",
      code: 'Event code',
      signin: 'Open',
      wrongCode: 'That is not the event code.',
      tooMany: 'Too many attempts. Please wait a minute and try again.',
      loading: 'Loading the recordings…',
      none: 'No recordings yet.',
      failed: 'The recordings could not be loaded.',
      event: 'Event of {date}',
      wholeEvent: 'The whole event',
      chapters: 'Chapters',
      talks: 'Talks',
      speakers: 'Speakers: {names}',
      when: '{start} to {end}',
      duration: 'Duration: {duration}',
      play: 'Play',
      playLabel: 'Play “{title}”',
      player: 'Player for “{title}”',
      eventPlayer: 'Player for the whole event',
      downloads: 'Downloads',
      downloadVideo: 'Video {rendition} (MP4)',
      downloadCaptions: 'Captions {language} (WebVTT)',
      questionsCsv: 'Answered questions (CSV)',
      questionsJson: 'Answered questions (JSON)',
      in_progress: 'On stage now: the recording is available when the talk ends.',
      not_started: 'Not started yet.',
      not_recorded: 'This talk was not recorded.',
    },
    de: {
      title: 'Aufzeichnungen',
      signinTitle: 'Veranstaltungscode',
      signinHelp: 'Die Aufzeichnungen sind für die Teilnehmenden. Bitte geben Sie den Veranstaltungscode ein, den Sie erhalten haben.',
      code: 'Veranstaltungscode',
      signin: 'Öffnen',
      wrongCode: 'Das ist nicht der Veranstaltungscode.',
      tooMany: 'Zu viele Versuche. Bitte warten Sie eine Minute.',
      loading: 'Die Aufzeichnungen werden geladen …',
      none: 'Noch keine Aufzeichnungen.',
      failed: 'Die Aufzeichnungen konnten nicht geladen werden.',
      event: 'Veranstaltung vom {date}',
      wholeEvent: 'Die ganze Veranstaltung',
      chapters: 'Kapitel',
      talks: 'Vorträge',
      speakers: 'Vortragende: {names}',
      when: '{start} bis {end}',
      duration: 'Dauer: {duration}',
      play: 'Abspielen',
      playLabel: '„{title}“ abspielen',
      player: 'Player für „{title}“',
      eventPlayer: 'Player für die ganze Veranstaltung',
      downloads: 'Downloads',
      downloadVideo: 'Video {rendition} (MP4)',
      downloadCaptions: 'Untertitel {language} (WebVTT)',
      questionsCsv: 'Beantwortete Fragen (CSV)',
      questionsJson: 'Beantwortete Fragen (JSON)',
      in_progress: 'Läuft gerade: die Aufzeichnung gibt es, sobald der Vortrag endet.',
      not_started: 'Noch nicht begonnen.',
      not_recorded: 'Dieser Vortrag wurde nicht aufgezeichnet.',
    },
  };

  const { t, lang } = window.RelayQa.translator(messages);
  document.title = t('title');
  const status = document.getElementById('status');
  const signin = document.getElementById('signin');
  const recordings = document.getElementById('recordings');
  const players = [];  // { video, hls } of every player made, for tests and to stop others on play

  const timeFormat = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  const hourFormat = new Intl.DateTimeFormat(lang, { timeStyle: 'short' });
  const dayFormat = new Intl.DateTimeFormat(lang, { dateStyle: 'full' });

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) node.append(child);
    return node;
  }

  function formatDuration(seconds) {
    const total = Math.round(seconds);
    const h = Math.floor(total / 3600), m = Math.floor(total / 60) % 60, s = total % 60;
    const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(s).padStart(2, '0');
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // A video element playing `url`: hls.js where Media Source Extensions exist, else native HLS.
  function attach(video, url) {
    const entry = { video: video, hls: null, url: url };
    if (window.Hls && Hls.isSupported()) {
      entry.hls = new Hls({ enableWorker: true });
      entry.hls.loadSource(url);
      entry.hls.attachMedia(video);
    } else {
      video.src = url;
    }
    video.addEventListener('play', () => {
      for (const other of players) if (other.video !== video) other.video.pause();
    });
    players.push(entry);
    return entry;
  }

  function talkItem(talk) {
    const id = `talk-${talk.id}`;
    const item = el('li', { className: 'panel vod-talk' });
    item.dataset.talk = talk.id;
    const heading = el('h4', { id: id, textContent: talk.title });
    item.append(heading);
    if (talk.speakers && talk.speakers.length)
      item.append(el('p', { className: 'vod-meta', textContent: t('speakers', { names: talk.speakers.join(', ') }) }));
    if (talk.start && talk.end) {
      const start = new Date(talk.start), end = new Date(talk.end);
      const when = el('p', { className: 'vod-meta' });
      const startTime = el('time', { dateTime: talk.start, textContent: timeFormat.format(start) });
      const endTime = el('time', { dateTime: talk.end, textContent: hourFormat.format(end) });
      const parts = t('when', { start: '\u0000', end: '\u0001' }).split(/(\u0000|\u0001)/);
      for (const part of parts) when.append(part === '\u0000' ? startTime : part === '\u0001' ? endTime : part);
      item.append(when);
    }
    if (talk.state !== 'available') {
      item.append(el('p', { className: 'vod-meta', textContent: t(talk.state) }));
      return item;
    }
    item.append(el('p', { className: 'vod-meta', textContent: t('duration', { duration: formatDuration(talk.duration_s) }) }));
    const play = el('button', { type: 'button', className: 'button vod-play', textContent: t('play') });
    play.setAttribute('aria-label', t('playLabel', { title: talk.title }));
    play.addEventListener('click', () => {
      let video = item.querySelector('video');
      if (!video) {
        video = el('video', { className: 'vod-video', controls: true, preload: 'metadata' });
        video.setAttribute('aria-label', t('player', { title: talk.title }));
        play.after(video);
        attach(video, talk.urls.master);
      }
      video.play().catch(() => {});
      video.focus();
    });
    item.append(play);
    const links = [];
    for (const [rendition, url] of Object.entries(talk.urls.mp4 || {}))
      links.push([url, t('downloadVideo', { rendition: rendition })]);
    for (const [language, url] of Object.entries(talk.urls.captions || {}))
      links.push([url, t('downloadCaptions', { language: language })]);
    links.push([talk.urls.questions_csv, t('questionsCsv')], [talk.urls.questions_json, t('questionsJson')]);
    const downloadsId = `${id}-downloads`;
    const list = el('ul', { className: 'vod-downloads' });
    list.setAttribute('aria-labelledby', downloadsId);
    for (const [url, label] of links) list.append(el('li', {}, [el('a', { href: url, download: '', textContent: label })]));
    item.append(el('h5', { id: downloadsId, className: 'visually-hidden', textContent: t('downloads') }), list);
    return item;
  }

  function eventSection(event) {
    const headingId = `event-${event.id}`;
    const section = el('section', { className: 'vod-event' });
    section.dataset.event = event.id;
    section.setAttribute('aria-labelledby', headingId);
    const first = event.talks.find((talk) => talk.start);
    const day = first ? dayFormat.format(new Date(first.start)) : event.id;
    section.append(el('h2', { id: headingId, textContent: t('event', { date: day }) }));

    if (event.chapters.length) {
      const whole = el('div', { className: 'vod-whole' });
      whole.append(el('h3', { textContent: t('wholeEvent') }));
      const video = el('video', { className: 'vod-video vod-event-video', controls: true, preload: 'metadata' });
      video.setAttribute('aria-label', t('eventPlayer'));
      const track = el('track', { kind: 'chapters', src: event.urls.chapters, srclang: lang, label: t('chapters'), default: true });
      video.append(track);
      whole.append(video);
      const chaptersId = `${headingId}-chapters`;
      whole.append(el('h4', { id: chaptersId, textContent: t('chapters') }));
      const chapters = el('ol', { className: 'vod-chapters' });
      chapters.setAttribute('aria-labelledby', chaptersId);
      let player = null;
      for (const chapter of event.chapters) {
        const button = el('button', { type: 'button', className: 'button vod-chapter',
          textContent: `${formatDuration(chapter.start_s)} ${chapter.title}` });
        button.dataset.talk = chapter.talk;
        button.dataset.start = String(chapter.start_s);
        button.addEventListener('click', () => {
          if (!player) player = attach(video, event.urls.master);
          const seek = () => {
            video.currentTime = chapter.start_s;
            video.play().catch(() => {});
          };
          if (video.readyState >= 1) seek();
          else video.addEventListener('loadedmetadata', seek, { once: true });
        });
        chapters.append(el('li', {}, [button]));
      }
      whole.append(chapters);
      section.append(whole);
      // Played from the start without a chapter: attach on first play.
      video.addEventListener('play', () => { if (!player) player = attach(video, event.urls.master); }, { once: true });
      video.addEventListener('click', () => { if (!player) player = attach(video, event.urls.master); }, { once: true });
    }

    section.append(el('h3', { textContent: t('talks') }));
    const list = el('ul', { className: 'vod-talks' });
    for (const talk of event.talks) list.append(talkItem(talk));
    section.append(list);
    return section;
  }

  async function load() {
    status.textContent = t('loading');
    let result;
    try {
      result = await window.RelayQa.api('GET', '/api/vod');
    } catch (err) {
      status.textContent = t('failed');
      return;
    }
    if (result.status === 403) {
      status.textContent = '';
      signin.hidden = false;
      document.getElementById('signin-token').focus();
      return;
    }
    if (!result.ok) {
      status.textContent = t('failed');
      return;
    }
    signin.hidden = true;
    recordings.replaceChildren();
    // Newest event first: the one people come for.
    const events = result.body.events.slice().reverse();
    for (const event of events) recordings.append(eventSection(event));
    status.textContent = events.length ? '' : t('none');
    recordings.hidden = false;
  }

  async function openWith(code) {
    const message = document.getElementById('signin-message');
    message.textContent = '';
    const result = await window.RelayQa.api('POST', '/api/vod/session', null, { code: code });
    if (result.ok) {
      document.getElementById('signin-token').value = '';
      await load();
      const heading = recordings.querySelector('h2');
      if (heading) { heading.tabIndex = -1; heading.focus(); }
      return;
    }
    signin.hidden = false;
    message.textContent = result.status === 429 ? t('tooMany') : t('wrongCode');
  }

  signin.addEventListener('submit', (e) => {
    e.preventDefault();
    openWith(document.getElementById('signin-token').value);
  });

  window.relayVod = { players: players, reload: load };
  // A link may carry the code as #token=… (as the staff pages take theirs); it leaves the address at once.
  const fromAddress = window.RelayQa.tokenFromAddress();
  if (fromAddress) openWith(fromAddress);
  else load();
})();
