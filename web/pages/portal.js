// The partner portal (`/portal`), for a venue's owner and staff: a dashboard of today and
// the week (live), the booking messages, the venue's profile, its experiences (create,
// edit, publish), each experience's availability rules with a preview of the slots they
// open (`…/availability/preview`, the server's own slot generation), the staff, the
// tablet devices and the calendar feed. The owner changes everything; staff manage the
// experiences, their availability and the feed, and see the rest (the server checks it
// all again).
import {
  api, el, t, addStrings, say, problemText, money, when, useVenueZone, field, signedIn,
  liveConnection, lang,
} from '/fimy.js';
import { photoField } from '/pages/portal-photos.js';

addStrings({
  fr: {
    nav_portal: 'Espace partenaire',
    portal_not_staff: 'Cette page est réservée au ou à la propriétaire et à l’équipe d’un établissement partenaire.',
    portal_tablet: 'Cette tablette n’administre rien : son calendrier est sur la page Tablette partenaire.',
    portal_sections: 'Sections de l’espace partenaire',
    saving: 'Enregistrement…',
    saved: 'Enregistré.',
    check_field: 'Vérifiez le champ « ',
    check_field_end: ' » : ',
    forbidden_owner: 'Seul·e le ou la propriétaire de l’établissement peut faire cela.',
    owner_only: 'Seul·e le ou la propriétaire modifie cette partie ; vous la voyez telle qu’elle est.',
    remove: 'Retirer',
    remove_confirm: 'Confirmer le retrait',
    cancel: 'Annuler',
    // dashboard
    dash_title: 'Tableau de bord',
    dash_today: 'Arrivées aujourd’hui',
    dash_week: 'Réservations sur 7 jours',
    dash_returning: 'Clients fidèles',
    dash_upcoming: 'Prochaines réservations',
    dash_none: 'Aucune réservation à venir.',
    dash_none_today: 'Personne n’est attendu aujourd’hui.',
    messages: 'Messages',
    messages_of: 'Messages de la réservation de ',
    messages_none: 'Pas encore de message.',
    message_reply: 'Votre message au client',
    message_send: 'Envoyer',
    message_sent: 'Message envoyé.',
    // profile
    profile_title: 'Profil de l’établissement',
    p_name: 'Nom',
    p_description: 'Présentation',
    p_address: 'Adresse',
    p_city: 'Ville',
    p_timezone: 'Fuseau horaire (ex. America/Toronto)',
    p_cancellation: 'Annulation possible jusqu’à (heures avant le début)',
    p_hours: 'Heures d’ouverture',
    p_save: 'Enregistrer le profil',
    profile_saved: 'Profil enregistré.',
    // windows
    weekday: 'Jour',
    from: 'De (HH:MM)',
    to: 'À (HH:MM, 24:00 pour minuit)',
    add_period: 'Ajouter une plage horaire',
    remove_period: 'Retirer cette plage',
    day_mon: 'lundi', day_tue: 'mardi', day_wed: 'mercredi', day_thu: 'jeudi', day_fri: 'vendredi',
    day_sat: 'samedi', day_sun: 'dimanche',
    // experiences
    exp_title: 'Expériences',
    exp_none: 'Aucune expérience pour l’instant.',
    exp_new: 'Nouvelle expérience',
    exp_edit: 'Modifier : ',
    e_title: 'Titre',
    e_description: 'Description',
    e_category: 'Catégorie',
    e_price: 'Prix par personne',
    e_currency: 'Monnaie',
    e_duration: 'Durée (minutes)',
    e_capacity: 'Personnes par réservation (au plus)',
    e_conditions: 'Conditions',
    e_occasions: 'Occasions',
    e_seasons: 'Saisons',
    e_publish_now: 'Publier tout de suite dans le catalogue',
    e_create: 'Créer l’expérience',
    e_update: 'Enregistrer les modifications',
    e_created: 'Expérience créée (brouillon tant qu’elle n’est pas publiée).',
    e_created_published: 'Expérience créée et publiée.',
    e_updated: 'Expérience enregistrée.',
    e_bad_price: 'Le prix s’écrit en chiffres, avec au plus deux décimales (ex. 89,50).',
    published: 'Publiée',
    draft: 'Brouillon',
    publish: 'Publier',
    unpublish: 'Retirer du catalogue',
    published_now: 'Publiée : elle apparaît dans le catalogue.',
    unpublished_now: 'Retirée du catalogue (les cartes déjà vendues restent valables).',
    edit: 'Modifier',
    availability: 'Disponibilités',
    minutes: ' min',
    people: ' pers. max',
    cat_restaurant: 'Restaurant', cat_spa: 'Spa', cat_hotel: 'Hôtel', cat_activity: 'Activité', cat_shop: 'Boutique',
    occ_birthday: 'Anniversaire', occ_anniversary: 'Anniversaire de couple', occ_wedding: 'Mariage',
    occ_christmas: 'Noël', occ_valentines: 'Saint-Valentin', occ_mothers_day: 'Fête des mères',
    occ_fathers_day: 'Fête des pères', occ_graduation: 'Diplôme', occ_retirement: 'Retraite',
    occ_thank_you: 'Merci', occ_corporate: 'Entreprise',
    sea_winter: 'Hiver', sea_spring: 'Printemps', sea_summer: 'Été', sea_autumn: 'Automne', sea_all_year: 'Toute l’année',
    // availability
    rules_title: 'Disponibilités',
    rules_pick: 'Choisissez « Disponibilités » sur une expérience pour régler ses créneaux.',
    rules_for: 'Créneaux de : ',
    rules_weekly: 'Chaque semaine',
    rules_exceptions: 'Dates particulières (fermeture ou autres horaires)',
    add_exception: 'Ajouter une date',
    remove_exception: 'Retirer cette date',
    x_date: 'Date',
    x_closed: 'Fermé toute la journée',
    r_capacity: 'Places par créneau',
    r_slot: 'Durée d’un créneau (minutes)',
    r_buffer: 'Pause entre deux créneaux (minutes)',
    r_notice: 'Réserver au moins (minutes avant)',
    r_horizon: 'Réservable jusqu’à (jours à l’avance)',
    r_preview: 'Voir les créneaux',
    r_save: 'Enregistrer les disponibilités',
    r_preview_caption: 'Aperçu, pas encore enregistré : ',
    r_saved_caption: 'Enregistré. Créneaux proposés aux clients : ',
    r_slots_14: ' créneaux dans les 14 prochains jours',
    r_no_slots: 'Ces règles n’ouvrent aucun créneau dans les 14 prochains jours.',
    r_more: 'et d’autres…',
    free_places: ' places libres',
    // team
    team_title: 'Équipe',
    role_owner: 'propriétaire',
    role_staff: 'équipe',
    invite_email: 'E-mail d’un compte existant',
    invite_role: 'Rôle',
    invite: 'Ajouter à l’équipe',
    invited: 'Ajouté·e à l’équipe.',
    no_account: 'Aucun compte n’a cette adresse : la personne crée d’abord son compte, puis vous l’ajoutez.',
    already_staff: 'Ce compte fait déjà partie d’une équipe, ou n’est pas un compte client.',
    last_owner: 'C’est le seul ou la seule propriétaire : ajoutez d’abord un ou une autre propriétaire.',
    you: ' (vous)',
    // devices
    devices_title: 'Tablettes',
    devices_none: 'Aucune tablette.',
    device_name: 'Nom de la tablette (ex. Tablette de l’accueil)',
    device_add: 'Ajouter une tablette',
    device_token: 'Jeton de la tablette, affiché une seule fois : copiez-le maintenant sur la tablette.',
    device_since: 'ajoutée le ',
    device_until: ', jeton valable jusqu’au ',
    device_no_session: ', sans jeton valable',
    device_removed: 'Tablette retirée : son jeton ne fonctionne plus.',
    // feed
    feed_title: 'Calendrier à s’abonner (.ics)',
    feed_help: 'Une adresse secrète que votre agenda (Google, Apple, Outlook) suit sans connexion. En créer une nouvelle désactive l’ancienne.',
    feed_create: 'Créer une adresse d’abonnement',
    feed_url: 'Adresse du calendrier (.ics)',
    feed_open: 'Ouvrir dans mon agenda',
    feed_revoke: 'Désactiver l’adresse',
    feed_revoked: 'Adresse désactivée : les agendas abonnés ne reçoivent plus rien.',
    feed_made: 'Nouvelle adresse créée ; la précédente ne fonctionne plus.',
  },
  en: {
    nav_portal: 'Partner portal',
    portal_not_staff: 'This page is for the owner and staff of a partner venue.',
    portal_tablet: 'This tablet manages nothing: its calendar is on the Partner tablet page.',
    portal_sections: 'Sections of the partner portal',
    saving: 'Saving…',
    saved: 'Saved.',
    check_field: 'Check the field “',
    check_field_end: '”: ',
    forbidden_owner: 'Only the venue’s owner can do this.',
    owner_only: 'Only the owner changes this part; you see it as it is.',
    remove: 'Remove',
    remove_confirm: 'Confirm removal',
    cancel: 'Cancel',
    dash_title: 'Dashboard',
    dash_today: 'Arrivals today',
    dash_week: 'Bookings over 7 days',
    dash_returning: 'Returning customers',
    dash_upcoming: 'Upcoming bookings',
    dash_none: 'No upcoming bookings.',
    dash_none_today: 'Nobody is expected today.',
    messages: 'Messages',
    messages_of: 'Messages about the booking of ',
    messages_none: 'No messages yet.',
    message_reply: 'Your message to the guest',
    message_send: 'Send',
    message_sent: 'Message sent.',
    profile_title: 'Venue profile',
    p_name: 'Name',
    p_description: 'About',
    p_address: 'Address',
    p_city: 'City',
    p_timezone: 'Time zone (e.g. America/Toronto)',
    p_cancellation: 'Cancellation allowed until (hours before the start)',
    p_hours: 'Opening hours',
    p_save: 'Save the profile',
    profile_saved: 'Profile saved.',
    weekday: 'Day',
    from: 'From (HH:MM)',
    to: 'To (HH:MM, 24:00 for midnight)',
    add_period: 'Add a time range',
    remove_period: 'Remove this range',
    day_mon: 'Monday', day_tue: 'Tuesday', day_wed: 'Wednesday', day_thu: 'Thursday', day_fri: 'Friday',
    day_sat: 'Saturday', day_sun: 'Sunday',
    exp_title: 'Experiences',
    exp_none: 'No experiences yet.',
    exp_new: 'New experience',
    exp_edit: 'Edit: ',
    e_title: 'Title',
    e_description: 'Description',
    e_category: 'Category',
    e_price: 'Price per person',
    e_currency: 'Currency',
    e_duration: 'Duration (minutes)',
    e_capacity: 'People per booking (at most)',
    e_conditions: 'Conditions',
    e_occasions: 'Occasions',
    e_seasons: 'Seasons',
    e_publish_now: 'Publish in the catalogue right away',
    e_create: 'Create the experience',
    e_update: 'Save the changes',
    e_created: 'Experience created (a draft until it is published).',
    e_created_published: 'Experience created and published.',
    e_updated: 'Experience saved.',
    e_bad_price: 'Write the price in figures, with at most two decimals (e.g. 89.50).',
    published: 'Published',
    draft: 'Draft',
    publish: 'Publish',
    unpublish: 'Withdraw from the catalogue',
    published_now: 'Published: it shows in the catalogue.',
    unpublished_now: 'Withdrawn from the catalogue (cards already sold stay valid).',
    edit: 'Edit',
    availability: 'Availability',
    minutes: ' min',
    people: ' people max',
    cat_restaurant: 'Restaurant', cat_spa: 'Spa', cat_hotel: 'Hotel', cat_activity: 'Activity', cat_shop: 'Shop',
    occ_birthday: 'Birthday', occ_anniversary: 'Anniversary', occ_wedding: 'Wedding',
    occ_christmas: 'Christmas', occ_valentines: 'Valentine’s Day', occ_mothers_day: 'Mother’s Day',
    occ_fathers_day: 'Father’s Day', occ_graduation: 'Graduation', occ_retirement: 'Retirement',
    occ_thank_you: 'Thank you', occ_corporate: 'Corporate',
    sea_winter: 'Winter', sea_spring: 'Spring', sea_summer: 'Summer', sea_autumn: 'Autumn', sea_all_year: 'All year',
    rules_title: 'Availability',
    rules_pick: 'Choose “Availability” on an experience to set its time slots.',
    rules_for: 'Time slots of: ',
    rules_weekly: 'Every week',
    rules_exceptions: 'Special dates (closed, or other hours)',
    add_exception: 'Add a date',
    remove_exception: 'Remove this date',
    x_date: 'Date',
    x_closed: 'Closed all day',
    r_capacity: 'Places per slot',
    r_slot: 'Length of a slot (minutes)',
    r_buffer: 'Break between slots (minutes)',
    r_notice: 'Book at least (minutes ahead)',
    r_horizon: 'Bookable up to (days ahead)',
    r_preview: 'Show the slots',
    r_save: 'Save the availability',
    r_preview_caption: 'Preview, not saved yet: ',
    r_saved_caption: 'Saved. Slots offered to guests: ',
    r_slots_14: ' slots in the next 14 days',
    r_no_slots: 'These rules open no slot in the next 14 days.',
    r_more: 'and more…',
    free_places: ' places free',
    team_title: 'Staff',
    role_owner: 'owner',
    role_staff: 'staff',
    invite_email: 'Email of an existing account',
    invite_role: 'Role',
    invite: 'Add to the staff',
    invited: 'Added to the staff.',
    no_account: 'No account has this email: they create their account first, then you add them.',
    already_staff: 'This account is on a staff already, or is not a customer account.',
    last_owner: 'This is the only owner: add another owner first.',
    you: ' (you)',
    devices_title: 'Tablets',
    devices_none: 'No tablets.',
    device_name: 'Tablet name (e.g. Front desk tablet)',
    device_add: 'Add a tablet',
    device_token: 'The tablet’s token, shown only once: copy it to the tablet now.',
    device_since: 'added on ',
    device_until: ', token valid until ',
    device_no_session: ', no valid token',
    device_removed: 'Tablet removed: its token no longer works.',
    feed_title: 'Calendar to subscribe to (.ics)',
    feed_help: 'A secret address your calendar app (Google, Apple, Outlook) follows without logging in. Making a new one turns the old one off.',
    feed_create: 'Make a subscription address',
    feed_url: 'Calendar address (.ics)',
    feed_open: 'Open in my calendar',
    feed_revoke: 'Turn the address off',
    feed_revoked: 'Address turned off: subscribed calendars get nothing more.',
    feed_made: 'New address made; the previous one no longer works.',
  },
});

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const CATEGORIES = ['restaurant', 'spa', 'hotel', 'activity', 'shop'];
const OCCASIONS = ['birthday', 'anniversary', 'wedding', 'christmas', 'valentines', 'mothers_day',
  'fathers_day', 'graduation', 'retirement', 'thank_you', 'corporate'];
