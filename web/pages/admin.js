// The admin's page (`/admin`): look a card up by its code or id and see it as stored — its
// chain of events with their hashes, its ledger lines, what the audit finds on it — block
// or unblock it; run the audit over everything; put the outbox's dead letters back in the
// queue; search the accounts; list the partners. Everything goes through the admin REST
// endpoints (`/api/v1/admin/…`), which refuse anyone but an administrator.
import { $, addStrings, api, el, field, lang, money, problemText, say, signedIn, t } from '/fimy.js';

addStrings({
  fr: {
    admin_only: 'Cette page est réservée aux administrateurs. Connectez-vous avec un compte administrateur.',
    lookup_title: 'Trouver une carte',
    lookup_input: 'Code de la carte ou identifiant',
    lookup_hint: 'Le code (XXXX-XXXX-XXXX-XXXX-X) ou l’identifiant (UUID) de la carte.',
    lookup: 'Chercher',
    lookup_not_found: 'Aucune carte ne correspond.',
    lookup_bad_code: 'Ce code est mal formé : vérifiez les 17 caractères.',
    card_status: 'Statut : ',
    card_value: 'Valeur : ',
    card_available: 'Disponible : ',
    card_held: 'Retenu pour des réservations : ',
    card_recipient: 'Destinataire : ',
    card_purchaser: 'Acheteur (compte) : ',
    card_expires: 'Expire le : ',
    card_unreadable: 'L’état enregistré de cette carte est illisible (voir l’audit ci-dessous).',
    block_reason: 'Motif du blocage',
    block: 'Bloquer la carte',
    unblock: 'Débloquer la carte',
    blocked_done: 'Carte bloquée : plus rien n’est possible avec elle jusqu’au déblocage.',
    unblocked_done: 'Carte débloquée : elle retrouve son statut d’avant.',
    chain_title: 'Chaîne des événements',
    chain_ok: 'Chaîne vérifiée : chaque événement porte l’empreinte du précédent, l’état et le grand livre concordent.',
    chain_bad: 'L’audit de cette carte trouve des anomalies :',
    col_seq: 'N°',
    col_kind: 'Événement',
    col_at: 'Date',
    col_prev: 'Empreinte précédente',
    col_hash: 'Empreinte',
    col_data: 'Données',
    show_data: 'Voir',
    ledger_title: 'Lignes du grand livre',
    no_ledger: 'Aucune ligne au grand livre.',
    col_account: 'Compte',
    col_amount: 'Montant (débit +, crédit −)',
    col_txn: 'Transaction',
    audit_title: 'Audit',
    audit_explain: 'Recalcule chaque chaîne (cartes, créneaux, calendriers) et chaque solde depuis le grand livre.',
    audit_run: 'Lancer l’audit',
    audit_running: 'Audit en cours…',
    audit_counts: (r) => `${r.cards} cartes, ${r.slots} créneaux, ${r.calendars} calendriers, ${r.events} événements, ${r.ledger_entries} lignes vérifiés.`,
    audit_ok: 'Tout concorde : aucune anomalie.',
    audit_bad: (n) => `${n} anomalie${n > 1 ? 's' : ''} :`,
    open_card: 'Ouvrir la carte',
    outbox_title: 'Notifications en échec',
    outbox_status: 'Afficher',
    outbox_dead: 'Abandonnées après trop d’échecs (dead)',
    outbox_gone: 'Refusées par le destinataire (gone)',
    outbox_none: 'Aucune notification dans cet état.',
    col_created: 'Créée le',
    col_channel: 'Canal',
    col_to: 'Pour',
    col_attempts: 'Essais',
    col_error: 'Dernière erreur',
    col_action: 'Action',
    audience_donor: 'donateur·rice',
    audience_recipient: 'destinataire',
    audience_payer: 'participant·e',
    retry: 'Renvoyer',
    retried: 'Remise dans la file d’envoi.',
    more: 'Afficher plus',
    users_title: 'Comptes',
    users_search: 'Rechercher (e-mail ou nom)',
    search: 'Rechercher',
    users_none: 'Aucun compte ne correspond.',
    col_email: 'E-mail',
    col_name: 'Nom',
    col_type: 'Type',
    col_lang: 'Langue',
    kind_customer: 'client',
    kind_partner_staff: 'équipe partenaire',
    kind_admin: 'administrateur',
    partners_title: 'Partenaires',
    col_city: 'Ville',
    col_category: 'Catégorie',
    col_zone: 'Fuseau horaire',
    col_commission: 'Commission',
  },
  en: {
    admin_only: 'This page is for administrators. Log in with an administrator account.',
    lookup_title: 'Find a card',
    lookup_input: 'Card code or id',
    lookup_hint: 'The card’s code (XXXX-XXXX-XXXX-XXXX-X) or its id (UUID).',
    lookup: 'Look up',
    lookup_not_found: 'No card matches.',
    lookup_bad_code: 'This code is malformed: check the 17 characters.',
    card_status: 'Status: ',
    card_value: 'Value: ',
    card_available: 'Available: ',
    card_held: 'Held for bookings: ',
    card_recipient: 'Recipient: ',
    card_purchaser: 'Buyer (account): ',
    card_expires: 'Expires: ',
    card_unreadable: 'This card’s stored state cannot be read (see the audit below).',
    block_reason: 'Reason for blocking',
    block: 'Block the card',
    unblock: 'Unblock the card',
    blocked_done: 'Card blocked: nothing can be done with it until it is unblocked.',
    unblocked_done: 'Card unblocked: it is back to the status it had.',
    chain_title: 'Chain of events',
    chain_ok: 'Chain verified: each event carries the hash of the one before, and the state and the ledger agree.',
    chain_bad: 'The audit of this card finds problems:',
    col_seq: 'No.',
    col_kind: 'Event',
    col_at: 'Date',
    col_prev: 'Previous hash',
    col_hash: 'Hash',
    col_data: 'Data',
    show_data: 'Show',
    ledger_title: 'Ledger lines',
    no_ledger: 'No ledger lines.',
    col_account: 'Account',
    col_amount: 'Amount (debit +, credit −)',
    col_txn: 'Transaction',
    audit_title: 'Audit',
    audit_explain: 'Recomputes every chain (cards, slots, calendars) and every balance from the ledger.',
    audit_run: 'Run the audit',
    audit_running: 'Audit running…',
    audit_counts: (r) => `${r.cards} cards, ${r.slots} slots, ${r.calendars} calendars, ${r.events} events, ${r.ledger_entries} ledger lines checked.`,
    audit_ok: 'Everything agrees: no problems.',
    audit_bad: (n) => `${n} problem${n > 1 ? 's' : ''}:`,
    open_card: 'Open the card',
    outbox_title: 'Failed notifications',
    outbox_status: 'Show',
    outbox_dead: 'Given up after too many failures (dead)',
    outbox_gone: 'Refused by the recipient (gone)',
    outbox_none: 'No notifications in this state.',
    col_created: 'Created',
    col_channel: 'Channel',
    col_to: 'To',
    col_attempts: 'Attempts',
    col_error: 'Last error',
    col_action: 'Action',
    audience_donor: 'donor',
    audience_recipient: 'recipient',
    audience_payer: 'contributor',
    retry: 'Retry',
    retried: 'Back in the sending queue.',
    more: 'Show more',
    users_title: 'Accounts',
    users_search: 'Search (email or name)',
    search: 'Search',
    users_none: 'No account matches.',
    col_email: 'Email',
    col_name: 'Name',
    col_type: 'Type',
    col_lang: 'Language',
    kind_customer: 'customer',
    kind_partner_staff: 'partner staff',
    kind_admin: 'administrator',
    partners_title: 'Partners',
    col_city: 'City',
    col_category: 'Category',
    col_zone: 'Time zone',
    col_commission: 'Commission',
  },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Full date and time, in the browser's zone (an admin compares times across venues). */
function stamp(iso) {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', {
    dateStyle: 'medium', timeStyle: 'medium',
  }).format(new Date(iso));
}

