// The account settings (`/account`), for anyone signed in: the language (kept on the
// account, `PATCH /me`, and in this browser), the notification channels (email, web push:
// `/me/notification-preferences`), web push on this device (subscribed with the VAPID key
// the server publishes), and the account's active sessions, each of which can be ended.
import { $, addStrings, api, el, field, keepLang, lang, problemText, say, signedIn, t } from '/fimy.js';

addStrings({
  fr: {
    lang_title: 'Langue',
    lang_legend: 'Langue des pages et des messages',
    lang_fr: 'Français',
    lang_en: 'English',
    save: 'Enregistrer',
    saved: 'Enregistré.',
    channels_title: 'Notifications',
    channels_legend: 'Me prévenir (livraison, ouverture, réservation, utilisation, remboursement, rappels)',
    channel_email: 'par e-mail',
    channel_push: 'par notification web (sur les appareils abonnés ci-dessous)',
    channels_note: 'Le courriel du cadeau lui-même (la carte et son code) est toujours envoyé.',
    push_title: 'Notifications web sur cet appareil',
    push_on: 'Cet appareil reçoit les notifications web.',
    push_off: 'Cet appareil ne reçoit pas les notifications web.',
    push_enable: 'Activer sur cet appareil',
    push_disable: 'Désactiver sur cet appareil',
    push_working: 'Un instant…',
    push_unsupported: 'Ce navigateur ne sait pas recevoir de notifications web (ou le service de l’application n’y tourne pas).',
    push_denied: 'Les notifications sont refusées pour ce site dans les réglages du navigateur : autorisez-les pour les activer.',
    push_failed: 'Le navigateur n’a pas pu s’abonner auprès de son service de notifications : ',
    push_channel_off: 'Le canal « notification web » est coupé ci-dessus : cet appareil est abonné mais ne recevra rien tant qu’il l’est.',
    sessions_title: 'Sessions actives',
    sessions_intro: 'Les appareils et navigateurs où votre compte est connecté.',
    session_current: 'Cette session (ce navigateur)',
    session_since: 'Connectée le ',
    session_until: 'jusqu’au ',
    session_unknown: 'Appareil inconnu',
    revoke: 'Déconnecter',
    revoke_others: 'Déconnecter toutes les autres sessions',
    revoked: 'Session terminée : cet appareil devra se reconnecter.',
    no_other_sessions: 'Aucune autre session.',
  },
  en: {
    lang_title: 'Language',
    lang_legend: 'Language of the pages and messages',
    lang_fr: 'Français',
    lang_en: 'English',
    save: 'Save',
    saved: 'Saved.',
    channels_title: 'Notifications',
    channels_legend: 'Tell me (delivery, opening, booking, use, refunds, reminders)',
    channel_email: 'by email',
    channel_push: 'by web notification (on the devices subscribed below)',
    channels_note: 'The gift email itself (the card and its code) is always sent.',
    push_title: 'Web notifications on this device',
    push_on: 'This device receives web notifications.',
    push_off: 'This device does not receive web notifications.',
    push_enable: 'Turn on for this device',
    push_disable: 'Turn off for this device',
    push_working: 'One moment…',
    push_unsupported: 'This browser cannot receive web notifications (or the app’s service worker does not run in it).',
    push_denied: 'Notifications are blocked for this site in the browser’s settings: allow them to turn this on.',
    push_failed: 'The browser could not subscribe with its push service: ',
    push_channel_off: 'The “web notification” channel is off above: this device is subscribed but gets nothing while it is.',
    sessions_title: 'Active sessions',
    sessions_intro: 'The devices and browsers where your account is logged in.',
    session_current: 'This session (this browser)',
    session_since: 'Logged in ',
    session_until: 'until ',
    session_unknown: 'Unknown device',
    revoke: 'Log out',
    revoke_others: 'Log out every other session',
    revoked: 'Session ended: that device will have to log in again.',
    no_other_sessions: 'No other sessions.',
  },
});

