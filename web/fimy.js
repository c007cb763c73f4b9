// The Fimy web app: one ES module, no build step. Each page (`data-page` on <body>) is a
// view over the REST API and the live `/ws` topics:
// - `wallet`: a donor buys a gift in the sandbox and follows each gift's lifecycle live;
// - `gift`: a recipient opens a gift by its code, books a slot against live availability,
//   confirms, shows the rotating code at the venue and answers the validation request;
// - `tablet`: a partner's tablet follows its calendar live, validates a guest's code and
//   takes amounts from value cards on a keypad (`/pages/tablet-redeem.js`).
// Data only ever reaches the page through textContent / createElement (the CSP forbids
// inline code). Writes authenticated by the session cookie echo the `fimy_csrf` cookie in
// `X-CSRF-Token`. Strings come from one dictionary, in French or English.

const DICT = {
  fr: {
    skip: 'Aller au contenu',
    nav_catalogue: 'Catalogue',
    nav_wallet: 'Mes cadeaux offerts',
    nav_gift: 'J’ai reçu un cadeau',
    nav_tablet: 'Tablette partenaire',
    nav_account: 'Mon compte',
    nav_admin: 'Administration',
    nav_portal: 'Espace partenaire',
    lang_switch: 'English',
    login_title: 'Connexion',
    email: 'Adresse e-mail',
    password: 'Mot de passe',
    login: 'Se connecter',
    logout: 'Se déconnecter',
    signed_in_as: 'Connecté·e : ',
    live_on: 'En direct',
    live_off: 'Hors ligne — les dernières informations restent affichées',
    wallet_title: 'Mes cadeaux offerts',
    buy_title: 'Offrir une expérience',
    experience: 'Expérience',
    recipient_name: 'Nom du destinataire',
    recipient_email: 'E-mail du destinataire',
    message: 'Votre message',
    test_card: 'Carte de test (bac à sable)',
    card_ok: '4242 4242 4242 4242 — acceptée',
    card_declined: '4000 0000 0000 0002 — refusée',
    card_3ds: '4000 0025 0000 3155 — demande une confirmation 3-D Secure',
    pay: 'Payer et offrir',
    paying: 'Paiement en cours…',
    paid: 'Payé : la carte part vers son destinataire.',
    declined: 'Votre banque a refusé ce paiement. Aucun montant n’a été débité ; essayez une autre carte.',
    three_ds: 'Votre banque demande de confirmer ce paiement (3-D Secure), comme elle le ferait dans son application.',
    three_ds_ok: 'Confirmer le paiement',
    three_ds_no: 'Refuser',
    no_gifts: 'Vous n’avez encore offert aucun cadeau.',
    to: 'Pour ',
    step_paid: 'Payé',
    step_delivered: 'Remis',
    step_opened: 'Ouvert',
    step_booked: 'Réservé',
    step_used: 'Utilisé',
    now_status: 'Maintenant : ',
    gift_title: 'Ouvrir mon cadeau',
    code: 'Code de la carte (XXXX-XXXX-XXXX-XXXX-X)',
    open: 'Ouvrir le cadeau',
    wrong_code: 'Ce code n’est pas reconnu. Vérifiez les 17 caractères du courriel.',
    from_message: 'Le message : ',
    valid_until: 'Valable jusqu’au ',
    value: 'Valeur : ',
    slots_title: 'Choisir un créneau',
    places_left: ' places libres',
    full: 'Complet',
    book: 'Réserver',
    slot_taken: 'Ce créneau vient d’être pris. Choisissez-en un autre.',
    held_until: 'Place retenue. Confirmez dans ',
    confirm_booking: 'Confirmer la réservation',
    hold_lapsed: 'Le délai est passé : la place a été libérée. Réservez à nouveau.',
    booked_for: 'Réservé pour le ',
    at_venue: 'Sur place, montrez ce code à l’accueil. Il change toutes les 30 secondes.',
    qr_label: 'Code à présenter',
    validation_asked: 'L’établissement demande de valider votre visite.',
    accept: 'Oui, valider',
    refuse: 'Non',
    used: 'Cadeau utilisé. Belle expérience !',
    expired_gift: 'Ce cadeau a expiré.',
    tablet_title: 'Calendrier de l’établissement',
    no_bookings: 'Aucune réservation pour le moment.',
    scan_title: 'Valider un client',
    scan_token: 'Code lu sur le téléphone du client',
    scan: 'Valider',
    camera: 'Scanner avec la caméra',
    waiting_guest: 'En attente de la confirmation du client…',
    validated: 'Visite validée.',
    refused: 'Le client a refusé la validation.',
    party: ' pers.',
    status_held: 'en attente de confirmation',
    status_confirmed: 'confirmée',
    status_completed: 'venue validée',
    error: 'Une erreur est survenue : ',
    offline_error: 'Pas de connexion. Réessayez quand le réseau revient.',
    device_title: 'Ou, sur la tablette de l’établissement : son jeton',
    device_token: 'Jeton de la tablette (donné à sa création, dans l’Espace partenaire)',
    device_login: 'Connecter la tablette',
    device_refused: 'Ce jeton n’est pas, ou plus, valable : le ou la propriétaire en crée un nouveau dans l’Espace partenaire.',
  },
  en: {
    skip: 'Skip to content',
    nav_catalogue: 'Catalogue',
    nav_wallet: 'Gifts I gave',
    nav_gift: 'I received a gift',
    nav_tablet: 'Partner tablet',
    nav_account: 'My account',
    nav_admin: 'Admin',
    nav_portal: 'Partner portal',
    lang_switch: 'Français',
    login_title: 'Log in',
    email: 'Email address',
    password: 'Password',
    login: 'Log in',
    logout: 'Log out',
    signed_in_as: 'Signed in: ',
    live_on: 'Live',
    live_off: 'Offline — the latest information stays on screen',
    wallet_title: 'Gifts I gave',
    buy_title: 'Give an experience',
    experience: 'Experience',
    recipient_name: 'Recipient’s name',
    recipient_email: 'Recipient’s email',
    message: 'Your message',
    test_card: 'Test card (sandbox)',
    card_ok: '4242 4242 4242 4242 — accepted',
    card_declined: '4000 0000 0000 0002 — declined',
    card_3ds: '4000 0025 0000 3155 — asks for 3-D Secure',
    pay: 'Pay and give',
    paying: 'Paying…',
    paid: 'Paid: the card is on its way to its recipient.',
    declined: 'Your bank declined this payment. Nothing was charged; try another card.',
    three_ds: 'Your bank asks you to confirm this payment (3-D Secure), as it would in its app.',
    three_ds_ok: 'Confirm the payment',
    three_ds_no: 'Refuse',
    no_gifts: 'You have not given any gift yet.',
    to: 'For ',
    step_paid: 'Paid',
    step_delivered: 'Delivered',
    step_opened: 'Opened',
    step_booked: 'Booked',
    step_used: 'Used',
    now_status: 'Now: ',
    gift_title: 'Open my gift',
    code: 'Card code (XXXX-XXXX-XXXX-XXXX-X)',
    open: 'Open the gift',
    wrong_code: 'This code is not recognised. Check the 17 characters in the email.',
    from_message: 'The message: ',
    valid_until: 'Valid until ',
    value: 'Value: ',
    slots_title: 'Pick a time',
    places_left: ' places left',
    full: 'Full',
    book: 'Book',
    slot_taken: 'This time was just taken. Please pick another one.',
    held_until: 'Place held. Confirm within ',
    confirm_booking: 'Confirm the booking',
    hold_lapsed: 'Time is up: the place was released. Please book again.',
    booked_for: 'Booked for ',
    at_venue: 'At the venue, show this code at the desk. It changes every 30 seconds.',
    qr_label: 'Code to show',
    validation_asked: 'The venue asks you to validate your visit.',
    accept: 'Yes, validate',
    refuse: 'No',
    used: 'Gift used. Enjoy the experience!',
    expired_gift: 'This gift has expired.',
    tablet_title: 'The venue’s calendar',
    no_bookings: 'No bookings yet.',
    scan_title: 'Validate a guest',
    scan_token: 'Code read on the guest’s phone',
    scan: 'Validate',
    camera: 'Scan with the camera',
    waiting_guest: 'Waiting for the guest’s confirmation…',
    validated: 'Visit validated.',
    refused: 'The guest declined the validation.',
    party: ' ppl',
    status_held: 'awaiting confirmation',
    status_confirmed: 'confirmed',
    status_completed: 'visit validated',
    error: 'Something went wrong: ',
    offline_error: 'No connection. Try again when the network is back.',
    device_title: 'Or, on the venue’s tablet: its token',
    device_token: 'Tablet token (given when it was created, in the Partner portal)',
    device_login: 'Connect the tablet',
    device_refused: 'This token is not, or no longer, valid: the owner makes a new one in the Partner portal.',
  },
};

