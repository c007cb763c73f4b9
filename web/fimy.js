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
    login_wrong: 'Adresse e-mail ou mot de passe incorrect.',
    login_rate_limited: 'Trop de tentatives : la connexion est bloquée un moment pour ce compte depuis cet appareil. Réessayez dans quelques minutes.',
    no_account: 'Pas encore de compte ?',
    signup_switch: 'Créer un compte',
    claim_intro: 'Pour garder ce cadeau dans votre compte et le réserver, connectez-vous, ou créez un compte : le cadeau y sera ajouté, sans retaper son code.',
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
    valid_until: 'Valable jusqu’au ',
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
    login_wrong: 'Wrong email address or password.',
    login_rate_limited: 'Too many attempts: logging in to this account from this device is blocked for a while. Try again in a few minutes.',
    no_account: 'No account yet?',
    signup_switch: 'Create an account',
    claim_intro: 'To keep this gift in your account and book it, log in, or create an account: the gift is added to it, with no need to type its code again.',
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
    valid_until: 'Valid until ',
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

// The first view's data, put in the page by the server for this request's session
// (`src/http/webapp.rs`, `boot`): the signed-in user, the tablet's venue and calendar, the
// wallet's gifts given and the experiences of its gift form. Each
// is used once, by the first view; everything after it asks the API.
const BOOT = (() => {
  try {
    return JSON.parse(document.getElementById('fimy-boot')?.textContent || 'null');
  } catch {
    return null;
  }
})();

/** The server's first-view value for `key`, once (`undefined` when it gave none). */
export function fromBoot(key) {
  if (!BOOT || !Object.hasOwn(BOOT, key)) return undefined;
  const value = BOOT[key];
  delete BOOT[key];
  return value;
}

export const LANG_KEY = 'fimy.lang';
// The server-rendered pages (catalogue, experience, gift) keep the same choice in a cookie.
const LANG_COOKIE = 'fimy_lang';
/** The language chosen in this browser ('' when none was: the browser's own is used). */
const chosenLang = () => localStorage.getItem(LANG_KEY) ||
  (['fr', 'en'].includes(cookie(LANG_COOKIE)) ? cookie(LANG_COOKIE) : '');
// A browser with no language of its own takes the signed-in account's (kept by
// `PATCH /me`), and keeps it; else the browser's.
const accountLang = ['fr', 'en'].includes(BOOT?.me?.locale) ? BOOT.me.locale : '';
export let lang = chosenLang() || accountLang ||
  ((navigator.language || 'fr').toLowerCase().startsWith('fr') ? 'fr' : 'en');
if (!chosenLang() && accountLang) keepLang(accountLang);

/** Keeps `choice` as this browser's language, for the app and the server-rendered pages. */
export function keepLang(choice) {
  localStorage.setItem(LANG_KEY, choice);
  document.cookie = `${LANG_COOKIE}=${choice}; path=/; max-age=31536000; samesite=lax`;
}

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

/** The CSRF token a write authenticated by the session cookie echoes in `X-CSRF-Token`. */
export const csrfToken = () => cookie('fimy_csrf');

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
  const known = fromBoot('partner');
  if (known && known.id === partnerId) {
    venueZone = known.timezone || undefined;
    return;
  }
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
  /**
   * Connects at once when `signedIn`: `/ws` serves signed-in people only, so
   * for a page the server drew for nobody the connection waits for a log-in (`connect`),
   * and the badge says nothing rather than "offline" — nothing is missing.
   */
  constructor(signedIn) {
    this.topics = new Map(); // topic -> { since, handler }
    this.ws = null;
    this.backoff = 500;
    this.wanted = false;
    if (signedIn) this.connect();
    window.addEventListener('online', () => {
      if (!this.wanted) return;
      if (this.ws && this.ws.readyState === 1) this.status(true);
      else this.connect();
    });
    window.addEventListener('offline', () => { if (this.wanted) this.status(false); });
  }

  status(on) {
    const badge = $('live-status');
    if (!badge) return;
    badge.textContent = on ? t('live_on') : t('live_off');
    badge.dataset.on = on ? 'true' : 'false';
  }

  connect() {
    this.wanted = true;
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
  const first = fromBoot('me'); // null: the server saw nobody signed in
  if (first !== undefined) return first;
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
    keepLang(lang === 'fr' ? 'en' : 'fr');
    location.reload();
  });
}

/**
 * The current user, after a login form (and `extra` under it) if nobody is signed in;
 * `intro` says above it why this page asks. The form switches to creating an account
 * (`/pages/signup.js`, loaded when asked for), which loads the page again signed in.
 */
export async function signedIn(extra, intro) {
  const who = await me();
  const box = $('account');
  if (who) {
    // Signed in on this page (or on a page the server could not tell who for), in a
    // browser with no language of its own: as above, the page drawn again in it if needed.
    if (!chosenLang() && ['fr', 'en'].includes(who.locale)) {
      keepLang(who.locale);
      if (who.locale !== lang) {
        location.reload();
        return new Promise(() => {});
      }
    }
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
    err,
    el('p', {}, t('no_account') + ' ', el('button', {
      type: 'button', class: 'secondary', id: 'signup-switch', text: t('signup_switch'),
      onclick: async () => {
        let signupForm;
        try {
          ({ signupForm } = await import('/pages/signup.js'));
        } catch {
          say(t('offline_error'), err, 'error');
          return;
        }
        const signup = signupForm({
          email: $('login-email').value,
          toLogin: (email) => {
            signup.replaceWith(form);
            $('login-email').value = email;
            $('login-email').focus();
          },
        });
        form.replaceWith(signup);
        $('signup-name').focus();
      },
    })));
  $('app').replaceChildren(...(intro ? [el('p', { id: 'auth-intro', text: intro })] : []),
    form, ...(extra ? [extra] : []));
  return new Promise((resolve) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/auth/login', { email: $('login-email').value, password: $('login-password').value });
        live.connect();
        resolve(signedIn());
      } catch (e) {
        say(e.code === 'invalid_credentials' ? t('login_wrong') :
          e.code === 'rate_limited' ? t('login_rate_limited') : problemText(e), err, 'error');
      }
    });
  });
}

export function field(id, label, input) {
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), input);
}

// ------------------------------------------------------------------ donor