function stamp(iso) {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', {
    dateStyle: 'medium', timeStyle: 'short',
  }).format(new Date(iso));
}

/** "Firefox · Linux" from a User-Agent, for a person to recognise their device. */
function device(ua) {
  if (!ua) return t('session_unknown');
  const browser = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'],
    ['Safari/', 'Safari'], ['curl/', 'curl']].find(([k]) => ua.includes(k));
  const system = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Windows', 'Windows'],
    ['Mac OS X', 'macOS'], ['Linux', 'Linux']].find(([k]) => ua.includes(k));
  const name = [browser?.[1], system?.[1]].filter(Boolean).join(' · ');
  return name || ua.slice(0, 60);
}

// ------------------------------------------------------------------ language

function languagePanel() {
  const status = el('p', { id: 'lang-status', role: 'status', 'aria-live': 'polite' });
  // What the pages show now (this browser's choice); saving it keeps it on the account too.
  const current = lang;
  const option = (code) => el('label', { class: 'choice', lang: code },
    el('input', { type: 'radio', name: 'locale', value: code, id: `locale-${code}`, checked: current === code }),
    ' ', t('lang_' + code));
  const form = el('form', { id: 'lang-form' },
    el('fieldset', {}, el('legend', { text: t('lang_legend') }), option('fr'), option('en')),
    el('button', { type: 'submit', text: t('save') }), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const locale = form.querySelector('input[name=locale]:checked')?.value;
    if (!locale) return;
    try {
      await api('PATCH', '/me', { locale });
      keepLang(locale);
      if (locale === lang) say(t('saved'), status, 'done');
      else location.reload();
    } catch (e) { say(problemText(e), status, 'error'); }
  });
  return el('section', { class: 'panel', 'aria-labelledby': 'lang-title' },
    el('h2', { id: 'lang-title', text: t('lang_title') }), form);
}

// ------------------------------------------------------------------ channels

async function channelsPanel(onChange) {
  const prefs = await api('GET', '/me/notification-preferences');
  const status = el('p', { id: 'channels-status', role: 'status', 'aria-live': 'polite' });
  const box = (id, label, checked) => el('label', { class: 'choice' },
    el('input', { type: 'checkbox', id, checked }), ' ', label);
  const form = el('form', { id: 'channels-form' },
    el('fieldset', {}, el('legend', { text: t('channels_legend') }),
      box('channel-email', t('channel_email'), prefs.email),
      box('channel-push', t('channel_push'), prefs.push)),
    el('p', { class: 'muted small', text: t('channels_note') }),
    el('button', { type: 'submit', text: t('save') }), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const saved = await api('PUT', '/me/notification-preferences', {
        email: $('channel-email').checked, push: $('channel-push').checked,
      });
      say(t('saved'), status, 'done');
      onChange(saved);
    } catch (e) { say(problemText(e), status, 'error'); }
  });
  return { node: el('section', { class: 'panel', 'aria-labelledby': 'channels-title' },
    el('h2', { id: 'channels-title', text: t('channels_title') }), form), prefs };
}

// ------------------------------------------------------------------ web push

/** The VAPID key (base64url) as the bytes `PushManager.subscribe` takes. */
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