const SEASONS = ['winter', 'spring', 'summer', 'autumn', 'all_year'];
const CURRENCIES = ['EUR', 'CAD', 'USD', 'GBP', 'CHF'];
const PREVIEW_DAYS = 14;
const SLOTS_SHOWN = 40;
const HHMM = '([01][0-9]|2[0-3]):[0-5][0-9]|24:00';

// ------------------------------------------------------------------ small pieces

const status = (id) => el('p', { id, role: 'status', 'aria-live': 'polite' });

function section(id, title, ...children) {
  return el('section', { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    el('h2', { id: `${id}-title`, text: title }), ...children);
}

/** An input bound to an API field (`data-field`), so a refusal can point at it. */
function input(id, apiField, attrs = {}) {
  const node = el(attrs.tag || 'input', { id, 'data-field': apiField, ...attrs, tag: undefined });
  node.addEventListener('input', () => node.removeAttribute('aria-invalid'));
  return node;
}

function select(id, apiField, options, value) {
  const node = el('select', { id, 'data-field': apiField },
    ...options.map(([v, label]) => el('option', { value: v, text: label, selected: v === value })));
  return node;
}

/** A refusal in words: the field it names (focused and marked), or what it means. */
function fail(e, box, form) {
  const name = e.field && String(e.field).split(/[[.]/)[0];
  const target = name && form && form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    target.focus();
    const label = form.querySelector(`label[for="${CSS.escape(target.id)}"]`)?.textContent
      || target.querySelector('legend')?.textContent || name;
    say(t('check_field') + label + t('check_field_end') + e.message, box, 'error');
    return;
  }
  const words = {
    forbidden: t('forbidden_owner'), already_staff: t('already_staff'), last_owner: t('last_owner'),
  }[e.code];
  say(words || problemText(e), box, 'error');
}

/** A button that asks once more before `action` (removals cannot be undone). */
function removeButton(label, action) {
  const wrap = el('span', { class: 'confirm-wrap' });
  const ask = () => wrap.replaceChildren(
    el('button', {
      type: 'button', class: 'danger', text: t('remove_confirm'), 'aria-label': `${t('remove_confirm')} : ${label}`,
      onclick: action,
    }),
    el('button', { type: 'button', class: 'secondary', text: t('cancel'), onclick: () => idle() }));
  const idle = () => wrap.replaceChildren(el('button', {
    type: 'button', class: 'secondary', text: t('remove'), 'aria-label': `${t('remove')} : ${label}`,
    onclick: () => { ask(); wrap.firstChild.focus(); },
  }));
  idle();
  return wrap;
}

/** Minor units from a typed price ("89", "89,5", "89.50"); NaN when it is not one. */
function toMinor(text) {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  return m ? Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0')) : NaN;
}

function fromMinor(minor) {
  const s = (minor / 100).toFixed(2);
  return lang === 'fr' ? s.replace('.', ',') : s;
}

/**
 * The fields of `next` that differ from `current`: a change sends only what was changed
 * (what was stored stays as it was, even a value a form would not accept any more).
 */
function changes(current, next) {
  return Object.fromEntries(Object.entries(next)
    .filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(current[k])));
}