/** How long a given gift's catching up may wait for the browser to be idle. */
const IDLE_TIMEOUT_MS = 2000;
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
  // The card's status says how far it went, and `booked` whether a booking holds it now.
  const step = Math.max(STATUS_STEPS[card.status] || 0, card.booked ? STEPS.indexOf('booked') + 1 : 0);
  const reached = new Set(STEPS.slice(0, step));
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

addStrings({
  fr: {
    d_kind: 'Type de cadeau',
    d_kind_experience: 'Une expérience',
    d_kind_value: 'Un montant à dépenser chez nos partenaires',
    d_amount: 'Montant',
    d_currency: 'Devise',
    d_group: 'Cadeau commun : d’autres personnes participent avant la remise',
    d_when: 'Remise',
    d_now: 'Tout de suite',
    d_later: 'À la date et à l’heure choisies',
    d_deliver_at: 'Date et heure de remise, à l’heure du destinataire',
    d_timezone: 'Fuseau horaire du destinataire',
    d_group_needs_later: 'Un cadeau commun se remet plus tard, le temps que chacun participe : choisissez la date et l’heure de remise.',
    d_later_needs_date: 'Choisissez la date et l’heure de remise.',
    d_preview_on: 'Remis le ',
    d_scheduled: 'Remise prévue le ',
    d_collected: 'Cagnotte réunie : ',
    d_invite: 'Lien à envoyer aux participants',
    d_copy: 'Copier le lien',
    d_copied: 'Lien copié : envoyez-le aux participants.',
    d_refund: 'Rembourser',
    d_refund_sure: 'Rembourser ce cadeau ? Son destinataire ne pourra plus l’utiliser.',
    d_refund_yes: 'Oui, rembourser',
    d_refund_no: 'Non',
    d_refunded: 'Cadeau remboursé : chaque payeur retrouve sa part.',
    d_refund_refused: 'Le remboursement n’est plus possible : le destinataire a déjà ouvert le cadeau.',
    d_extended: 'Validité prolongée jusqu’au ',
    d_contribute_title: 'Participer à un cadeau commun',
    d_contribute_for: 'Un cadeau commun pour ',
    d_contribute_amount: 'Votre part',
    d_contribute_pay: 'Payer ma part',
    d_contributed: 'Merci ! Votre part de {amount} est enregistrée.',
    d_contribute_closed: 'Ce cadeau commun est clos : il a déjà été remis, ou remboursé.',
    d_contribute_unknown: 'Ce lien ne mène à aucun cadeau commun. Demandez-en un nouveau à la personne qui l’organise.',
    d_contribute_range: 'Une part va de 1 à 5 000.',
  },
  en: {
    d_kind: 'Kind of gift',
    d_kind_experience: 'An experience',
    d_kind_value: 'An amount to spend at our partners',
    d_amount: 'Amount',
    d_currency: 'Currency',
    d_group: 'Group gift: others chip in before it is delivered',
    d_when: 'Delivery',
    d_now: 'Right away',
    d_later: 'At the date and time chosen',
    d_deliver_at: 'Delivery date and time, in the recipient’s time',
    d_timezone: 'Recipient’s time zone',
    d_group_needs_later: 'A group gift is delivered later, so everyone can chip in: pick the delivery date and time.',
    d_later_needs_date: 'Pick the delivery date and time.',
    d_preview_on: 'Delivered on ',
    d_scheduled: 'Delivery planned for ',
    d_collected: 'Collected so far: ',
    d_invite: 'Link to send to the contributors',
    d_copy: 'Copy the link',
    d_copied: 'Link copied: send it to the contributors.',
    d_refund: 'Refund',
    d_refund_sure: 'Refund this gift? Its recipient will no longer be able to use it.',
    d_refund_yes: 'Yes, refund',
    d_refund_no: 'No',
    d_refunded: 'Gift refunded: every payer gets their share back.',
    d_refund_refused: 'It can no longer be refunded: the recipient has opened the gift.',
    d_extended: 'Validity extended until ',
    d_contribute_title: 'Chip in to a group gift',
    d_contribute_for: 'A group gift for ',
    d_contribute_amount: 'Your share',
    d_contribute_pay: 'Pay my share',
    d_contributed: 'Thank you! Your share of {amount} is recorded.',
    d_contribute_closed: 'This group gift is closed: it has been delivered, or refunded.',
    d_contribute_unknown: 'This link leads to no group gift. Ask its organiser for a new one.',
    d_contribute_range: 'A share is between 1 and 5,000.',
  },
});

const CURRENCIES = ['CAD', 'EUR', 'USD', 'GBP', 'CHF'];

/** A moment with its time zone's name, in `zone` (the browser's by default). */
function whenIn(iso, zone) {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit',
    minute: '2-digit', timeZone: zone, timeZoneName: 'short',
  }).format(new Date(iso));
}

/** A local `YYYY-MM-DDTHH:MM` as written, followed by its zone's name. */
function localTime(local, zone) {
  const text = new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit',
    minute: '2-digit', timeZone: 'UTC',
  }).format(new Date(local + ':00Z'));
  return `${text} (${zone})`;
}

function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

function zoneSelect(id) {
  const here = browserZone();
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { /* an older browser */ }
  if (!zones.includes(here)) zones = [here, ...zones];
  if (!zones.includes('UTC')) zones.push('UTC');
  const select = el('select', { id }, ...zones.map((z) => el('option', { value: z, text: z.replaceAll('_', ' ') })));
  select.value = here;
  return select;
}

/** A payment's outcome: done, declined, or the sandbox's 3-D Secure step. */
function paymentOutcome(p, notice, done) {
  if (p.status === 'requires_action' && p.next_action_url) {
    notice.replaceChildren(el('span', { text: t('three_ds') + ' ' }),
      el('button', {
        type: 'button', id: 'three-ds-ok', text: t('three_ds_ok'),
        onclick: async () => {
          try {
            await api('POST', p.next_action_url, { succeed: true });
            await done();
          } catch (e) {
            say(refusal(e), notice, 'error');
          }
        },
      }),
      el('button', {
        type: 'button', class: 'secondary', text: t('three_ds_no'),
        onclick: async () => {
          await api('POST', p.next_action_url, { succeed: false }).catch(() => {});
          say(t('declined'), notice, 'error');
        },
      }));
  } else if (p.status === 'failed') {
    say(t('declined'), notice, 'error');
  } else {
    return done();
  }
  return null;
}