export const LANG_KEY = 'fimy.lang';
// The server-rendered pages (catalogue, experience, gift) keep the same choice in a cookie.
const LANG_COOKIE = 'fimy_lang';
export let lang = localStorage.getItem(LANG_KEY) ||
  (['fr', 'en'].includes(cookie(LANG_COOKIE)) ? cookie(LANG_COOKIE) : '') ||
  ((navigator.language || 'fr').toLowerCase().startsWith('fr') ? 'fr' : 'en');
export const t = (key) => DICT[lang][key] ?? DICT.fr[key] ?? key;

/** Adds a page module's strings (`{ fr: {...}, en: {...} }`) to the dictionary. */
export function addStrings(strings) {
  for (const l of Object.keys(DICT)) Object.assign(DICT[l], strings[l] || {});
}

/** Creates an element; `text` becomes textContent, other keys become attributes. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

function cookie(name) {
  const hit = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : '';
}

/** A problem+json answer (or a network failure) as an Error with its `code`. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || String(status));
    this.status = status;
    this.code = problem.code || 'network';
    this.field = problem.field;
  }
}

/** Calls the REST API under /api/v1 (or an absolute /api path) with the session cookie. */
export async function api(method, path, body) {
  const url = path.startsWith('/api/') ? path : '/api/v1' + path;
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = cookie('fimy_csrf');
  let res;
  try {
    res = await fetch(url, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiProblem(0, { code: 'network', detail: t('offline_error') });
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiProblem(res.status, data || {});
  return data;
}

export function money(minor, currency) {
  return new Intl.NumberFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', { style: 'currency', currency })
    .format(minor / 100);
}

/** The venue's time zone for the times shown (the browser's until it is known). */
let venueZone;

export function when(iso) {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
    timeZone: venueZone, timeZoneName: venueZone ? 'short' : undefined,
  }).format(new Date(iso));
}