const inDays = (days) => new Date(Date.now() + days * 86_400_000).toISOString();
const dateOnly = (iso) => new Intl.DateTimeFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', { dateStyle: 'medium' })
  .format(new Date(iso));

/**
 * Rows of local time ranges (`{weekday?, start, end}`), each with its labels: the weekly
 * windows of availability rules and the opening hours of the profile share it.
 * `keys` names the start and end fields (`start`/`end` or `open`/`close`).
 */
function periods(prefix, list, keys, { disabled = false } = {}) {
  const box = el('ul', { class: 'rule-rows', id: `${prefix}-rows` });
  let n = 0;
  const add = (p = { weekday: 'mon', [keys[0]]: '10:00', [keys[1]]: '18:00' }) => {
    const i = n++;
    const id = (name) => `${prefix}-${name}-${i}`;
    const row = el('li', { class: 'rule-row', 'data-row': i },
      field(id('day'), t('weekday'), select(id('day'), 'weekday',
        WEEKDAYS.map((d) => [d, t('day_' + d)]), p.weekday)),
      field(id('start'), t('from'), input(id('start'), keys[0], {
        value: p[keys[0]], pattern: HHMM, required: true, inputmode: 'numeric', size: 5, disabled,
      })),
      field(id('end'), t('to'), input(id('end'), keys[1], {
        value: p[keys[1]], pattern: HHMM, required: true, inputmode: 'numeric', size: 5, disabled,
      })),
      disabled ? null : el('button', {
        type: 'button', class: 'secondary', text: t('remove_period'),
        'aria-label': `${t('remove_period')} ${i + 1}`,
        onclick: () => row.remove(),
      }));
    if (disabled) row.querySelector('select').disabled = true;
    box.append(row);
  };
  for (const p of list) add(p);
  const value = () => [...box.children].map((row) => {
    const [day, start, end] = row.querySelectorAll('select, input');
    return { weekday: day.value, [keys[0]]: start.value.trim(), [keys[1]]: end.value.trim() };
  });
  const more = disabled ? null : el('button', {
    type: 'button', class: 'secondary', id: `${prefix}-add`, text: t('add_period'), onclick: () => add(),
  });
  return { node: el('div', {}, box, more), value, add };
}