/** The donor's view of one given gift besides its timeline: delivery, pot, actions. */
function giftExtras(given) {
  let card = given;
  const info = el('p', { class: 'muted', 'data-role': 'delivery' });
  const pot = el('div', { 'data-role': 'pot' });
  const status = el('p', { role: 'status', 'aria-live': 'polite', 'data-role': 'action-status' });
  const actions = el('div', { class: 'actions' });
  const act = async (path, okText, refusals = {}) => {
    try {
      card = await api('POST', `/cards/${card.id}/${path}`, {});
      say(okText(card), status, 'done');
    } catch (e) {
      say(refusals[e.code] ? t(refusals[e.code]) : refusal(e), status, 'error');
    }
    render();
  };
  const render = () => {
    const waiting = ['pending_payment', 'issued'].includes(card.status);
    info.textContent = card.deliver_at && !card.delivered_at && waiting
      ? t('d_scheduled') + whenIn(card.deliver_at) : '';
    if (card.group && waiting) {
      const id = `invite-${card.id}`;
      const link = `${location.origin}/wallet?contribute=${card.id}&for=${encodeURIComponent(card.recipient_name)}`;
      const input = el('input', { id, readonly: true, value: link, 'data-role': 'invite' });
      pot.replaceChildren(
        el('p', { 'data-role': 'collected', 'data-minor': card.face_value_minor, text: t('d_collected') + money(card.face_value_minor, card.currency) }),
        el('div', { class: 'field' }, el('label', { for: id, text: t('d_invite') }),
          el('div', { class: 'invite' }, input, el('button', {
            type: 'button', class: 'secondary', text: t('d_copy'),
            onclick: async () => {
              input.select();
              try { await navigator.clipboard.writeText(link); } catch { document.execCommand?.('copy'); }
              say(t('d_copied'), status, 'done');
            },
          }))));
    } else if (card.group) {
      pot.replaceChildren(el('p', { 'data-role': 'collected', 'data-minor': card.face_value_minor, text: t('d_collected') + money(card.face_value_minor, card.currency) }));
    }
    const buttons = [];
    // The donor may refund until the recipient opens the gift; extend while it is alive.
    if (['issued', 'delivered'].includes(card.status)) {
      buttons.push(el('button', {
        type: 'button', class: 'secondary', 'data-action': 'refund', text: t('d_refund'),
        onclick: () => {
          actions.replaceChildren(el('p', { text: t('d_refund_sure') }),
            el('button', {
              type: 'button', 'data-action': 'refund-confirm', text: t('d_refund_yes'),
              onclick: () => act('refund', () => t('d_refunded'), { forbidden: 'd_refund_refused' }),
            }),
            el('button', { type: 'button', class: 'secondary', text: t('d_refund_no'), onclick: render }));
          actions.querySelector('[data-action="refund-confirm"]').focus();
        },
      }));
    }
    if (['issued', 'delivered', 'opened', 'partly_used'].includes(card.status)) {
      buttons.push(el('button', {
        type: 'button', class: 'secondary', 'data-action': 'extend', text: t('r_extend'),
        onclick: () => act('extend', (c) => t('d_extended') + whenIn(c.expires_at)),
      }));
    }
    actions.replaceChildren(...buttons);
  };
  let pending = null;
  // Something happened to the card (a share paid, delivered, opened…): read it again.
  const update = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      try { card = await api('GET', `/cards/${card.id}`); render(); } catch { /* offline */ }
    }, 50);
  };
  render();
  return { node: el('div', {}, info, pot, actions, status), update };
}

/** `/wallet?contribute={card id}`: a contributor pays a share of a group gift. */
function contributePanel(params) {
  const id = params.get('contribute') || '';
  const notice = el('p', { id: 'contribute-status', role: 'status', 'aria-live': 'polite' });
  const amount = el('input', { id: 'contribute-amount', type: 'number', min: 1, max: 5000, step: '0.01', required: true, inputmode: 'decimal' });
  const card = el('select', { id: 'contribute-card' },
    el('option', { value: '4242 4242 4242 4242', text: t('card_ok') }),
    el('option', { value: '4000 0000 0000 0002', text: t('card_declined') }),
    el('option', { value: '4000 0025 0000 3155', text: t('card_3ds') }));
  const forName = params.get('for');
  const form = el('form', { class: 'panel', id: 'contribute-form', 'aria-labelledby': 'contribute-title' },
    el('h2', { id: 'contribute-title', text: t('d_contribute_title') }),
    forName ? el('p', { text: t('d_contribute_for') + forName }) : null,
    field('contribute-amount', t('d_contribute_amount'), amount),
    field('contribute-card', t('test_card'), card),
    el('button', { type: 'submit', text: t('d_contribute_pay') }), notice);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    say(t('d_contribute_unknown'), notice, 'error');
    form.querySelector('button[type="submit"]').disabled = true;
    return form;
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const minor = Math.round(Number(amount.value) * 100);
    if (!(minor >= 100 && minor <= 500_000)) { say(t('d_contribute_range'), notice, 'error'); return; }
    say(t('paying'), notice);
    try {
      const p = await api('POST', `/cards/${id}/contributions`, {
        amount_minor: minor, payment: { method: 'test_card', number: card.value },
      });
      const shown = new Intl.NumberFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', { minimumFractionDigits: 2 }).format(minor / 100);
      paymentOutcome(p, notice, () => say(t('d_contributed').replace('{amount}', shown), notice, 'done'));
    } catch (e) {
      say(e.code === 'not_found' ? t('d_contribute_unknown') : e.code === 'card_state_conflict'
        ? t('d_contribute_closed') : refusal(e), notice, 'error');
    }
  });
  return form;
}

