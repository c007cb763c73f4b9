// The tablet's value-card till: the guest's card code, its balance read from the venue's
// side (`POST /partners/{id}/card-balance`), an amount typed on a keypad in the card's
// currency, and the redemption (`POST /partners/{id}/redemptions`). The server decides;
// its refusals are told in plain words.
import { api, el, t, addStrings, say, money, lang } from '/fimy.js';

addStrings({
  fr: {
    redeem_title: 'Carte valeur : encaisser un montant',
    redeem_code: 'Code de la carte du client',
    redeem_read: 'Lire la carte',
    redeem_balance: 'Solde de la carte : ',
    redeem_amount: 'Montant à encaisser',
    redeem_keypad: 'Pavé numérique',
    redeem_clear: 'Effacer',
    redeem_back: 'Retour',
    redeem_back_label: 'Retour : effacer le dernier chiffre',
    redeem_confirm: 'Encaisser',
    redeem_confirm_amount: 'Encaisser ',
    redeem_first: 'Lisez d’abord la carte, puis saisissez le montant.',
    redeem_done: 'Encaissé : ',
    redeem_left: '. Reste sur la carte : ',
    redeem_zero: 'Saisissez un montant supérieur à zéro.',
    redeem_too_much: 'Le montant dépasse ce qui reste sur la carte (',
    redeem_too_much_end: '). Saisissez un montant plus petit.',
    redeem_too_much_plain: 'Le montant dépasse ce qui reste sur la carte. Saisissez un montant plus petit.',
    redeem_currency: 'Cette carte est dans une autre monnaie que celle de l’établissement : elle ne peut pas servir ici (pas de conversion).',
    redeem_blocked: 'Cette carte est bloquée. Le client doit contacter le service Fimy ; rien n’a été encaissé.',
    redeem_used: 'Cette carte est entièrement utilisée : il ne reste rien à encaisser.',
    redeem_unusable: 'Cette carte ne peut pas être utilisée pour l’instant (paiement non terminé ou remboursée).',
    redeem_expired: 'Cette carte a expiré : elle ne peut plus être utilisée.',
    redeem_wrong_partner: 'Cette carte n’est pas valable dans cet établissement.',
    redeem_experience: 'C’est une carte expérience : elle s’utilise en réservant son expérience, pas par montant.',
    redeem_bad_code: 'Ce code n’est pas reconnu. Vérifiez les 17 caractères (XXXX-XXXX-XXXX-XXXX-X).',
    redeem_rate_limited: 'Trop de codes essayés. Patientez une minute avant de réessayer.',
  },
  en: {
    redeem_title: 'Value card: take an amount',
    redeem_code: 'The guest’s card code',
    redeem_read: 'Read the card',
    redeem_balance: 'Card balance: ',
    redeem_amount: 'Amount to take',
    redeem_keypad: 'Keypad',
    redeem_clear: 'Clear',
    redeem_back: 'Back',
    redeem_back_label: 'Back: delete the last digit',
    redeem_confirm: 'Take payment',
    redeem_confirm_amount: 'Take ',
    redeem_first: 'Read the card first, then type the amount.',
    redeem_done: 'Taken: ',
    redeem_left: '. Left on the card: ',
    redeem_zero: 'Type an amount above zero.',
    redeem_too_much: 'The amount is more than what is left on the card (',
    redeem_too_much_end: '). Type a smaller amount.',
    redeem_too_much_plain: 'The amount is more than what is left on the card. Type a smaller amount.',
    redeem_currency: 'This card is in another currency than the venue’s: it cannot be used here (no conversion).',
    redeem_blocked: 'This card is blocked. The guest should contact Fimy’s support; nothing was taken.',
    redeem_used: 'This card is fully used: there is nothing left to take.',
    redeem_unusable: 'This card cannot be used right now (payment not finished, or refunded).',
    redeem_expired: 'This card has expired: it can no longer be used.',
    redeem_wrong_partner: 'This card is not valid at this venue.',
    redeem_experience: 'This is an experience card: it is used by booking its experience, not by amount.',
    redeem_bad_code: 'This code is not recognised. Check the 17 characters (XXXX-XXXX-XXXX-XXXX-X).',
    redeem_rate_limited: 'Too many codes tried. Wait a minute before trying again.',
  },
});

/** Most digits the keypad takes (9 999 999,99). */
const MAX_DIGITS = 9;

/** The card's state as the server last told it, in plain words when it cannot be spent. */
function unusable(card) {
  if (card.kind !== 'value') return t('redeem_experience');
  if (card.status === 'blocked') return t('redeem_blocked');
  if (card.status === 'used') return t('redeem_used');
  if (card.status === 'expired') return t('redeem_expired');
  if (!['issued', 'delivered', 'opened', 'partly_used'].includes(card.status)) return t('redeem_unusable');
  return null;
}