/** Shows times in the partner's own time zone, as its guests and staff read them. */
export async function useVenueZone(partnerId) {
  if (!partnerId) return;
  try {
    venueZone = (await api('GET', `/partners/${partnerId}`)).timezone || undefined;
  } catch { /* the browser's zone, then */ }
}

/** Shows a message in the page's polite live region (and in `target` when given). */
export function say(text, target, kind = 'info') {
  const box = target || $('notice');
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
}

export function problemText(e) {
  return e.code === 'network' ? t('offline_error') : t('error') + e.message;
}

// ------------------------------------------------------------------ live

/**
 * The `/ws` connection: subscriptions by topic with the last sequence number seen, so a
 * reconnect (after a network loss) resubscribes with `since` and misses nothing.
 */
class Live {
  constructor() {
    this.topics = new Map(); // topic -> { since, handler }
    this.ws = null;
    this.backoff = 500;
    this.connect();
    window.addEventListener('online', () => {
      if (this.ws && this.ws.readyState === 1) this.status(true);
      else this.connect();
    });
    window.addEventListener('offline', () => this.status(false));
  }

  status(on) {
    const badge = $('live-status');
    if (!badge) return;
    badge.textContent = on ? t('live_on') : t('live_off');
    badge.dataset.on = on ? 'true' : 'false';
  }