async function walletPage() {
  await signedIn();
  // The gifts given and the experiences offered come with the page (its first view, see
  // `webapp::first_view`), else are asked for while the card's design, preview and
  // attachments module (shared with the recipient's reveal) loads, not after it.
  const given = fromBoot('wallet');
  const [gc, experiences] = await Promise.all([import('/pages/gift-card.js'),
    fromBoot('experiences') ?? api('GET', '/experiences?limit=50&sort=price_asc')]);
  const app = $('app');
  const params = new URLSearchParams(location.search);
  const notice = el('p', { id: 'buy-status', role: 'status', 'aria-live': 'polite' });
  const select = el('select', { id: 'buy-experience', required: true },
    ...experiences.items.map((e) => el('option', { value: e.id, text: `${e.title} — ${money(e.price_minor, e.currency)}` })));
  const card = el('select', { id: 'buy-card' },
    el('option', { value: '4242 4242 4242 4242', text: t('card_ok') }),
    el('option', { value: '4000 0000 0000 0002', text: t('card_declined') }),
    el('option', { value: '4000 0025 0000 3155', text: t('card_3ds') }));
  const previewCard = el('div', { id: 'buy-preview-card' });
  const previewWhen = el('p', { class: 'muted', id: 'buy-preview-when' });
  const preview = el('section', { class: 'buy-preview', id: 'buy-preview', 'aria-labelledby': 'buy-preview-heading' },
    el('h3', { id: 'buy-preview-heading', text: t('g_preview_title') }), previewCard, previewWhen);
  const theme = gc.themePicker();
  // The attachments' images and players in the preview, made again only when they change
  // (not at each keystroke, which would stop a recording being played back).
  let previewFiles = [];
  const attachments = gc.attachmentsField(() => {
    const shown = attachments.shown();
    previewFiles = shown.length ? [el('h5', { text: t('g_attached') }), gc.attachmentFigures(shown)] : [];
    updatePreview();
  });
  const message = el('textarea', { id: 'buy-message', maxlength: 500, rows: 3 });
  const name = el('input', { id: 'buy-name', required: true, maxlength: 100, autocomplete: 'off' });
  const radio = (id, group, value, label, checked) => el('label', { class: 'choice', for: id },
    el('input', { type: 'radio', id, name: group, value, checked }), label);
  const kindExperience = radio('buy-kind-experience', 'buy-kind', 'experience', t('d_kind_experience'), true);
  const kindValue = radio('buy-kind-value', 'buy-kind', 'value', t('d_kind_value'), false);
  const amount = el('input', { id: 'buy-amount', type: 'number', min: 5, max: 5000, step: 1, value: 50, inputmode: 'numeric' });
  const currency = el('select', { id: 'buy-currency' },
    ...CURRENCIES.map((c) => el('option', { value: c, text: c })));
  currency.value = experiences.items[0]?.currency || 'CAD';
  const group = el('input', { type: 'checkbox', id: 'buy-group' });
  const valueFields = el('div', { id: 'buy-value-fields', hidden: true },
    field('buy-amount', t('d_amount'), amount), field('buy-currency', t('d_currency'), currency),
    el('label', { class: 'choice', for: 'buy-group' }, group, t('d_group')));
  const experienceField = field('buy-experience', t('experience'), select);
  const whenNow = radio('buy-when-now', 'buy-when', 'now', t('d_now'), true);
  const whenLater = radio('buy-when-later', 'buy-when', 'later', t('d_later'), false);
  const deliverAt = el('input', { id: 'buy-deliver-at', type: 'datetime-local' });
  const zone = zoneSelect('buy-timezone');
  const laterFields = el('div', { id: 'buy-later-fields', hidden: true },
    field('buy-deliver-at', t('d_deliver_at'), deliverAt), field('buy-timezone', t('d_timezone'), zone));
  const isValue = () => kindValue.querySelector('input').checked;
  const isLater = () => whenLater.querySelector('input').checked;
  const updatePreview = () => {
    valueFields.hidden = !isValue();
    experienceField.hidden = isValue();
    laterFields.hidden = !isLater();
    const exp = experiences.items.find((e) => e.id === select.value);
    const card = gc.giftCard({
      theme: theme.value(), recipientName: name.value, message: message.value, heading: 4,
      facts: isValue()
        ? gc.cardFacts({ value: money(Math.round(Number(amount.value) * 100) || 0, currency.value) })
        : gc.cardFacts({ experience: exp?.title || '', venue: exp?.partner?.name, party: 1 }),
    });
    card.append(...previewFiles);
    previewCard.replaceChildren(card);
    previewWhen.textContent = isLater() && deliverAt.value ? t('d_preview_on') + localTime(deliverAt.value, zone.value) : '';
  };
  const form = el('form', { class: 'panel', id: 'buy-form', 'aria-labelledby': 'buy-title' },
    el('h2', { id: 'buy-title', text: t('buy_title') }),
    el('div', { class: 'buy-layout' },
      el('div', { class: 'buy-fields' },
        el('fieldset', {}, el('legend', { text: t('d_kind') }), kindExperience, kindValue),
        experienceField, valueFields,
        field('buy-name', t('recipient_name'), name),
        field('buy-email', t('recipient_email'), el('input', { id: 'buy-email', type: 'email', required: true, autocomplete: 'off' })),
        field('buy-message', t('message'), message),
        theme.node,
        attachments.node,
        el('fieldset', {}, el('legend', { text: t('d_when') }), whenNow, whenLater, laterFields),
        field('buy-card', t('test_card'), card)),
      preview,
      el('div', { class: 'buy-submit' }, el('button', { type: 'submit', text: t('pay') }), notice,
        attachments.uploadStatus)));
  form.addEventListener('input', updatePreview);
  form.addEventListener('change', updatePreview);
  updatePreview();
  const list = el('ul', { id: 'gifts', class: 'gifts' });
  app.replaceChildren(...(params.has('contribute') ? [contributePanel(params)] : []), form,
    el('section', { class: 'panel', 'aria-labelledby': 'wallet-title' },
      el('h2', { id: 'wallet-title', text: t('wallet_title') }), list));

  const shown = new Map();
  // The gifts of the first view are drawn from their status at once; their history (what
  // places a booking on the timeline) and their live topic are caught up one gift after
  // the other, from the top, when the browser is idle, so that the form is usable first.
  const later = [];
  let catchingUp = false;
  const whenIdle = (fn) => (window.requestIdleCallback
    ? requestIdleCallback(fn, { timeout: IDLE_TIMEOUT_MS }) : setTimeout(fn, 0));
  const catchUpNext = () => {
    const next = catchingUp ? null : later.shift();
    if (!next) return;
    catchingUp = true;
    whenIdle(async () => {
      try { await next(); } catch { /* the timeline keeps the status it was drawn from */ }
      catchingUp = false;
      catchUpNext();
    });
  };
  const refresh = async (known) => {
    const w = known || await api('GET', '/wallet');
    if (!w.given.length) list.replaceChildren(el('li', { text: t('no_gifts') }));
    for (const c of w.given) {
      if (shown.has(c.id)) continue;
      if (!shown.size) list.replaceChildren();
      const tl = timeline(c);
      const extras = giftExtras(c);
      shown.set(c.id, tl);
      list.append(el('li', { class: 'gift', 'data-card': c.id },
        el('h3', { text: t('to') + c.recipient_name }), tl.node, extras.node));
      // The donor's own numbering: replay what happened, then follow it live.
      const catchUp = async () => {
        const events = await api('GET', `/cards/${c.id}/events`);
        let since = 0;
        for (const e of events.items) { tl.apply(e.kind); since = Math.max(since, e.seq); }
        live.follow(`card:${c.id}`, since, (e) => { tl.apply(e.kind); extras.update(); });
      };
      // A gift given on this page is followed at once.
      if (known) later.push(catchUp);
      else await catchUp();
    }
    catchUpNext();
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (isValue() && group.checked && !(isLater() && deliverAt.value)) {
      say(t('d_group_needs_later'), notice, 'error');
      return;
    }
    if (isLater() && !deliverAt.value) {
      say(t('d_later_needs_date'), notice, 'error');
      return;
    }
    say(t('paying'), notice);
    const what = isValue()
      ? { kind: 'value', amount_minor: Math.round(Number(amount.value) * 100), currency: currency.value, group: group.checked }
      : { kind: 'experience', experience_id: select.value, party_size: 1 };
    const later = isLater() ? { deliver_at: deliverAt.value, recipient_timezone: zone.value } : {};
    try {
      const bought = await api('POST', '/cards', {
        ...what, ...later,
        recipient_name: name.value, recipient_email: $('buy-email').value,
        message: message.value || undefined, theme: theme.value(),
        payment: { method: 'test_card', number: card.value },
      });
      // The card exists (even while 3-D Secure is asked): its attachments go now, before
      // the recipient can open it. A declined purchase keeps them for the next try.
      const sending = bought.payment.status !== 'failed' && attachments.count()
        ? attachments.upload(bought.card.id) : null;
      await paymentOutcome(bought.payment, notice, async () => { say(t('paid'), notice); await refresh(); });
      await sending;
      await refresh();
    } catch (e) {
      say(refusal(e), notice, 'error');
    }
  });
  await refresh(given);
}