// ------------------------------------------------------------------ the page

export default async function portalPage() {
  const who = await signedIn();
  const app = document.getElementById('app');
  const staff = who.staff;
  if (!staff || !['owner', 'staff'].includes(staff.role)) {
    app.replaceChildren(el('p', { class: 'panel', text: staff ? t('portal_tablet') : t('portal_not_staff') }));
    return;
  }
  const ctx = { partner: staff.partner_id, owner: staff.role === 'owner', me: who.id };
  await useVenueZone(ctx.partner);

  const toc = el('nav', { class: 'toc', 'aria-label': t('portal_sections') }, el('ul', {},
    ...[['dash', 'dash_title'], ['profile', 'profile_title'], ['experiences', 'exp_title'],
      ['availability', 'rules_title'], ['team', 'team_title'], ['devices', 'devices_title'],
      ['feed', 'feed_title']].map(([id, key]) => el('li', {}, el('a', { href: `#${id}`, text: t(key) })))));
  const dash = dashboard(ctx);
  const rules = availability(ctx);
  const exps = experiences(ctx, rules);
  app.replaceChildren(toc, dash.node, await profile(ctx), exps.node, rules.node,
    team(ctx), devices(ctx), feed(ctx));
  await Promise.all([dash.load(), exps.load()]);
}

// ------------------------------------------------------------------ dashboard

function dashboard(ctx) {
  const stats = el('dl', { class: 'stats', id: 'dash-stats' });
  const today = el('ul', { class: 'calendar', id: 'dash-today' });
  const upcoming = el('ul', { class: 'calendar', id: 'dash-upcoming' });
  const note = status('dash-status');
  let pending = null;
  let following = false;
  // Open threads survive the list being redrawn (a reply being typed stays).
  const threads = new Map();
  const stat = (key, n) => el('div', {}, el('dt', { text: t(key) }), el('dd', { text: String(n) }));
  const load = async () => {
    try {
      const [d, week] = await Promise.all([
        api('GET', `/partners/${ctx.partner}/dashboard`),
        api('GET', `/partners/${ctx.partner}/calendar`),
      ]);
      const booked = week.bookings.filter((b) => ['held', 'confirmed', 'completed'].includes(b.status));
      stats.replaceChildren(stat('dash_today', d.today.length), stat('dash_week', booked.length),
        stat('dash_returning', d.returning_customers.length));
      today.replaceChildren(...(d.today.length ? d.today.map((b) => bookingItem(b, false))
        : [el('li', { text: t('dash_none_today') })]));
      for (const id of threads.keys()) if (!d.upcoming.some((b) => b.id === id)) threads.delete(id);
      const focused = upcoming.contains(document.activeElement) ? document.activeElement : null;
      upcoming.replaceChildren(...(d.upcoming.length ? d.upcoming.map((b) => bookingItem(b, true))
        : [el('li', { text: t('dash_none') })]));
      if (focused?.isConnected) focused.focus({ preventScroll: true });
      if (!following) {
        following = true;
        // A booking made, moved or cancelled anywhere shows here by itself.
        liveConnection().follow(`partner:${ctx.partner}:calendar`, week.last_seq, () => {
          clearTimeout(pending);
          pending = setTimeout(load, 100);
        });
      }
    } catch (e) {
      say(problemText(e), note, 'error'); // the last figures stay on screen
    }
  };
  const bookingItem = (b, withMessages) => {
    const li = el('li', { 'data-booking': b.id },
      el('strong', { text: when(b.starts_at) }), ' ',
      el('span', { text: `${b.experience_title} · ${b.party_size}${t('party')} · ${b.customer} · ` }),
      el('span', { class: 'status', text: t('status_' + b.status) }));
    if (withMessages) {
      li.append(' ', messagesButton(b, li, threads));
      if (threads.has(b.id)) li.append(threads.get(b.id));
    }
    return li;
  };
  return {
    node: section('dash', t('dash_title'), stats,
      el('h3', { text: t('dash_today') }), today,
      el('h3', { text: t('dash_upcoming') }), upcoming, note),
    load,
  };
}