  connect() {
    if (this.ws && this.ws.readyState <= 1) return;
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.backoff = 500;
      this.status(true);
      for (const [topic, sub] of this.topics) this.send(topic, sub.since);
    });
    ws.addEventListener('message', (m) => this.receive(JSON.parse(m.data)));
    ws.addEventListener('close', () => {
      this.status(false);
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10_000);
    });
  }

  send(topic, since) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify({ type: 'subscribe', topic, since: since ?? undefined }));
    }
  }

  receive(msg) {
    if (msg.type === 'event') {
      const sub = this.topics.get(msg.topic);
      if (!sub || msg.seq <= (sub.since ?? 0)) return;
      sub.since = msg.seq;
      sub.handler(msg);
    } else if (msg.type === 'subscribed') {
      const sub = this.topics.get(msg.topic);
      // A first subscription, or one the server renumbered (the caller's view changed).
      if (sub && (sub.since == null || msg.seq < sub.since)) sub.since = msg.seq;
    } else if (msg.type === 'error' && msg.code === 'subscription_revoked' && msg.topic) {
      // The right to follow it ended (the card changed hands, access was removed).
      this.topics.delete(msg.topic);
    }
  }

  /** Follows `topic` from `since` (the events after it), calling `handler` for each. */
  follow(topic, since, handler) {
    if (this.topics.has(topic)) return;
    this.topics.set(topic, { since, handler });
    this.send(topic, since);
  }
}

let live = null;
/** The page's live connection (set once the shell has started). */
export const liveConnection = () => live;

// ------------------------------------------------------------------ shell

export async function me() {
  try {
    return await api('GET', '/me');
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

function shell() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  const sw = $('lang-switch');
  sw.textContent = t('lang_switch');
  sw.setAttribute('lang', lang === 'fr' ? 'en' : 'fr');
  sw.addEventListener('click', (ev) => {
    ev.preventDefault(); // on the server-rendered /gift, the switch is also a link
    localStorage.setItem(LANG_KEY, lang === 'fr' ? 'en' : 'fr');
    document.cookie = `${LANG_COOKIE}=${lang === 'fr' ? 'en' : 'fr'}; path=/; max-age=31536000; samesite=lax`;
    location.reload();
  });
}

/** The current user, after a login form (and `extra` under it) if nobody is signed in. */
export async function signedIn(extra) {
  const who = await me();
  const box = $('account');
  if (who) {
    box.replaceChildren(
      el('span', { text: t('signed_in_as') + who.display_name }),
      el('button', {
        type: 'button', class: 'link', text: t('logout'),
        onclick: async () => { await api('POST', '/auth/logout', {}); location.reload(); },
      }),
    );
    return who;
  }
  const err = el('p', { class: 'error', role: 'alert', id: 'login-error' });
  const form = el('form', { class: 'panel', id: 'login-form', 'aria-labelledby': 'login-title' },
    el('h2', { id: 'login-title', text: t('login_title') }),
    field('login-email', t('email'), el('input', { id: 'login-email', type: 'email', required: true, autocomplete: 'username' })),
    field('login-password', t('password'), el('input', { id: 'login-password', type: 'password', required: true, autocomplete: 'current-password' })),
    el('button', { type: 'submit', text: t('login') }),
    err);
  $('app').replaceChildren(form, ...(extra ? [extra] : []));
  return new Promise((resolve) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/auth/login', { email: $('login-email').value, password: $('login-password').value });
        live.connect();
        resolve(signedIn());
      } catch (e) {
        say(problemText(e), err, 'error');
      }
    });
  });
}

export function field(id, label, input) {
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), input);
}

// ------------------------------------------------------------------ donor

const STEPS = ['paid', 'delivered', 'opened', 'booked', 'used'];
// Card-topic and feed event kinds that move a gift along its timeline.
const KIND_STEP = {
  payment_received: 'paid', card_issued: 'paid', card_delivered: 'delivered',
  card_opened: 'opened', card_booked: 'booked', card_used: 'used',
};
const STATUS_STEPS = {
  issued: 1, delivered: 2, opened: 3, partly_used: 3, used: 5,
};