// ------------------------------------------------------------------ recipient

addStrings({
  fr: {
    r_balance_title: 'Solde de la carte',
    r_available: 'Disponible : ',
    r_held: 'Retenu pour une réservation : ',
    r_history_title: 'Historique de la carte',
    r_no_history: 'Rien pour l’instant.',
    ev_card_created: 'Cadeau créé',
    ev_payment_received: 'Paiement reçu',
    ev_card_issued: 'Carte émise',
    ev_card_delivered: 'Remis au destinataire',
    ev_card_opened: 'Ouvert',
    ev_card_claimed: 'Ajouté à votre compte',
    ev_amount_redeemed: 'Dépensé chez un partenaire',
    ev_value_authorized: 'Retenu pour une réservation',
    ev_authorization_captured: 'Réservation payée',
    ev_authorization_released: 'Montant retenu rendu à la carte',
    ev_card_booked: 'Réservation confirmée',
    ev_booking_cancelled: 'Réservation annulée',
    ev_card_used: 'Entièrement utilisé',
    ev_card_transferred: 'Offert à quelqu’un d’autre',
    ev_expiry_extended: 'Validité prolongée',
    ev_value_refunded: 'Remboursé',
    ev_contribution_refunded: 'Participation remboursée',
    ev_card_blocked: 'Bloqué',
    ev_card_unblocked: 'Débloqué',
    ev_card_expired: 'Expiré',
    r_reschedule: 'Changer de créneau',
    r_reschedule_pick: 'Choisissez le nouveau créneau dans la liste ci-dessus : « Déplacer ici ».',
    r_move_here: 'Déplacer ici',
    r_rescheduled: 'Réservation déplacée.',
    r_keep_time: 'Garder ce créneau',
    r_cancel: 'Annuler la réservation',
    r_cancel_sure: 'Annuler cette réservation ? La valeur revient sur votre carte.',
    r_cancel_yes: 'Oui, annuler',
    r_cancel_no: 'Non, la garder',
    r_cancelled: 'Réservation annulée : la valeur est revenue sur votre carte. Vous pouvez choisir un autre créneau.',
    r_cancel_until: 'Annulation possible jusqu’au ',
    r_too_late: 'Trop tard pour annuler : cet établissement accepte les annulations jusqu’à {h} h avant le début. Vous pouvez encore changer de créneau ou écrire à l’établissement.',
    r_not_movable: 'Cette réservation ne peut plus être modifiée dans son état actuel.',
    r_slot_closed: 'Ce créneau n’est pas ou plus proposé. Choisissez-en un autre.',
    r_messages_title: 'Messages avec l’établissement',
    r_no_messages: 'Aucun message pour l’instant.',
    r_message_body: 'Votre message à l’établissement',
    r_send: 'Envoyer',
    r_you: 'Vous',
    r_transfer_title: 'Offrir ce cadeau à quelqu’un d’autre',
    r_transfer_name: 'Son nom',
    r_transfer_email: 'Son adresse e-mail',
    r_transfer: 'Transmettre le cadeau',
    r_transferred: 'C’est fait : un nouveau code est parti vers cette personne ; l’ancien ne fonctionne plus.',
    r_extend: 'Prolonger la validité',
    r_extended: 'Validité prolongée jusqu’au ',
    x_has_holds: 'Une réservation est en cours sur cette carte : annulez-la d’abord.',
    x_extend_refused: 'La prolongation gratuite n’est possible qu’une fois, dans les 30 jours qui précèdent l’expiration.',
    x_state: 'Ce n’est plus possible pour ce cadeau, dans son état actuel.',
    x_forbidden: 'Vous ne pouvez pas faire cela avec ce cadeau.',
    x_invalid: 'Vérifiez ce champ : ',
  },
  en: {
    r_balance_title: 'Card balance',
    r_available: 'Available: ',
    r_held: 'Held for a booking: ',
    r_history_title: 'Card history',
    r_no_history: 'Nothing yet.',
    ev_card_created: 'Gift created',
    ev_payment_received: 'Payment received',
    ev_card_issued: 'Card issued',
    ev_card_delivered: 'Delivered to the recipient',
    ev_card_opened: 'Opened',
    ev_card_claimed: 'Added to your account',
    ev_amount_redeemed: 'Spent at a partner',
    ev_value_authorized: 'Held for a booking',
    ev_authorization_captured: 'Booking paid',
    ev_authorization_released: 'Held amount given back to the card',
    ev_card_booked: 'Booking confirmed',
    ev_booking_cancelled: 'Booking cancelled',
    ev_card_used: 'Fully used',
    ev_card_transferred: 'Passed on to someone else',
    ev_expiry_extended: 'Validity extended',
    ev_value_refunded: 'Refunded',
    ev_contribution_refunded: 'Contribution refunded',
    ev_card_blocked: 'Blocked',
    ev_card_unblocked: 'Unblocked',
    ev_card_expired: 'Expired',
    r_reschedule: 'Change the time',
    r_reschedule_pick: 'Pick the new time in the list above: “Move here”.',
    r_move_here: 'Move here',
    r_rescheduled: 'Booking moved.',
    r_keep_time: 'Keep this time',
    r_cancel: 'Cancel the booking',
    r_cancel_sure: 'Cancel this booking? The value goes back to your card.',
    r_cancel_yes: 'Yes, cancel',
    r_cancel_no: 'No, keep it',
    r_cancelled: 'Booking cancelled: the value is back on your card. You can pick another time.',
    r_cancel_until: 'You can cancel until ',
    r_too_late: 'Too late to cancel: this venue takes cancellations until {h} hours before the start. You can still change the time or write to the venue.',
    r_not_movable: 'This booking can no longer be changed in its current state.',
    r_slot_closed: 'This time is not (or no longer) offered. Please pick another one.',
    r_messages_title: 'Messages with the venue',
    r_no_messages: 'No messages yet.',
    r_message_body: 'Your message to the venue',
    r_send: 'Send',
    r_you: 'You',
    r_transfer_title: 'Give this gift to someone else',
    r_transfer_name: 'Their name',
    r_transfer_email: 'Their email address',
    r_transfer: 'Pass the gift on',
    r_transferred: 'Done: a new code is on its way to them; the old one no longer works.',
    r_extend: 'Extend the validity',
    r_extended: 'Validity extended until ',
    x_has_holds: 'A booking is in progress on this card: cancel it first.',
    x_extend_refused: 'The free extension can be used once, in the 30 days before the card expires.',
    x_state: 'This is no longer possible for this gift, in its current state.',
    x_forbidden: 'You cannot do this with this gift.',
    x_invalid: 'Check this field: ',
  },
});