/** Opens and closes the message thread of a booking under its line (kept in `threads`). */
function messagesButton(b, li, threads) {
  const id = `thread-${b.id}`;
  const button = el('button', {
    type: 'button', class: 'secondary', text: t('messages'), 'aria-controls': id,
    'aria-expanded': threads.has(b.id) ? 'true' : 'false',
    'aria-label': `${t('messages')} : ${b.customer}, ${when(b.starts_at)}`,
  });
  button.addEventListener('click', async () => {
    if (threads.has(b.id)) {
      threads.get(b.id).remove();
      threads.delete(b.id);
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    button.setAttribute('aria-expanded', 'true');
    const box = el('div', { id, class: 'thread' });
    threads.set(b.id, box);
    li.append(box);
    await thread(b, box);
  });
  return button;
}

async function thread(b, box) {
  const list = el('ul', { class: 'messages' });
  const note = status(`${box.id}-status`);
  const text = input(`${box.id}-body`, 'body', { tag: 'textarea', rows: 2, maxlength: 2000, required: true });
  const form = el('form', { class: 'message-form' },
    field(text.id, t('message_reply'), text), el('button', { type: 'submit', text: t('message_send') }), note);
  const show = (items) => list.replaceChildren(...(items.length ? items.map((m) => el('li', { 'data-mine': m.mine ? 'true' : 'false' },
    el('strong', { text: m.author_name }), ' ', el('span', { class: 'muted', text: when(m.created_at) }),
    el('p', { text: m.body }))) : [el('li', { text: t('messages_none') })]));
  box.replaceChildren(el('h4', { text: t('messages_of') + b.customer }), list, form);
  let items = [];
  try {
    items = (await api('GET', `/bookings/${b.id}/messages?limit=100`)).items;
    show(items);
  } catch (e) {
    say(problemText(e), note, 'error');
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const m = await api('POST', `/bookings/${b.id}/messages`, { body: text.value });
      items = [...items, m];
      show(items);
      text.value = '';
      say(t('message_sent'), note, 'done');
    } catch (e) {
      fail(e, note, form);
    }
  });
}

// ------------------------------------------------------------------ profile

async function profile(ctx) {
  const p = await api('GET', `/partners/${ctx.partner}/profile`);
  const note = status('profile-status');
  const hours = periods('hours', p.opening_hours, ['open', 'close'], { disabled: !ctx.owner });
  const text = (id, apiField, value, attrs = {}) => input(id, apiField, { value, ...attrs });
  const description = input('profile-description', 'description', { tag: 'textarea', rows: 4, maxlength: 5000 });
  description.value = p.description;
  const fields = el('fieldset', { class: 'plain', disabled: !ctx.owner },
    field('profile-name', t('p_name'), text('profile-name', 'name', p.name, { required: true, maxlength: 120 })),
    field('profile-description', t('p_description'), description),
    field('profile-address', t('p_address'), text('profile-address', 'address', p.address, { required: true, maxlength: 200 })),
    field('profile-city', t('p_city'), text('profile-city', 'city', p.city, { required: true, maxlength: 100 })),
    field('profile-timezone', t('p_timezone'), text('profile-timezone', 'timezone', p.timezone, { required: true, spellcheck: 'false' })),
    field('profile-cancellation', t('p_cancellation'), text('profile-cancellation', 'cancellation_hours',
      p.cancellation_hours, { type: 'number', min: 0, max: 720, required: true })));
  const form = el('form', { id: 'profile-form', 'aria-labelledby': 'profile-title' },
    ctx.owner ? null : el('p', { class: 'muted', text: t('owner_only') }),
    fields,
    el('fieldset', { class: 'plain', 'data-field': 'opening_hours', id: 'profile-hours', tabindex: '-1' },
      el('legend', { text: t('p_hours') }), hours.node),
    ctx.owner ? el('button', { type: 'submit', text: t('p_save') }) : null, note);
  let saved = p;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say(t('saving'), note);
    try {
      saved = await api('PATCH', `/partners/${ctx.partner}`, changes(saved, {
        name: form.querySelector('#profile-name').value,
        description: description.value,
        address: form.querySelector('#profile-address').value,
        city: form.querySelector('#profile-city').value,
        timezone: form.querySelector('#profile-timezone').value.trim(),
        cancellation_hours: Number(form.querySelector('#profile-cancellation').value),
        opening_hours: hours.value(),
      }));
      await useVenueZone(ctx.partner);
      say(t('profile_saved'), note, 'done');
    } catch (e) {
      fail(e, note, form);
    }
  });
  const photos = photoField({
    id: 'profile-photos', photos: p.photos, name: () => saved.name, disabled: !ctx.owner, note: 'ph_owner_only',
    upload: `/partners/${ctx.partner}/photos`, patch: `/partners/${ctx.partner}`,
  });
  return section('profile', t('profile_title'), form, photos.node);
}

// ------------------------------------------------------------------ experiences