function timeline(card) {
  const reached = new Set(STEPS.slice(0, STATUS_STEPS[card.status] || 0));
  const list = el('ol', { class: 'timeline', 'aria-label': card.recipient_name });
  const now = el('p', { class: 'now', 'aria-live': 'polite', 'data-card': card.id });
  const render = () => {
    list.replaceChildren(...STEPS.map((s) => el('li', {
      'data-step': s, 'data-done': reached.has(s) ? 'true' : 'false',
      'aria-current': reached.has(s) && !reached.has(STEPS[STEPS.indexOf(s) + 1]) ? 'step' : false,
    }, t('step_' + s))));
    const last = [...STEPS].reverse().find((s) => reached.has(s));
    now.textContent = last ? t('now_status') + t('step_' + last) : '';
  };
  const apply = (kind) => {
    if (kind === 'booking_cancelled') reached.delete('booked');
    const step = KIND_STEP[kind];
    if (!step) return;
    // A step reached implies the ones before it.
    for (const s of STEPS.slice(0, STEPS.indexOf(step) + 1)) reached.add(s);
    render();
  };
  render();
  return { node: el('div', {}, list, now), apply, render };
}

async function walletPage() {
  await signedIn();
  const app = $('app');
  const notice = el('p', { id: 'buy-status', role: 'status', 'aria-live': 'polite' });
  const experiences = await api('GET', '/experiences?limit=50&sort=price_asc');
  const select = el('select', { id: 'buy-experience', required: true },
    ...experiences.items.map((e) => el('option', { value: e.id, text: `${e.title} — ${money(e.price_minor, e.currency)}` })));
  const card = el('select', { id: 'buy-card' },
    el('option', { value: '4242 4242 4242 4242', text: t('card_ok') }),
    el('option', { value: '4000 0000 0000 0002', text: t('card_declined') }),
    el('option', { value: '4000 0025 0000 3155', text: t('card_3ds') }));
  const preview = el('div', { class: 'card-preview', 'aria-hidden': 'true' });
  const message = el('textarea', { id: 'buy-message', maxlength: 500, rows: 3 });
  const name = el('input', { id: 'buy-name', required: true, maxlength: 100, autocomplete: 'off' });
  const updatePreview = () => preview.replaceChildren(
    el('strong', { text: select.selectedOptions[0]?.textContent || '' }),
    el('span', { text: t('to') + (name.value || '…') }),
    el('em', { text: message.value }));
  for (const i of [select, name, message]) i.addEventListener('input', updatePreview);
  const form = el('form', { class: 'panel', id: 'buy-form', 'aria-labelledby': 'buy-title' },
    el('h2', { id: 'buy-title', text: t('buy_title') }),
    field('buy-experience', t('experience'), select),
    field('buy-name', t('recipient_name'), name),
    field('buy-email', t('recipient_email'), el('input', { id: 'buy-email', type: 'email', required: true, autocomplete: 'off' })),
    field('buy-message', t('message'), message),
    field('buy-card', t('test_card'), card),
    preview,
    el('button', { type: 'submit', text: t('pay') }),
    notice);
  updatePreview();
  const list = el('ul', { id: 'gifts', class: 'gifts' });
  app.replaceChildren(form, el('section', { class: 'panel', 'aria-labelledby': 'wallet-title' },
    el('h2', { id: 'wallet-title', text: t('wallet_title') }), list));

  const shown = new Map();
  const refresh = async () => {
    const w = await api('GET', '/wallet');
    if (!w.given.length) list.replaceChildren(el('li', { text: t('no_gifts') }));
    for (const c of w.given) {
      if (shown.has(c.id)) continue;
      if (!shown.size) list.replaceChildren();
      const tl = timeline(c);
      shown.set(c.id, tl);
      list.append(el('li', { class: 'gift', 'data-card': c.id },
        el('h3', { text: t('to') + c.recipient_name }), tl.node));
      // The donor's own numbering: replay what happened, then follow it live.
      const events = await api('GET', `/cards/${c.id}/events`);
      let since = 0;
      for (const e of events.items) { tl.apply(e.kind); since = Math.max(since, e.seq); }
      live.follow(`card:${c.id}`, since, (e) => tl.apply(e.kind));
    }
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say(t('paying'), notice);
    try {
      const bought = await api('POST', '/cards', {
        kind: 'experience', experience_id: select.value, party_size: 1,
        recipient_name: name.value, recipient_email: $('buy-email').value,
        message: message.value || undefined,
        payment: { method: 'test_card', number: card.value },
      });
      const p = bought.payment;
      if (p.status === 'requires_action' && p.next_action_url) {
        notice.replaceChildren(el('span', { text: t('three_ds') + ' ' }),
          el('button', {
            type: 'button', id: 'three-ds-ok', text: t('three_ds_ok'),
            onclick: async () => {
              await api('POST', p.next_action_url, { succeed: true });
              say(t('paid'), notice);
              await refresh();
            },
          }),
          el('button', {
            type: 'button', class: 'secondary', text: t('three_ds_no'),
            onclick: async () => {
              await api('POST', p.next_action_url, { succeed: false });
              say(t('declined'), notice, 'error');
            },
          }));
      } else if (p.status === 'failed') {
        say(t('declined'), notice, 'error');
      } else {
        say(t('paid'), notice);
      }
      await refresh();
    } catch (e) {
      say(e.code === 'payment_declined' ? t('declined') : problemText(e), notice, 'error');
    }
  });
  await refresh();
}