/**
 * A table in a region that scrolls sideways on a phone (and can be reached by keyboard).
 * `hidden`: the caption repeats the section's heading, so only screen readers get it.
 */
function table(id, caption, headers, rows, hidden = false) {
  const captionId = `${id}-caption`;
  return el('div', { class: 'table-wrap', role: 'region', tabindex: 0, 'aria-labelledby': captionId },
    el('table', { id, class: 'data-table' },
      el('caption', { id: captionId, class: hidden ? 'visually-hidden' : undefined, text: caption }),
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, ...rows)));
}

const cell = (...content) => el('td', {}, ...content);
const short = (hash) => el('code', { class: 'hash' }, hash.slice(0, 12) + '…');

function findingsList(findings, onOpen) {
  return el('ul', { class: 'findings' }, ...findings.map((f) => el('li', {},
    el('span', { text: f.text }), ' ',
    onOpen && f.id && ['card', 'ledger'].includes(f.kind)
      ? el('button', { type: 'button', class: 'secondary', text: t('open_card'), onclick: () => onOpen(f.id) })
      : null)));
}

// ------------------------------------------------------------------ one card

function cardSection(view, box, reload) {
  const c = view.card;
  const status = el('p', { id: 'card-action-status', role: 'status', 'aria-live': 'polite' });
  const facts = c ? el('dl', { class: 'facts' },
    el('dt', { text: t('card_status') }), el('dd', { id: 'card-status', text: view.status }),
    el('dt', { text: t('card_value') }), el('dd', { text: money(c.face_value_minor, c.currency) }),
    el('dt', { text: t('card_available') }), el('dd', { text: money(c.available_minor, c.currency) }),
    el('dt', { text: t('card_held') }), el('dd', { text: money(c.held_minor, c.currency) }),
    el('dt', { text: t('card_recipient') }), el('dd', { text: `${c.recipient_name} <${view.recipient_email}>` }),
    el('dt', { text: t('card_purchaser') }), el('dd', {}, el('code', { text: view.purchaser_id })),
    el('dt', { text: t('card_expires') }), el('dd', { text: stamp(c.expires_at) }))
    : el('p', { 'data-kind': 'error', text: t('card_unreadable') });

  let actions;
  if (view.status === 'blocked') {
    actions = el('div', {}, el('button', {
      type: 'button', id: 'unblock-card', text: t('unblock'),
      onclick: async () => {
        try {
          await api('POST', `/admin/cards/${view.id}/unblock`, {});
          await reload(t('unblocked_done'));
        } catch (e) { say(problemText(e), status, 'error'); }
      },
    }));
  } else {
    const reason = el('input', { id: 'block-reason', required: true, maxlength: 500, autocomplete: 'off' });
    actions = el('form', { id: 'block-form', class: 'inline-form' },
      field('block-reason', t('block_reason'), reason),
      el('button', { type: 'submit', text: t('block') }));
    actions.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', `/admin/cards/${view.id}/block`, { reason: reason.value.trim() });
        await reload(t('blocked_done'));
      } catch (e) { say(problemText(e), status, 'error'); }
    });
  }

  const audit = view.findings.length
    ? el('div', { id: 'card-findings', 'data-kind': 'error' }, el('p', { text: t('chain_bad') }), findingsList(view.findings))
    : el('p', { id: 'card-findings', 'data-kind': 'done', text: t('chain_ok') });

  const events = table('card-events', t('chain_title'),
    [t('col_seq'), t('col_kind'), t('col_at'), t('col_prev'), t('col_hash'), t('col_data')],
    view.events.map((e) => el('tr', { 'data-seq': e.seq, 'data-kind-event': e.kind },
      cell(String(e.seq)), cell(el('code', { text: e.kind })), cell(stamp(e.at)),
      cell(short(e.prev_hash)), cell(short(e.hash)),
      cell(el('details', {}, el('summary', { text: t('show_data') }),
        el('pre', { class: 'code' }, el('code', { text: JSON.stringify(e.data, null, 2) })),
        el('p', { class: 'small' }, t('col_hash') + ' : ', el('code', { text: e.hash })))))));

  const ledger = view.ledger.length ? table('card-ledger', t('ledger_title'),
    [t('col_at'), t('col_account'), t('col_amount'), t('col_txn')],
    view.ledger.map((l) => el('tr', {},
      cell(stamp(l.at)), cell(el('code', { text: l.account })),
      el('td', { class: 'num', text: money(l.amount_minor, l.currency) }),
      cell(short(l.txn_id))))) : el('p', { text: t('no_ledger') });

  box.replaceChildren(el('h3', {}, el('code', { text: view.id })), facts, actions, status, audit, events, ledger);
}