function experiences(ctx, rules) {
  const list = el('ul', { class: 'experience-list', id: 'experience-list' });
  const note = status('experience-status');
  const heading = el('h3', { id: 'experience-form-title', text: t('exp_new') });
  let editing = null; // the experience being edited, or null for a new one
  let items = [];

  const description = input('exp-description', 'description', { tag: 'textarea', rows: 3, maxlength: 5000 });
  const conditions = input('exp-conditions', 'conditions', { tag: 'textarea', rows: 2, maxlength: 2000 });
  // The photos of the experience being edited (a new one gets them once it exists).
  const photoSlot = el('div', { id: 'exp-photo-slot' });
  const showPhotos = (x) => photoSlot.replaceChildren(photoField(x ? {
    id: 'exp-photos', photos: x.photos, name: () => x.title,
    upload: `/partners/${ctx.partner}/experiences/${x.id}/photos`,
    patch: `/partners/${ctx.partner}/experiences/${x.id}`,
    onChange: (list) => { x.photos = list; },
  } : { id: 'exp-photos', photos: [], name: () => '', note: 'ph_save_first' }).node);
  showPhotos(null);
  const checks = (name, values, prefix) => el('fieldset', { class: 'checks', 'data-field': name, id: `exp-${name}`, tabindex: '-1' },
    el('legend', { text: t(`e_${name}`) }),
    ...values.map((v) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', name, value: v }), ' ', t(`${prefix}_${v}`))));
  const publishNow = el('input', { type: 'checkbox', id: 'exp-published' });
  const publishField = el('div', { class: 'check' }, publishNow, ' ', el('label', { for: 'exp-published', text: t('e_publish_now') }));
  const submit = el('button', { type: 'submit', id: 'exp-submit', text: t('e_create') });
  const cancel = el('button', { type: 'button', class: 'secondary', text: t('cancel'), hidden: true, onclick: () => reset() });
  const form = el('form', { id: 'experience-form', 'aria-labelledby': 'experience-form-title' },
    heading,
    field('exp-title', t('e_title'), input('exp-title', 'title', { required: true, maxlength: 120 })),
    field('exp-description', t('e_description'), description),
    el('div', { class: 'form-grid' },
      field('exp-category', t('e_category'), select('exp-category', 'category', CATEGORIES.map((c) => [c, t('cat_' + c)]), 'activity')),
      field('exp-price', t('e_price'), input('exp-price', 'price_minor', { required: true, inputmode: 'decimal', autocomplete: 'off' })),
      field('exp-currency', t('e_currency'), select('exp-currency', 'currency', CURRENCIES.map((c) => [c, c]), 'CAD')),
      field('exp-duration', t('e_duration'), input('exp-duration', 'duration_minutes', { type: 'number', min: 5, max: 4320, required: true, value: 60 })),
      field('exp-capacity', t('e_capacity'), input('exp-capacity', 'capacity', { type: 'number', min: 1, max: 500, required: true, value: 2 }))),
    field('exp-conditions', t('e_conditions'), conditions),
    photoSlot,
    checks('occasions', OCCASIONS, 'occ'), checks('seasons', SEASONS, 'sea'),
    publishField,
    el('div', { class: 'form-actions' }, submit, cancel), note);
  const $f = (id) => form.querySelector('#' + id);
  const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);

  const reset = () => {
    editing = null;
    form.reset();
    heading.textContent = t('exp_new');
    submit.textContent = t('e_create');
    cancel.hidden = true;
    publishField.hidden = false;
    showPhotos(null);
    if (items[0]) $f('exp-currency').value = items[0].currency;
  };
  const edit = (x) => {
    editing = x;
    heading.textContent = t('exp_edit') + x.title;
    submit.textContent = t('e_update');
    cancel.hidden = false;
    publishField.hidden = true;
    $f('exp-title').value = x.title;
    description.value = x.description;
    $f('exp-category').value = x.category;
    $f('exp-price').value = fromMinor(x.price_minor);
    $f('exp-currency').value = x.currency;
    $f('exp-duration').value = x.duration_minutes;
    $f('exp-capacity').value = x.capacity;
    conditions.value = x.conditions;
    showPhotos(x);
    for (const box of form.querySelectorAll('input[type="checkbox"][name]')) {
      box.checked = (box.name === 'occasions' ? x.occasions : x.seasons).includes(box.value);
    }
    $f('exp-title').focus();
  };

  const render = () => {
    list.replaceChildren(...(items.length ? items.map((x) => el('li', {
      'data-experience': x.id, 'data-published': x.published ? 'true' : 'false',
    },
    el('h3', { text: x.title }),
    el('p', {},
      el('span', { class: 'badge', text: x.published ? t('published') : t('draft') }), ' ',
      `${money(x.price_minor, x.currency)} · ${x.duration_minutes}${t('minutes')} · ${x.capacity}${t('people')}`),
    el('div', { class: 'form-actions' },
      el('button', { type: 'button', class: 'secondary', text: t('edit'), 'aria-label': `${t('edit')} : ${x.title}`, onclick: () => edit(x) }),
      el('button', {
        type: 'button', class: 'secondary', 'data-action': x.published ? 'unpublish' : 'publish',
        text: x.published ? t('unpublish') : t('publish'),
        'aria-label': `${x.published ? t('unpublish') : t('publish')} : ${x.title}`,
        onclick: () => setPublished(x, !x.published),
      }),
      el('button', {
        type: 'button', class: 'secondary', 'data-action': 'availability', text: t('availability'),
        'aria-label': `${t('availability')} : ${x.title}`, onclick: () => rules.open(x),
      })))) : [el('li', { text: t('exp_none') })]));
  };
  const load = async () => {
    try {
      items = (await api('GET', `/partners/${ctx.partner}/experiences?limit=100`)).items;
      render();
      if (!editing && items[0]) $f('exp-currency').value = items[0].currency;
    } catch (e) {
      say(problemText(e), note, 'error');
    }
  };
  const replace = (x) => {
    const i = items.findIndex((y) => y.id === x.id);
    if (i >= 0) items[i] = x; else items.push(x);
    render();
  };
  const setPublished = async (x, on) => {
    try {
      const done = await api('POST', `/partners/${ctx.partner}/experiences/${x.id}/${on ? 'publish' : 'unpublish'}`, {});
      replace(done);
      say(on ? t('published_now') : t('unpublished_now'), note, 'done');
      list.querySelector(`[data-experience="${x.id}"] [data-action]`)?.focus();
    } catch (e) {
      fail(e, note, form);
    }
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const price = toMinor($f('exp-price').value);
    if (Number.isNaN(price)) {
      $f('exp-price').setAttribute('aria-invalid', 'true');
      $f('exp-price').focus();
      say(t('e_bad_price'), note, 'error');
      return;
    }
    const body = {
      title: $f('exp-title').value, description: description.value, category: $f('exp-category').value,
      price_minor: price, currency: $f('exp-currency').value,
      duration_minutes: Number($f('exp-duration').value), capacity: Number($f('exp-capacity').value),
      conditions: conditions.value,
      occasions: checked('occasions'), seasons: checked('seasons'),
    };
    say(t('saving'), note);
    try {
      if (editing) {
        replace(await api('PATCH', `/partners/${ctx.partner}/experiences/${editing.id}`, changes(editing, body)));
        say(t('e_updated'), note, 'done');
      } else {
        body.published = publishNow.checked;
        replace(await api('POST', `/partners/${ctx.partner}/experiences`, body));
        say(body.published ? t('e_created_published') : t('e_created'), note, 'done');
      }
      reset();
    } catch (e) {
      fail(e, note, form);
    }
  });

  return { node: section('experiences', t('exp_title'), list, form), load };
}