// ------------------------------------------------------------------ recipient

async function giftPage() {
  const who = await signedIn();
  const app = $('app');
  const status = el('p', { id: 'gift-status', role: 'status', 'aria-live': 'polite' });
  const code = el('input', {
    id: 'gift-code', required: true, autocomplete: 'off', spellcheck: 'false',
    value: new URLSearchParams(location.search).get('code') || '',
  });
  const form = el('form', { class: 'panel', id: 'open-form', 'aria-labelledby': 'gift-title' },
    el('h2', { id: 'gift-title', text: t('gift_title') }),
    field('gift-code', t('code'), code),
    el('button', { type: 'submit', text: t('open') }), status);
  const view = el('section', { id: 'gift-view', 'aria-live': 'polite' });
  app.replaceChildren(form, view);
  live.follow(`user:${who.id}`, null, (e) => {
    if (e.kind === 'validation_requested') validationAsked(e.data.validation_id);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const card = await api('POST', '/cards/claim', { code: code.value.trim() });
      await showGift(card, view);
    } catch (e) {
      say(['invalid_code', 'not_found'].includes(e.code) ? t('wrong_code') :
        e.code === 'card_expired' ? t('expired_gift') : problemText(e), status, 'error');
    }
  });
  if (code.value) form.requestSubmit();
}

function validationAsked(id) {
  const box = $('validation');
  if (!box) return;
  box.replaceChildren(el('p', { role: 'alert', text: t('validation_asked') }),
    el('button', {
      type: 'button', id: 'validation-accept', text: t('accept'),
      onclick: async () => { await api('POST', `/validations/${id}/confirm`, {}); box.replaceChildren(); },
    }),
    el('button', {
      type: 'button', class: 'secondary', text: t('refuse'),
      onclick: async () => { await api('POST', `/validations/${id}/decline`, {}); box.replaceChildren(); },
    }));
}