function lookupPanel() {
  const input = el('input', {
    id: 'lookup-input', required: true, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'lookup-hint', maxlength: 64,
  });
  const status = el('p', { id: 'lookup-status', role: 'status', 'aria-live': 'polite' });
  const result = el('div', { id: 'card-view' });
  const form = el('form', { id: 'lookup-form', 'aria-labelledby': 'lookup-title' },
    field('lookup-input', t('lookup_input'), input),
    el('p', { id: 'lookup-hint', class: 'muted small', text: t('lookup_hint') }),
    el('button', { type: 'submit', text: t('lookup') }));

  let currentId = null;
  const show = async (loader, done) => {
    try {
      const view = await loader();
      currentId = view.id;
      say(done || '', status, done ? 'done' : 'info');
      cardSection(view, result, (msg) => show(() => api('GET', `/admin/cards/${currentId}`), msg));
    } catch (e) {
      result.replaceChildren();
      say(e.code === 'not_found' ? t('lookup_not_found')
        : e.code === 'invalid_code' ? t('lookup_bad_code') : problemText(e), status, 'error');
    }
  };
  const open = (id) => {
    input.value = id;
    show(() => api('GET', `/admin/cards/${id}`));
    input.focus();
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    show(() => (UUID.test(value)
      ? api('GET', `/admin/cards/${value.toLowerCase()}`)
      : api('POST', '/admin/cards/lookup', { code: value })));
  });
  const panel = el('section', { class: 'panel', id: 'lookup', 'aria-labelledby': 'lookup-title' },
    el('h2', { id: 'lookup-title', text: t('lookup_title') }), form, status, result);
  return { panel, open };
}