/** A refused action in plain words (the API's `code`), else the API's own words. */
function refusal(e, extra = {}) {
  const words = {
    cancellation_deadline_passed: 'r_too_late',
    booking_state_conflict: 'r_not_movable',
    slot_full: 'slot_taken',
    slot_unavailable: 'r_slot_closed',
    hold_expired: 'hold_lapsed',
    card_has_holds: 'x_has_holds',
    extension_not_allowed: 'x_extend_refused',
    card_state_conflict: 'x_state',
    card_expired: 'expired_gift',
    forbidden: 'x_forbidden',
    payment_declined: 'declined',
  }[e.code];
  if (words) return t(words).replace('{h}', extra.hours ?? '');
  if (e.code === 'invalid_field') return t('x_invalid') + e.message;
  return problemText(e);
}

async function giftPage() {
  const fromLink = new URLSearchParams(location.search).get('code');
  const who = await signedIn(undefined, fromLink ? t('claim_intro') : undefined);
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

/** The amount an event moved, signed as the card's balance saw it (none for the others). */
function eventAmount(e, currency) {
  const d = e.data || {};
  const sign = { payment_received: '+', authorization_released: '+', amount_redeemed: '−',
    value_authorized: '−', value_refunded: '−', contribution_refunded: '−' }[e.kind];
  let amount = typeof d.amount === 'number' ? d.amount : null;
  if (e.kind === 'value_refunded' && Array.isArray(d.lines)) amount = d.lines.reduce((s, l) => s + l.amount, 0);
  if (e.kind === 'contribution_refunded' && d.line) amount = d.line.amount;
  return sign && amount !== null ? ` ${sign} ${money(amount, currency)}` : '';
}

/** Value cards: what is left, what is held, and every movement, kept current live. */
function balancePanel(card) {
  const available = el('p', { id: 'balance-available' });
  const held = el('p', { id: 'balance-held', class: 'muted' });
  const history = el('ol', { id: 'card-history', class: 'history' });
  const render = async () => {
    const [now, events] = await Promise.all([
      api('GET', `/cards/${card.id}`), api('GET', `/cards/${card.id}/events`)]);
    available.textContent = t('r_available') + money(now.available_minor ?? 0, now.currency);
    held.textContent = now.held_minor ? t('r_held') + money(now.held_minor, now.currency) : '';
    history.replaceChildren(...(events.items.length ? events.items.map((e) => el('li', { 'data-kind': e.kind },
      el('time', { datetime: e.at, text: when(e.at) }), ' — ',
      el('span', { text: t('ev_' + e.kind) + eventAmount(e, now.currency) }))) : [el('li', { text: t('r_no_history') })]));
  };
  const node = el('section', { class: 'panel', id: 'balance', 'aria-labelledby': 'balance-title' },
    el('h2', { id: 'balance-title', text: t('r_balance_title') }), available, held,
    el('h3', { id: 'history-title', text: t('r_history_title') }), history);
  return { node, render };
}

/** The holder's own actions on the card: extend its validity, pass it on. */
function holderActions(card, validity) {
  const result = el('p', { id: 'card-action-status', role: 'status', 'aria-live': 'polite' });
  const name = el('input', { id: 'transfer-name', required: true, maxlength: 100, autocomplete: 'off' });
  const email = el('input', { id: 'transfer-email', type: 'email', required: true, autocomplete: 'off' });
  const transfer = el('form', { id: 'transfer-form' },
    field('transfer-name', t('r_transfer_name'), name),
    field('transfer-email', t('r_transfer_email'), email),
    el('button', { type: 'submit', class: 'secondary', text: t('r_transfer') }));
  transfer.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', `/cards/${card.id}/transfer`, { recipient_name: name.value, recipient_email: email.value });
      say(t('r_transferred'), result, 'done');
      transfer.closest('details').open = false;
    } catch (e) {
      say(refusal(e), result, 'error');
    }
  });
  return el('div', { class: 'actions' },
    el('button', {
      type: 'button', class: 'secondary', id: 'extend-card', text: t('r_extend'),
      onclick: async () => {
        try {
          const c = await api('POST', `/cards/${card.id}/extend`, {});
          validity.textContent = t('valid_until') + when(c.expires_at);
          say(t('r_extended') + when(c.expires_at), result, 'done');
        } catch (e) {
          say(refusal(e), result, 'error');
        }
      },
    }),
    el('details', {}, el('summary', { text: t('r_transfer_title') }), transfer),
    result);
}