// ------------------------------------------------------------------ availability

function availability(ctx) {
  const body = el('div', { id: 'rules-body' }, el('p', { class: 'muted', text: t('rules_pick') }));
  const node = section('availability', t('rules_title'), body);

  const open = async (x) => {
    let stored = null;
    try {
      stored = await api('GET', `/partners/${ctx.partner}/experiences/${x.id}/availability`);
    } catch (e) {
      if (e.status !== 404) { say(problemText(e), body, 'error'); return; }
    }
    const r = stored || {
      weekly: [], exceptions: [], capacity: x.capacity, slot_minutes: x.duration_minutes,
      buffer_minutes: 0, min_notice_minutes: 60, horizon_days: 90,
    };
    const note = status('rules-status');
    const caption = el('p', { id: 'rules-slots-caption', 'aria-live': 'polite' });
    const slots = el('ul', { class: 'slots compact', id: 'rules-slots' });
    const weekly = periods('weekly', r.weekly, ['start', 'end']);
    const exceptions = el('ul', { class: 'rule-rows', id: 'exceptions-rows' });
    let n = 0;
    const addException = (xd = { date: '', closed: true, windows: [] }) => {
      const i = n++;
      const id = (name) => `exception-${name}-${i}`;
      const w = xd.windows[0] || { start: '', end: '' };
      const closed = el('input', { type: 'checkbox', id: id('closed'), checked: xd.closed });
      const start = input(id('start'), 'start', { value: w.start, pattern: HHMM, inputmode: 'numeric', size: 5 });
      const end = input(id('end'), 'end', { value: w.end, pattern: HHMM, inputmode: 'numeric', size: 5 });
      const sync = () => { start.disabled = closed.checked; end.disabled = closed.checked; };
      closed.addEventListener('change', sync);
      sync();
      const row = el('li', { class: 'rule-row' },
        field(id('date'), t('x_date'), input(id('date'), 'date', { type: 'date', value: xd.date, required: true })),
        el('div', { class: 'check' }, closed, ' ', el('label', { for: id('closed'), text: t('x_closed') })),
        field(id('start'), t('from'), start), field(id('end'), t('to'), end),
        el('button', {
          type: 'button', class: 'secondary', text: t('remove_exception'),
          'aria-label': `${t('remove_exception')} ${i + 1}`, onclick: () => row.remove(),
        }));
      exceptions.append(row);
    };
    for (const xd of r.exceptions || []) addException(xd);
    const number = (id, apiField, value, min, max) =>
      input(id, apiField, { type: 'number', min, max, value, required: true });
    const form = el('form', { id: 'rules-form', 'aria-labelledby': 'availability-title' },
      el('p', { id: 'rules-for', text: t('rules_for') + x.title }),
      el('fieldset', { class: 'plain', 'data-field': 'weekly', id: 'rules-weekly', tabindex: '-1' },
        el('legend', { text: t('rules_weekly') }), weekly.node),
      el('fieldset', { class: 'plain' }, el('legend', { text: t('rules_exceptions') }), exceptions,
        el('button', { type: 'button', class: 'secondary', id: 'exception-add', text: t('add_exception'), onclick: () => addException() })),
      el('div', { class: 'form-grid' },
        field('rules-capacity', t('r_capacity'), number('rules-capacity', 'capacity', r.capacity, 1, 500)),
        field('rules-slot', t('r_slot'), number('rules-slot', 'slot_minutes', r.slot_minutes, 5, 4320)),
        field('rules-buffer', t('r_buffer'), number('rules-buffer', 'buffer_minutes', r.buffer_minutes, 0, 1440)),
        field('rules-notice', t('r_notice'), number('rules-notice', 'min_notice_minutes', r.min_notice_minutes, 0, 86400)),
        field('rules-horizon', t('r_horizon'), number('rules-horizon', 'horizon_days', r.horizon_days, 1, 730))),
      el('div', { class: 'form-actions' },
        el('button', { type: 'button', class: 'secondary', id: 'rules-preview', text: t('r_preview'), onclick: () => preview() }),
        el('button', { type: 'submit', id: 'rules-save', text: t('r_save') })),
      note, caption, slots);
    const $f = (id) => form.querySelector('#' + id);
    const value = () => ({
      weekly: weekly.value(),
      exceptions: [...exceptions.children].map((row) => {
        const [date, closed, start, end] = row.querySelectorAll('input');
        return {
          date: date.value, closed: closed.checked,
          windows: closed.checked || !start.value ? [] : [{ start: start.value.trim(), end: end.value.trim() }],
        };
      }),
      capacity: Number($f('rules-capacity').value), slot_minutes: Number($f('rules-slot').value),
      buffer_minutes: Number($f('rules-buffer').value), min_notice_minutes: Number($f('rules-notice').value),
      horizon_days: Number($f('rules-horizon').value),
    });
    const show = (list, words, withPlaces) => {
      caption.textContent = list.length ? words + list.length + t('r_slots_14') : t('r_no_slots');
      const shown = list.slice(0, SLOTS_SHOWN).map((s) => el('li', { 'data-starts': s.starts_at },
        el('span', { text: when(s.starts_at) }),
        withPlaces ? el('span', { class: 'muted', text: ` · ${s.free}${t('free_places')}` }) : null));
      if (list.length > SLOTS_SHOWN) shown.push(el('li', { class: 'muted', text: t('r_more') }));
      slots.replaceChildren(...shown);
    };
    const span = () => `from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(inDays(PREVIEW_DAYS))}`;
    const preview = async () => {
      if (!form.reportValidity()) return;
      say('', note);
      try {
        const p = await api('POST', `/partners/${ctx.partner}/experiences/${x.id}/availability/preview?${span()}`, value());
        show(p.slots, t('r_preview_caption'), false);
      } catch (e) {
        fail(e, note, form);
      }
    };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      say(t('saving'), note);
      try {
        await api('PUT', `/partners/${ctx.partner}/experiences/${x.id}/availability`, value());
        say(t('saved'), note, 'done');
        // What guests are offered now, as the partner's calendar lists it.
        const cal = await api('GET', `/partners/${ctx.partner}/calendar?${span()}`);
        show(cal.slots.filter((s) => s.experience_id === x.id), t('r_saved_caption'), true);
      } catch (e) {
        fail(e, note, form);
      }
    });
    body.replaceChildren(form);
    node.scrollIntoView({ block: 'start' });
    form.querySelector('select, input')?.focus({ preventScroll: true });
    if (!r.weekly.length) weekly.add();
  };
  return { node, open };
}

