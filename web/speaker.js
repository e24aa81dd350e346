// The speaker's confidence monitor: the question on stage in large type and the
// next shortlisted (starred) ones, following whichever room is current.
(function () {
  'use strict';

  const TOKEN_KEY = 'relay.qa.speaker';
  const NEXT_COUNT = 4;
  const MESSAGES = {
    de: {
      title: 'Fragen für die Bühne',
      signinTitle: 'Anmelden',
      token: 'Token',
      signin: 'Anmelden',
      badToken: 'Dieses Token ist nicht gültig.',
      idle: 'Gerade keine Frage auf der Bühne.',
      onStage: 'Jetzt auf der Bühne',
      next: 'Als Nächstes',
      anonymous: 'Anonym',
      votes: '{n} Stimmen',
      offline: 'Verbindung unterbrochen – verbinde neu …',
    },
    en: {
      title: 'Questions for the stage',
      signinTitle: 'Sign in',
      token: 'Token',
      signin: 'Sign in',
      badToken: 'This token is not valid.',
      idle: 'No question on stage.',
      onStage: 'On stage now',
      next: 'Next',
      anonymous: 'Anonymous',
      votes: '{n} votes',
      offline: 'Connection lost – reconnecting …',
    },
  };
  const { t } = RelayQa.translator(MESSAGES);
  document.title = t('title');
  const el = RelayQa.element;

  const signin = document.getElementById('signin');
  const monitor = document.getElementById('monitor');
  const idle = document.getElementById('idle');
  const stageText = document.getElementById('stage-text');
  const stageAuthor = document.getElementById('stage-author');
  const next = document.getElementById('next');
  const status = document.getElementById('status');

  const questions = new RelayQa.QuestionSet();
  let feed = null;
  window.relaySpeaker = { questions: questions };

  function render() {
    const all = questions.list();
    const onStage = all.find(function (q) { return q.state === 'on_stage'; });
    idle.hidden = Boolean(onStage);
    stageText.textContent = onStage ? onStage.text : '';
    stageAuthor.textContent = onStage ? (onStage.author_name || t('anonymous')) : '';
    const starred = all.filter(function (q) { return q.state === 'starred'; });
    starred.sort(function (a, b) { return (b.votes - a.votes) || (a.created - b.created); });
    next.textContent = '';
    for (const q of starred.slice(0, NEXT_COUNT)) next.appendChild(el('li', null, q.text));
    next.parentElement.hidden = starred.length === 0;
  }


  // The talk on stage and the time left in its planned slot, counted down each
  // second from the viewer's clock; past the planned end it counts up as +mm:ss
  // with the words "over time". With nothing on stage: the next talk and its start.
  const Programme = window.RelayProgramme;
  let programme = null;

  function renderSlot() {
    const P = Programme;
    const box = document.getElementById('talk');
    const slot = document.getElementById('slot');
    const talk = programme && (P.find(programme, programme.on_stage) || P.find(programme, programme.next));
    box.hidden = !talk;
    if (!talk) return;
    const onStage = talk.id === programme.on_stage;
    document.getElementById('talk-title').textContent = onStage ? talk.title
      : P.t('next') + ': ' + talk.title + ' (' + P.t('startsAt', { time: P.formatTime(talk.planned_start, P.severalDays(programme)) }) + ')';
    slot.hidden = !onStage;
    if (!onStage) return;
    const left = (Date.parse(talk.planned_end) - Date.now()) / 1000;
    const overrun = left < 0;
    slot.dataset.overrun = String(overrun);
    document.getElementById('slot-left').textContent = P.countdown(left);
    document.getElementById('slot-over').hidden = !overrun;
  }

  function startProgramme() {
    Programme.poll(function (doc) { programme = doc; renderSlot(); }, 5000, true);
    setInterval(renderSlot, 1000);
  }

  function start(token) {
    signin.hidden = true;
    monitor.hidden = false;
    feed = new RelayQa.Feed({
      token: token,
      onSnapshot: function (message) { questions.reset(message.items); render(); },
      onEvent: function (message) {
        if (message.type === 'current_room') return feed.switchRoom(String(message.current_room));
        if (questions.apply(message)) render();
      },
      onStatus: function (value) {
        status.hidden = value === 'live';
        status.textContent = value === 'live' ? '' : t('offline');
      },
    });
    window.relaySpeaker.feed = feed;
    startProgramme();
  }

  async function check(token) {
    const me = await RelayQa.api('GET', '/api/qa/me', token);
    return me.ok && me.body.role !== 'attendee';
  }

  signin.addEventListener('submit', async function (event) {
    event.preventDefault();
    const token = document.getElementById('signin-token').value.trim();
    if (await check(token)) {
      sessionStorage.setItem(TOKEN_KEY, token);
      start(token);
    } else {
      document.getElementById('signin-message').textContent = t('badToken');
    }
  });

  (async function () {
    const token = RelayQa.staffToken(TOKEN_KEY);
    if (token && await check(token)) return start(token);
    sessionStorage.removeItem(TOKEN_KEY);
    signin.hidden = false;
  })();
})();