async function showGift(card, view) {
  await useVenueZone(card.partner_id);
  const gc = await import('/pages/gift-card.js');
  const [partner, experience, files] = await Promise.all([
    card.partner_id ? api('GET', `/partners/${card.partner_id}`).catch(() => null) : null,
    card.experience_id ? api('GET', `/experiences/${card.experience_id}`).catch(() => null) : null,
    api('GET', `/cards/${card.id}/attachments`).then((r) => r.items).catch(() => []),
  ]);
  const used = el('p', { id: 'gift-used', role: 'status', 'aria-live': 'polite' });
  const slots = el('ul', { id: 'slots', class: 'slots' });
  const booking = el('div', { id: 'booking', 'aria-live': 'polite' });
  const validity = el('p', { text: t('valid_until') + when(card.expires_at) });
  const balance = card.kind === 'value' ? balancePanel(card) : null;
  // The card as the donor previewed it: its theme, message, what it is, the attachments.
  const reveal = gc.giftCard({
    theme: card.theme, recipientName: card.recipient_name, message: card.message,
    className: 'panel reveal', id: 'reveal', link: true, attachments: files,
    facts: card.kind === 'value'
      ? gc.cardFacts({ value: money(card.face_value_minor, card.currency) })
      : gc.cardFacts({ experience: experience?.title || '', venue: partner?.name, party: card.party_size }),
  });
  reveal.append(validity, used, holderActions(card, validity));
  view.replaceChildren(...[reveal,
    balance ? balance.node : null,
    card.experience_id ? el('section', { class: 'panel', 'aria-labelledby': 'slots-title' },
      el('h2', { id: 'slots-title', text: t('slots_title') }), slots, booking) : null,
    el('div', { id: 'validation', class: 'panel' })].filter(Boolean));
  const markUsed = () => { used.textContent = t('used'); used.dataset.kind = 'done'; };
  if (card.status === 'used') markUsed();
  let pendingBalance = null;
  live.follow(`card:${card.id}`, null, (e) => {
    if (e.kind === 'card_used') markUsed();
    if (balance) { clearTimeout(pendingBalance); pendingBalance = setTimeout(() => balance.render().catch(() => {}), 50); }
  });
  if (balance) await balance.render();
  if (!card.experience_id) return;
  const followed = new Set();
  let pending = null;
  // `active`: the confirmed booking on screen; `moving`: the slot buttons move it.
  const ctx = { card, partner, box: booking, active: null, moving: false, load: null };
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
      const mine = ctx.active && new Date(ctx.active.starts_at).getTime() === new Date(s.starts_at).getTime();
      const label = ctx.moving ? t('r_move_here') : t('book');
      return el('li', { 'data-slot': s.slot_id, 'data-free': s.free },
        el('span', { text: when(s.starts_at) }), ' ',
        el('span', { class: 'muted', text: room ? s.free + t('places_left') : t('full') }), ' ',
        el('button', {
          type: 'button', disabled: !room || mine || (ctx.active && !ctx.moving), text: label,
          'aria-label': `${label} ${when(s.starts_at)}`,
          onclick: () => (ctx.moving ? move(ctx, s) : book(ctx, s)),
        }));
    }));
  };
  ctx.load = load;
  await load();
  // A booking made earlier (on another visit) is shown with what can be done with it.
  const mine = await api('GET', '/bookings').catch(() => []);
  const current = mine.filter((b) => b.card_id === card.id && b.status === 'confirmed').pop();
  if (current) atVenue(current, ctx);
}

async function book(ctx, slot) {
  const { card, box } = ctx;
  try {
    const b = await api('POST', '/bookings', {
      card_id: card.id, experience_id: card.experience_id, starts_at: slot.starts_at,
    });
    const left = el('span', { id: 'hold-countdown' });
    const until = new Date(b.hold_expires_at).getTime();
    const tick = setInterval(() => {
      const s = Math.max(0, Math.round((until - Date.now()) / 1000));
      left.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
      if (!s) { clearInterval(tick); say(t('hold_lapsed'), box, 'error'); ctx.load(); }
    }, 1000);
    box.replaceChildren(el('p', {}, t('held_until'), left),
      el('button', {
        type: 'button', id: 'confirm-booking', text: t('confirm_booking'),
        onclick: async () => {
          clearInterval(tick);
          try {
            const done = await api('POST', `/bookings/${b.id}/confirm`, {});
            atVenue(done, ctx);
          } catch (e) {
            say(e.code === 'hold_expired' ? t('hold_lapsed') : problemText(e), box, 'error');
          }
        },
      }));
  } catch (e) {
    say(refusal(e), box, 'error');
    ctx.load();
  }
}

/** Moves the booking on screen to `slot` (the new place is taken before the old is freed). */
async function move(ctx, slot) {
  const status = $('booking-action-status');
  try {
    const moved = await api('POST', `/bookings/${ctx.active.id}/reschedule`, { starts_at: slot.starts_at });
    atVenue(moved, ctx, t('r_rescheduled'));
  } catch (e) {
    say(refusal(e), status, 'error');
    ctx.load();
  }
}

/** The venue's cancellation deadline for a booking, when the partner is known. */
function cancelDeadline(ctx, b) {
  const hours = ctx.partner?.cancellation_hours;
  return hours === undefined ? null : new Date(new Date(b.starts_at).getTime() - hours * 3600_000);
}