// ------------------------------------------------------------------ staff

function team(ctx) {
  const list = el('ul', { class: 'people', id: 'staff-list' });
  const note = status('staff-status');
  const load = async () => {
    try {
      const people = (await api('GET', `/partners/${ctx.partner}/staff`)).filter((m) => m.role !== 'tablet');
      list.replaceChildren(...people.map((m) => el('li', { 'data-user': m.user_id },
        el('strong', { text: m.display_name + (m.user_id === ctx.me ? t('you') : '') }), ' ',
        el('span', { class: 'muted', text: `${m.email} · ${t('role_' + m.role)}` }), ' ',
        ctx.owner && m.user_id !== ctx.me ? removeButton(m.display_name, async () => {
          try {
            await api('DELETE', `/partners/${ctx.partner}/staff/${m.user_id}`);
            await load();
          } catch (e) {
            fail(e, note, null);
          }
        }) : null)));
    } catch (e) {
      say(problemText(e), note, 'error');
    }
  };
  load();
  let form = null;
  if (ctx.owner) {
    form = el('form', { id: 'staff-form', class: 'form-grid' },
      field('staff-email', t('invite_email'), input('staff-email', 'email', { type: 'email', required: true, autocomplete: 'off' })),
      field('staff-role', t('invite_role'), select('staff-role', 'role', [['staff', t('role_staff')], ['owner', t('role_owner')]], 'staff')),
      el('div', { class: 'form-actions' }, el('button', { type: 'submit', text: t('invite') })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', `/partners/${ctx.partner}/staff`, {
          email: form.querySelector('#staff-email').value, role: form.querySelector('#staff-role').value,
        });
        form.reset();
        say(t('invited'), note, 'done');
        await load();
      } catch (e) {
        if (e.code === 'not_found') say(t('no_account'), note, 'error');
        else fail(e, note, form);
      }
    });
  }
  return section('team', t('team_title'), list, ctx.owner ? form : el('p', { class: 'muted', text: t('owner_only') }), note);
}

// ------------------------------------------------------------------ devices

function devices(ctx) {
  const list = el('ul', { class: 'people', id: 'device-list' });
  const note = status('device-status');
  const token = el('div', { id: 'device-token-box', 'aria-live': 'polite' });
  const load = async () => {
    try {
      const all = await api('GET', `/partners/${ctx.partner}/devices`);
      list.replaceChildren(...(all.length ? all.map((d) => el('li', { 'data-device': d.device_id },
        el('strong', { text: d.name }), ' ',
        el('span', {
          class: 'muted',
          text: t('device_since') + dateOnly(d.created_at)
            + (d.session_expires_at ? t('device_until') + dateOnly(d.session_expires_at) : t('device_no_session')),
        }), ' ',
        ctx.owner ? removeButton(d.name, async () => {
          try {
            await api('DELETE', `/partners/${ctx.partner}/devices/${d.device_id}`);
            token.replaceChildren();
            say(t('device_removed'), note, 'done');
            await load();
          } catch (e) {
            fail(e, note, null);
          }
        }) : null)) : [el('li', { text: t('devices_none') })]));
    } catch (e) {
      say(problemText(e), note, 'error');
    }
  };
  load();
  let form = el('p', { class: 'muted', text: t('owner_only') });
  if (ctx.owner) {
    form = el('form', { id: 'device-form', class: 'form-grid' },
      field('device-name', t('device_name'), input('device-name', 'name', { required: true, maxlength: 100, autocomplete: 'off' })),
      el('div', { class: 'form-actions' }, el('button', { type: 'submit', text: t('device_add') })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const made = await api('POST', `/partners/${ctx.partner}/devices`, { name: form.querySelector('#device-name').value });
        form.reset();
        say('', note);
        token.replaceChildren(el('p', { text: t('device_token') }),
          el('code', { id: 'device-token', class: 'qr', 'data-device': made.device_id, text: made.token }));
        await load();
      } catch (e) {
        fail(e, note, form);
      }
    });
  }
  return section('devices', t('devices_title'), list, form, token, note);
}

// ------------------------------------------------------------------ calendar feed

function feed(ctx) {
  const note = status('feed-status');
  const out = el('div', { id: 'feed-out' });
  const make = async () => {
    try {
      const f = await api('POST', `/partners/${ctx.partner}/calendar-feed`, {});
      out.replaceChildren(
        field('feed-url', t('feed_url'), el('input', { id: 'feed-url', readonly: true, value: f.url, spellcheck: 'false' })),
        el('p', {}, el('a', { href: f.webcal_url, text: t('feed_open') })));
      say(t('feed_made'), note, 'done');
      out.querySelector('#feed-url').select();
    } catch (e) {
      fail(e, note, null);
    }
  };
  const revoke = async () => {
    try {
      await api('DELETE', `/partners/${ctx.partner}/calendar-feed`);
      out.replaceChildren();
      say(t('feed_revoked'), note, 'done');
    } catch (e) {
      fail(e, note, null);
    }
  };
  return section('feed', t('feed_title'), el('p', { text: t('feed_help') }),
    el('div', { class: 'form-actions' },
      el('button', { type: 'button', id: 'feed-create', text: t('feed_create'), onclick: make }),
      el('button', { type: 'button', class: 'secondary', id: 'feed-revoke', text: t('feed_revoke'), onclick: revoke })),
    out, note);
}