/** A refusal from the server, in plain words. */
function refusal(e, card) {
  switch (e.code) {
    case 'insufficient_balance':
      return card ? t('redeem_too_much') + money(card.available_minor, card.currency) + t('redeem_too_much_end')
        : t('redeem_too_much_plain');
    case 'currency_mismatch': return t('redeem_currency');
    case 'card_state_conflict': return (card && unusable(card)) || t('redeem_unusable');
    case 'card_expired': return t('redeem_expired');
    case 'wrong_partner': return t('redeem_wrong_partner');
    case 'wrong_card_kind': return t('redeem_experience');
    case 'invalid_code':
    case 'not_found': return t('redeem_bad_code');
    case 'rate_limited': return t('redeem_rate_limited');
    case 'invalid_field': return t('redeem_zero');
    case 'network': return t('offline_error');
    default: return t('error') + e.message;
  }
}

/** The value-card panel of the tablet of `partner`. */
export default function redemptionPanel(partner) {
  let card = null; // the balance read for the code in the field
  let digits = '';
  const code = el('input', { id: 'redeem-code', required: true, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters' });
  const balance = el('p', { id: 'redeem-balance', role: 'status', 'aria-live': 'polite' });
  const amount = el('output', {
    id: 'redeem-amount', class: 'keypad-amount', for: 'redeem-keypad', 'aria-live': 'polite',
    'aria-labelledby': 'redeem-amount-label',
  });
  const result = el('p', { id: 'redeem-result', role: 'status', 'aria-live': 'assertive' });
  const confirm = el('button', { type: 'button', id: 'redeem-confirm', class: 'keypad-confirm', text: t('redeem_confirm') });

  const minor = () => Number(digits || '0');
  const render = () => {
    // No currency before the card is read: the figure alone.
    const shown = card ? money(minor(), card.currency)
      : new Intl.NumberFormat(lang === 'fr' ? 'fr-CA' : 'en-CA', { minimumFractionDigits: 2 }).format(minor() / 100);
    amount.textContent = shown;
    confirm.disabled = !card || !!unusable(card) || minor() <= 0;
    confirm.textContent = minor() > 0 && card ? t('redeem_confirm_amount') + shown : t('redeem_confirm');
  };
  const press = (key) => {
    if (key === 'clear') digits = '';
    else if (key === 'back') digits = digits.slice(0, -1);
    else if (digits.length < MAX_DIGITS) digits = (digits + key).replace(/^0+/, '');
    render();
  };
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'back'];
  const keypad = el('div', { id: 'redeem-keypad', class: 'keypad', role: 'group', 'aria-label': t('redeem_keypad') },
    ...keys.map((k) => el('button', {
      type: 'button', 'data-key': k, class: k.length > 1 ? 'secondary' : null,
      text: k === 'clear' ? t('redeem_clear') : k === 'back' ? t('redeem_back') : k,
      'aria-label': k === 'back' ? t('redeem_back_label') : null,
      onclick: () => press(k),
    })));
  // The keys of a physical keyboard work too while the keypad has the focus.
  keypad.addEventListener('keydown', (ev) => {
    if (/^[0-9]$/.test(ev.key)) press(ev.key);
    else if (ev.key === 'Backspace') press('back');
    else if (ev.key === 'Delete' || ev.key === 'Escape') press('clear');
    else return;
    ev.preventDefault();
  });

  const showCard = () => {
    const why = card && unusable(card);
    balance.textContent = card ? t('redeem_balance') + money(card.available_minor, card.currency) : '';
    if (why) say(why, result, 'error');
  };

  const read = el('form', { id: 'redeem-read', class: 'row' },
    code, el('button', { type: 'submit', text: t('redeem_read') }));
  read.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    card = null;
    say('', result);
    try {
      card = await api('POST', `/partners/${partner}/card-balance`, { code: code.value.trim() });
    } catch (e) {
      say(refusal(e, null), result, 'error');
    }
    showCard();
    render();
  });
  code.addEventListener('input', () => { card = null; showCard(); render(); });

  confirm.addEventListener('click', async () => {
    if (!card || minor() <= 0) { say(t('redeem_first'), result, 'error'); return; }
    const asked = minor();
    confirm.disabled = true;
    try {
      const spent = await api('POST', `/partners/${partner}/redemptions`, { code: code.value.trim(), amount_minor: asked });
      card = { ...card, available_minor: spent.available_minor, status: spent.available_minor ? 'partly_used' : 'used' };
      digits = '';
      showCard();
      say(t('redeem_done') + money(spent.amount_minor, spent.currency) + t('redeem_left')
        + money(spent.available_minor, spent.currency), result, 'done');
    } catch (e) {
      say(refusal(e, card), result, 'error');
    }
    render();
  });

  render();
  return el('section', { class: 'panel', id: 'redeem', 'aria-labelledby': 'redeem-title' },
    el('h2', { id: 'redeem-title', text: t('redeem_title') }),
    el('label', { for: 'redeem-code', text: t('redeem_code') }), read, balance,
    el('p', { class: 'keypad-label', id: 'redeem-amount-label', text: t('redeem_amount') }), amount,
    keypad, confirm, result);
}