// ------------------------------------------------------------------ audit

function auditPanel(openCard) {
  const status = el('p', { id: 'audit-status', role: 'status', 'aria-live': 'polite' });
  const result = el('div', { id: 'audit-result' });
  const run = el('button', {
    type: 'button', id: 'audit-run', text: t('audit_run'),
    onclick: async () => {
      run.disabled = true;
      say(t('audit_running'), status);
      result.replaceChildren();
      try {
        const r = await api('POST', '/admin/audit', {});
        say(t('audit_counts')(r), status);
        result.replaceChildren(r.consistent
          ? el('p', { id: 'audit-verdict', 'data-kind': 'done', text: t('audit_ok') })
          : el('div', { id: 'audit-verdict', 'data-kind': 'error' },
            el('p', { text: t('audit_bad')(r.findings.length) }), findingsList(r.findings, openCard)));
      } catch (e) {
        say(problemText(e), status, 'error');
      } finally {
        run.disabled = false;
      }
    },
  });
  return el('section', { class: 'panel', id: 'audit', 'aria-labelledby': 'audit-title' },
    el('h2', { id: 'audit-title', text: t('audit_title') }),
    el('p', { class: 'muted', text: t('audit_explain') }), run, status, result);
}

// ------------------------------------------------------------------ outbox