const within = (promise, ms) => Promise.race([promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);

function pushPanel(prefs) {
  const status = el('p', { id: 'push-status', role: 'status', 'aria-live': 'polite' });
  const note = el('p', { id: 'push-note', class: 'muted small' });
  const button = el('button', { type: 'button', id: 'push-toggle', hidden: true });
  let subscription = null;
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

  const render = () => {
    say(subscription ? t('push_on') : t('push_off'), status);
    button.textContent = subscription ? t('push_disable') : t('push_enable');
    button.hidden = false;
    note.textContent = subscription && !prefs.push ? t('push_channel_off') : '';
  };
  const registration = async () => {
    const reg = await navigator.serviceWorker.register('/sw.js');
    await within(navigator.serviceWorker.ready, 10_000);
    return reg;
  };
  const enable = async () => {
    if (Notification.permission === 'denied' || (await Notification.requestPermission()) !== 'granted') {
      say(t('push_denied'), status, 'error');
      return;
    }
    const { key } = await api('GET', '/push/vapid-public-key');
    let sub;
    try {
      const reg = await registration();
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
    } catch (e) {
      say(t('push_failed') + (e.message || e.name), status, 'error');
      return;
    }
    await api('POST', '/push/subscriptions', sub.toJSON());
    subscription = sub;
    render();
  };
  const disable = async () => {
    await api('DELETE', '/push/subscriptions', { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
    subscription = null;
    render();
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    say(t('push_working'), status);
    try {
      await (subscription ? disable() : enable());
    } catch (e) {
      say(problemText(e), status, 'error');
    } finally {
      button.disabled = false;
    }
  });
  (async () => {
    if (!supported) { say(t('push_unsupported'), status); return; }
    try {
      const reg = await navigator.serviceWorker.getRegistration('/');
      subscription = reg ? await reg.pushManager.getSubscription() : null;
      render();
    } catch {
      say(t('push_unsupported'), status);
    }
  })();
  return {
    node: el('section', { class: 'panel', 'aria-labelledby': 'push-title' },
      el('h2', { id: 'push-title', text: t('push_title') }), status, note, button),
    channels: (p) => { prefs = p; if (!button.hidden) render(); },
  };
}

// ------------------------------------------------------------------ sessions

function sessionsPanel() {
  const status = el('p', { id: 'sessions-status', role: 'status', 'aria-live': 'polite' });
  const list = el('ul', { id: 'sessions', class: 'sessions' });
  const others = el('button', { type: 'button', id: 'revoke-others', class: 'secondary', text: t('revoke_others'), hidden: true });
  const revoke = async (ids) => {
    try {
      for (const id of ids) await api('DELETE', `/me/sessions/${id}`);
      say(t('revoked'), status, 'done');
    } catch (e) { say(problemText(e), status, 'error'); }
    await load();
  };
  const load = async () => {
    const sessions = await api('GET', '/me/sessions');
    const rest = sessions.filter((s) => !s.current);
    others.hidden = rest.length < 2;
    others.onclick = () => revoke(rest.map((s) => s.id));
    const items = sessions.map((s) => el('li', { 'data-session': s.id, 'data-current': s.current ? 'true' : 'false' },
      el('strong', { text: s.current ? t('session_current') : device(s.user_agent) }),
      el('span', { class: 'muted', text: ` — ${t('session_since')}${stamp(s.created_at)}, ${t('session_until')}${stamp(s.expires_at)}` }),
      s.current ? null : el('button', {
        type: 'button', class: 'secondary', text: t('revoke'),
        'aria-label': `${t('revoke')} — ${device(s.user_agent)}, ${stamp(s.created_at)}`,
        onclick: () => revoke([s.id]),
      })));
    if (!rest.length) items.push(el('li', { class: 'muted', text: t('no_other_sessions') }));
    list.replaceChildren(...items);
  };
  load().catch((e) => say(problemText(e), status, 'error'));
  return el('section', { class: 'panel', 'aria-labelledby': 'sessions-title' },
    el('h2', { id: 'sessions-title', text: t('sessions_title') }),
    el('p', { class: 'muted', text: t('sessions_intro') }), list, others, status);
}

// ------------------------------------------------------------------ page

export default async function accountPage() {
  await signedIn();
  const app = $('app');
  let push = null;
  const channels = await channelsPanel((p) => push && push.channels(p));
  push = pushPanel(channels.prefs);
  app.replaceChildren(languagePanel(), channels.node, push.node, sessionsPanel());
}