function atVenue(b, ctx, note) {
  const box = ctx.box;
  ctx.active = b;
  ctx.moving = false;
  const image = el('img', { id: 'qr-image', class: 'qr-image', alt: t('qr_label'), width: 240, height: 240 });
  const token = el('code', { id: 'qr-token', class: 'qr' });
  const status = el('p', { id: 'booking-action-status', role: 'status', 'aria-live': 'polite' });
  if (note) say(note, status, 'done');
  const deadline = cancelDeadline(ctx, b);
  const actions = el('div', { class: 'actions', id: 'booking-actions' });
  const showActions = () => actions.replaceChildren(
    el('button', {
      type: 'button', class: 'secondary', id: 'reschedule-booking', text: t('r_reschedule'),
      onclick: () => {
        ctx.moving = true;
        ctx.load();
        say(t('r_reschedule_pick'), status);
        actions.replaceChildren(el('button', {
          type: 'button', class: 'secondary', id: 'keep-time', text: t('r_keep_time'),
          onclick: () => { ctx.moving = false; ctx.load(); say('', status); showActions(); },
        }));
        $('slots-title')?.scrollIntoView({ block: 'start' });
      },
    }),
    el('button', {
      type: 'button', class: 'secondary', id: 'cancel-booking', text: t('r_cancel'),
      onclick: () => {
        actions.replaceChildren(el('p', { text: t('r_cancel_sure') }),
          el('button', {
            type: 'button', id: 'cancel-confirm', text: t('r_cancel_yes'),
            onclick: async () => {
              try {
                await api('POST', `/bookings/${b.id}/cancel`, {});
                ctx.active = null;
                ctx.moving = false;
                box.replaceChildren(el('p', { id: 'booking-cancelled', role: 'status', text: t('r_cancelled') }));
                ctx.load();
              } catch (e) {
                showActions();
                say(refusal(e, { hours: ctx.partner?.cancellation_hours }), status, 'error');
              }
            },
          }),
          el('button', { type: 'button', class: 'secondary', text: t('r_cancel_no'), onclick: showActions }));
        $('cancel-confirm').focus();
      },
    }));
  showActions();
  box.replaceChildren(...[el('p', { id: 'booked-for', 'data-starts': b.starts_at, text: t('booked_for') + when(b.starts_at) }),
    el('a', { href: `/api/v1/bookings/${b.id}/ics`, text: '.ics' }),
    deadline ? el('p', { class: 'muted', id: 'cancel-policy', text: t('r_cancel_until') + when(deadline.toISOString()) }) : null,
    actions, status,
    el('p', { text: t('at_venue') }), image,
    el('details', {}, el('summary', { text: t('qr_label') }), token),
    messagesPanel(b)].filter(Boolean));
  ctx.load();
  const refresh = async () => {
    if (!image.isConnected) return; // another booking view replaced this one
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

/** The booking's thread with the venue, read again every few seconds while it is shown. */
function messagesPanel(b) {
  const list = el('ol', { id: 'messages', class: 'messages' });
  const body = el('textarea', { id: 'message-body', required: true, maxlength: 2000, rows: 2 });
  const status = el('p', { id: 'message-status', role: 'status', 'aria-live': 'polite' });
  const form = el('form', { id: 'message-form' },
    field('message-body', t('r_message_body'), body),
    el('button', { type: 'submit', text: t('r_send') }), status);
  const load = async () => {
    const page = await api('GET', `/bookings/${b.id}/messages?limit=100`);
    list.replaceChildren(...(page.items.length ? page.items.map((m) => el('li', {
      'data-mine': m.mine ? 'true' : 'false', 'data-role': m.author_role,
    }, el('strong', { text: m.mine ? t('r_you') : m.author_name }), ' ',
    el('time', { class: 'muted', datetime: m.created_at, text: when(m.created_at) }),
    el('p', { text: m.body }))) : [el('li', { class: 'muted', text: t('r_no_messages') })]));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', `/bookings/${b.id}/messages`, { body: body.value });
      body.value = '';
      say('', status);
      await load();
    } catch (e) {
      say(refusal(e), status, 'error');
    }
  });
  const poll = async () => {
    if (!list.isConnected && list.dataset.loaded) return;
    list.dataset.loaded = 'true';
    await load().catch(() => { /* offline: the last thread stays */ });
    setTimeout(poll, 5000);
  };
  setTimeout(poll, 0);
  return el('section', { class: 'thread', 'aria-labelledby': 'messages-title' },
    el('h3', { id: 'messages-title', text: t('r_messages_title') }), list, form);
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
  // Value cards are spent by amount, on a keypad: its own module (preloaded by the page),
  // added under the calendar when it is there. Offline before it was ever kept, the
  // calendar still shows; there is no keypad, and nothing could be redeemed anyway.
  import('/pages/tablet-redeem.js')
    .then((keypad) => app.append(keypad.default(partner)))
    .catch(() => {});
  let pending = null;
  const show = (cal) => {
    const titles = new Map(cal.slots.map((s) => [s.experience_id, s.experience_title]));
    const active = cal.bookings.filter((b) => ['held', 'confirmed', 'completed'].includes(b.status));
    list.replaceChildren(...(active.length ? active.map((b) => el('li', {
      'data-booking': b.id, 'data-status': b.status,
    }, el('strong', { text: when(b.starts_at) }), ' ',
    el('span', { text: `${titles.get(b.experience_id) || ''} · ${b.party_size}${t('party')} · ` }),
    el('span', { class: 'status', text: t('status_' + b.status) }))) : [el('li', { text: t('no_bookings') })]));
    return cal.last_seq;
  };
  const load = async () => {
    try {
      return show(await api('GET', `/partners/${partner}/calendar`));
    } catch (e) {
      // Offline: the last calendar stays on screen.
      return null;
    }
  };
  // The first calendar came with the page; the live feed goes on from its sequence.
  const first = fromBoot('calendar');
  const since = first && first.partner_id === partner ? show(first) : await load();
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
  // The first view says whether someone is signed in (`null`: nobody); without it, try.
  const nobody = BOOT != null && Object.hasOwn(BOOT, 'me') && BOOT.me === null;
  live = new Live(!nobody);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => { /* the app works without it */ });
  }
  if (page) await page();
}

start().catch((e) => say(problemText(e), null, 'error'));