async function showGift(card, view) {
  await useVenueZone(card.partner_id);
  const used = el('p', { id: 'gift-used', role: 'status', 'aria-live': 'polite' });
  const slots = el('ul', { id: 'slots', class: 'slots' });
  const booking = el('div', { id: 'booking', 'aria-live': 'polite' });
  view.replaceChildren(el('div', { class: 'panel reveal' },
    el('h2', { text: card.recipient_name }),
    card.message ? el('blockquote', { text: t('from_message') + card.message }) : null,
    el('p', { text: t('value') + money(card.face_value_minor, card.currency) }),
    el('p', { text: t('valid_until') + when(card.expires_at) }), used),
    el('section', { class: 'panel', 'aria-labelledby': 'slots-title' },
      el('h2', { id: 'slots-title', text: t('slots_title') }), slots, booking),
    el('div', { id: 'validation', class: 'panel' }));
  const markUsed = () => { used.textContent = t('used'); used.dataset.kind = 'done'; };
  if (card.status === 'used') markUsed();
  live.follow(`card:${card.id}`, null, (e) => { if (e.kind === 'card_used') markUsed(); });
  if (!card.experience_id) return;
  const followed = new Set();
  let pending = null;
  const load = async () => {
    const list = await api('GET', `/experiences/${card.experience_id}/slots`);
    const party = card.party_size || 1;
    slots.replaceChildren(...list.slice(0, 12).map((s) => {
      if (!followed.has(s.slot_id)) {
        followed.add(s.slot_id);
        // Someone else's hold or booking: the list is read again at once.
        live.follow(`slot:${s.slot_id}`, null, () => {
          clearTimeout(pending);
          pending = setTimeout(load, 50);
        });
      }
      const room = s.free >= party;
      return el('li', { 'data-slot': s.slot_id, 'data-free': s.free },
        el('span', { text: when(s.starts_at) }), ' ',
        el('span', { class: 'muted', text: room ? s.free + t('places_left') : t('full') }), ' ',
        el('button', {
          type: 'button', disabled: !room, text: t('book'),
          'aria-label': `${t('book')} ${when(s.starts_at)}`,
          onclick: () => book(card, s, booking, load),
        }));
    }));
  };
  load();
}

async function book(card, slot, box, reload) {
  try {
    const b = await api('POST', '/bookings', {
      card_id: card.id, experience_id: card.experience_id, starts_at: slot.starts_at,
    });
    const left = el('span', { id: 'hold-countdown' });
    const until = new Date(b.hold_expires_at).getTime();
    const tick = setInterval(() => {
      const s = Math.max(0, Math.round((until - Date.now()) / 1000));
      left.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
      if (!s) { clearInterval(tick); say(t('hold_lapsed'), box, 'error'); reload(); }
    }, 1000);
    box.replaceChildren(el('p', {}, t('held_until'), left),
      el('button', {
        type: 'button', id: 'confirm-booking', text: t('confirm_booking'),
        onclick: async () => {
          clearInterval(tick);
          try {
            const done = await api('POST', `/bookings/${b.id}/confirm`, {});
            atVenue(done, box);
          } catch (e) {
            say(e.code === 'hold_expired' ? t('hold_lapsed') : problemText(e), box, 'error');
          }
        },
      }));
  } catch (e) {
    say(e.code === 'slot_full' ? t('slot_taken') : problemText(e), box, 'error');
    reload();
  }
}

function atVenue(b, box) {
  const image = el('img', { id: 'qr-image', class: 'qr-image', alt: t('qr_label'), width: 240, height: 240 });
  const token = el('code', { id: 'qr-token', class: 'qr' });
  box.replaceChildren(el('p', { id: 'booked-for', text: t('booked_for') + when(b.starts_at) }),
    el('a', { href: `/api/v1/bookings/${b.id}/ics`, text: '.ics' }),
    el('p', { text: t('at_venue') }), image,
    el('details', {}, el('summary', { text: t('qr_label') }), token));
  const refresh = async () => {
    try {
      const qr = await api('GET', `/bookings/${b.id}/qr`);
      image.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(qr.svg);
      token.textContent = qr.token;
      setTimeout(refresh, Math.max(5, qr.rotates_every_secs - 2) * 1000);
    } catch {
      setTimeout(refresh, 5000);
    }
  };
  refresh();
}

// ------------------------------------------------------------------ tablet

/** A tablet device logs in with its token: the server sets it as this browser's session. */
function deviceLogin() {
  const err = el('p', { class: 'error', role: 'alert', id: 'device-error' });
  const token = el('input', { id: 'device-token-input', required: true, autocomplete: 'off', spellcheck: 'false' });
  const form = el('form', { class: 'panel', id: 'device-form', 'aria-labelledby': 'device-title' },
    el('h2', { id: 'device-title', text: t('device_title') }),
    field('device-token-input', t('device_token'), token),
    el('button', { type: 'submit', text: t('device_login') }), err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/auth/device', { token: token.value.trim() });
      location.reload();
    } catch (e) {
      say(e.code === 'invalid_credentials' ? t('device_refused') : problemText(e), err, 'error');
    }
  });
  return form;
}