function outboxPanel() {
  const which = el('select', { id: 'outbox-status' },
    el('option', { value: 'dead', text: t('outbox_dead') }),
    el('option', { value: 'gone', text: t('outbox_gone') }));
  const status = el('p', { id: 'outbox-action-status', role: 'status', 'aria-live': 'polite' });
  const list = el('div', { id: 'outbox-list' });
  const more = el('button', { type: 'button', class: 'secondary', text: t('more'), hidden: true });
  let cursor = null;
  let rows = [];

  const render = () => {
    list.replaceChildren(rows.length ? table('outbox', t('outbox_title'),
      [t('col_created'), t('col_kind'), t('col_channel'), t('col_to'), t('col_attempts'), t('col_error'), t('col_action')],
      rows.map((r) => el('tr', { 'data-outbox': r.id },
        cell(stamp(r.created_at)), cell(el('code', { text: r.kind })), cell(r.channel),
        cell(r.email || `${t('audience_' + r.audience)} ${r.user_id || ''}`.trim()), el('td', { class: 'num', text: String(r.attempts) }),
        el('td', { class: 'error-text', text: r.last_error || '' }),
        cell(el('button', {
          type: 'button', text: t('retry'), 'aria-label': `${t('retry')} ${r.kind} ${r.email || ''}`.trim(),
          onclick: async () => {
            try {
              await api('POST', `/admin/outbox/${r.id}/retry`, {});
              say(t('retried'), status, 'done');
              rows = rows.filter((x) => x.id !== r.id);
              render();
            } catch (e) { say(problemText(e), status, 'error'); }
          },
        })))), true) : el('p', { text: t('outbox_none') }));
  };
  const load = async (reset) => {
    if (reset) { rows = []; cursor = null; }
    try {
      const page = await api('GET', `/admin/outbox?status=${which.value}&limit=20${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      rows = rows.concat(page.items);
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      render();
    } catch (e) { say(problemText(e), status, 'error'); }
  };
  which.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  load(true);
  return el('section', { class: 'panel', id: 'outbox-panel', 'aria-labelledby': 'outbox-title' },
    el('h2', { id: 'outbox-title', text: t('outbox_title') }),
    field('outbox-status', t('outbox_status'), which), status, list, more);
}

// ------------------------------------------------------------------ accounts and partners

function usersPanel() {
  const q = el('input', { id: 'users-q', type: 'search', maxlength: 100, autocomplete: 'off' });
  const form = el('form', { id: 'users-form', class: 'inline-form', role: 'search', 'aria-label': t('users_title') },
    field('users-q', t('users_search'), q), el('button', { type: 'submit', text: t('search') }));
  const list = el('div', { id: 'users-list' });
  const status = el('p', { role: 'status', 'aria-live': 'polite' });
  const more = el('button', { type: 'button', class: 'secondary', text: t('more'), hidden: true });
  let cursor = null;
  let rows = [];
  const render = () => list.replaceChildren(rows.length ? table('users', t('users_title'),
    [t('col_email'), t('col_name'), t('col_type'), t('col_lang'), t('col_created')],
    rows.map((u) => el('tr', { 'data-user': u.id },
      cell(u.email), cell(u.display_name), cell(t('kind_' + u.kind)), cell(u.locale),
      cell(stamp(u.created_at)))), true) : el('p', { text: t('users_none') }));
  const load = async (reset) => {
    if (reset) { rows = []; cursor = null; }
    const params = new URLSearchParams({ limit: '20' });
    if (q.value.trim()) params.set('q', q.value.trim());
    if (cursor) params.set('cursor', cursor);
    try {
      const page = await api('GET', `/admin/users?${params}`);
      rows = rows.concat(page.items);
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      say('', status);
      render();
    } catch (e) { say(problemText(e), status, 'error'); }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  load(true);
  return el('section', { class: 'panel', id: 'users-panel', 'aria-labelledby': 'users-title' },
    el('h2', { id: 'users-title', text: t('users_title') }), form, status, list, more);
}

function partnersPanel() {
  const list = el('div', { id: 'partners-list' });
  const status = el('p', { role: 'status', 'aria-live': 'polite' });
  const more = el('button', { type: 'button', class: 'secondary', text: t('more'), hidden: true });
  let cursor = null;
  let rows = [];
  const load = async () => {
    try {
      const page = await api('GET', `/partners?limit=50${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      // The admin's view of each (with its commission).
      const full = await Promise.all(page.items.map((p) => api('GET', `/partners/${p.id}`)));
      rows = rows.concat(full);
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      list.replaceChildren(table('partners', t('partners_title'),
        [t('col_name'), t('col_category'), t('col_city'), t('col_zone'), t('col_commission')],
        rows.map((p) => el('tr', { 'data-partner': p.id },
          cell(p.name), cell(p.category), cell(`${p.city} (${p.country})`), cell(p.timezone),
          el('td', { class: 'num', text: p.commission_bps == null ? '' : `${(p.commission_bps / 100).toLocaleString(lang)} %` }))), true));
    } catch (e) { say(problemText(e), status, 'error'); }
  };
  more.addEventListener('click', load);
  load();
  return el('section', { class: 'panel', id: 'partners-panel', 'aria-labelledby': 'partners-title' },
    el('h2', { id: 'partners-title', text: t('partners_title') }), status, list, more);
}

// ------------------------------------------------------------------ page

export default async function adminPage() {
  const who = await signedIn();
  const app = $('app');
  if (who.kind !== 'admin') {
    app.replaceChildren(el('p', { class: 'panel', role: 'alert', text: t('admin_only') }));
    return;
  }
  const lookup = lookupPanel();
  app.replaceChildren(lookup.panel, auditPanel(lookup.open), outboxPanel(), usersPanel(), partnersPanel());
}