async function tabletPage() {
  const who = await signedIn(deviceLogin());
  const partner = who.staff && who.staff.partner_id;
  await useVenueZone(partner);
  const app = $('app');
  const list = el('ul', { id: 'calendar', class: 'calendar' });
  const result = el('p', { id: 'scan-result', role: 'status', 'aria-live': 'assertive' });
  const token = el('input', { id: 'scan-token', required: true, autocomplete: 'off', spellcheck: 'false' });
  const form = el('form', { class: 'panel', id: 'scan-form', 'aria-labelledby': 'scan-title' },
    el('h2', { id: 'scan-title', text: t('scan_title') }),
    field('scan-token', t('scan_token'), token),
    el('button', { type: 'submit', text: t('scan') }), result);
  if ('BarcodeDetector' in window) {
    form.append(el('button', {
      type: 'button', class: 'secondary', text: t('camera'),
      onclick: () => cameraScan(token, form),
    }));
  }
  app.replaceChildren(el('section', { class: 'panel', 'aria-labelledby': 'cal-title' },
    el('h2', { id: 'cal-title', text: t('tablet_title') }), list), form);
  // Value cards are spent by amount, on a keypad (its own module; offline before it was
  // ever kept, the calendar still shows).
  try {
    app.append((await import('/pages/tablet-redeem.js')).default(partner));
  } catch { /* no keypad without the network: nothing could be redeemed anyway */ }
  let pending = null;
  const load = async () => {
    try {
      const cal = await api('GET', `/partners/${partner}/calendar`);
      const titles = new Map(cal.slots.map((s) => [s.experience_id, s.experience_title]));
      const active = cal.bookings.filter((b) => ['held', 'confirmed', 'completed'].includes(b.status));
      list.replaceChildren(...(active.length ? active.map((b) => el('li', {
        'data-booking': b.id, 'data-status': b.status,
      }, el('strong', { text: when(b.starts_at) }), ' ',
      el('span', { text: `${titles.get(b.experience_id) || ''} · ${b.party_size}${t('party')} · ` }),
      el('span', { class: 'status', text: t('status_' + b.status) }))) : [el('li', { text: t('no_bookings') })]));
      return cal.last_seq;
    } catch (e) {
      // Offline: the last calendar stays on screen.
      return null;
    }
  };
  const since = await load();
  live.follow(`partner:${partner}:calendar`, since, () => {
    clearTimeout(pending);
    pending = setTimeout(load, 50);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const v = await api('POST', `/partners/${partner}/validations`, { token: token.value.trim() });
      say(t('waiting_guest'), result);
      const poll = async () => {
        const now = await api('GET', `/validations/${v.id}`);
        if (now.status === 'confirmed') say(t('validated'), result, 'done');
        else if (now.status === 'declined') say(t('refused'), result, 'error');
        else if (now.status === 'pending') setTimeout(poll, 1000);
        else say(now.status, result, 'error');
      };
      poll();
    } catch (e) {
      say(problemText(e), result, 'error');
    }
  });
}

async function cameraScan(input, form) {
  const video = el('video', { playsinline: true, muted: true, class: 'camera' });
  form.append(video);
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  video.srcObject = stream;
  await video.play();
  const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
  const look = async () => {
    const codes = await detector.detect(video);
    if (codes.length) {
      input.value = codes[0].rawValue;
      stream.getTracks().forEach((tr) => tr.stop());
      video.remove();
      form.requestSubmit();
    } else {
      requestAnimationFrame(look);
    }
  };
  look();
}

// ------------------------------------------------------------------ start

const PAGES = { wallet: walletPage, gift: giftPage, tablet: tabletPage };

// A page of its own module (`data-module` on <body>, served from /pages/) exports its view
// as `default` and adds its strings with `addStrings` before the shell translates.
async function start() {
  let page = PAGES[document.body.dataset.page];
  const module = document.body.dataset.module;
  if (!page && module) page = (await import(module)).default;
  shell();
  live = new Live();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => { /* the app works without it */ });
  }
  if (page) await page();
}

start().catch((e) => say(problemText(e), null, 'error'));
