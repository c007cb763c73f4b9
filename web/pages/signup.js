// Creating an account (`POST /api/v1/auth/register`): the form the log-in form of every
// signed-in page switches to ("Create an account"), and back. The API answers a new
// session as a log-in does (session and CSRF cookies); the page is then loaded again,
// signed in, with what it was showing (on `/gift?code=…`, the gift is claimed into the new
// account from the code in its address). Loaded only when someone asks for it.
//
// The rules said before submitting are the API's (`actors/src/account.rs`): a password of
// 10 to 128 characters, a name of 1 to 80. They are checked here too, so that what the
// person reads is these words rather than the browser's own bubble; everything else (the
// email's shape, an email taken) is the API's answer, put next to the field it concerns.
import { addStrings, api, el, field, keepLang, lang, t } from '/fimy.js';

/** `Password::MIN_CHARS` and `MAX_CHARS`, `DisplayName`'s 80 characters. */
const PASSWORD_MIN = 10;
const PASSWORD_MAX = 128;
const NAME_MAX = 80;

addStrings({
  fr: {
    su_title: 'Créer un compte',
    su_name: 'Votre nom',
    su_name_hint: 'Tel que le verront les personnes à qui vous offrez un cadeau.',
    su_password_hint: 'Au moins 10 caractères (128 au plus). Une phrase de quelques mots se retient mieux et résiste mieux.',
    su_lang: 'Langue de votre compte et de ses e-mails',
    su_submit: 'Créer mon compte',
    su_sending: 'Création du compte…',
    su_done: 'Compte créé : vous êtes connecté·e.',
    su_to_login: 'J’ai déjà un compte : me connecter',
    su_name_required: 'Indiquez votre nom.',
    su_name_invalid: 'Votre nom doit avoir de 1 à 80 caractères, sans caractère invisible ni de contrôle.',
    su_email_required: 'Indiquez votre adresse e-mail.',
    su_email_invalid: 'Cette adresse e-mail n’est pas valable. Vérifiez-la (par exemple : prenom@exemple.com).',
    su_email_taken: 'Un compte existe déjà avec cette adresse. Connectez-vous plutôt, ou choisissez une autre adresse.',
    su_password_rule: 'Le mot de passe doit avoir au moins 10 caractères, et 128 au plus.',
    su_rate_limited: 'Trop de tentatives depuis cette connexion. Attendez quelques minutes, puis réessayez.',
    su_refused: 'Le compte n’a pas pu être créé : ',
  },
  en: {
    su_title: 'Create an account',
    su_name: 'Your name',
    su_name_hint: 'As the people you give a gift to will see it.',
    su_password_hint: 'At least 10 characters (at most 128). A phrase of a few words is easier to remember and harder to guess.',
    su_lang: 'Language of your account and its emails',
    su_submit: 'Create my account',
    su_sending: 'Creating the account…',
    su_done: 'Account created: you are signed in.',
    su_to_login: 'I already have an account: log in',
    su_name_required: 'Enter your name.',
    su_name_invalid: 'Your name must have 1 to 80 characters, with no invisible or control character.',
    su_email_required: 'Enter your email address.',
    su_email_invalid: 'This email address is not valid. Check it (for example: name@example.com).',
    su_email_taken: 'An account already exists with this address. Log in instead, or choose another address.',
    su_password_rule: 'The password must have at least 10 characters, and at most 128.',
    su_rate_limited: 'Too many attempts from this connection. Wait a few minutes, then try again.',
    su_refused: 'The account could not be created: ',
  },
});

/** A refused sign-up in plain words: `[API field or null, text]`. */
export function signupRefusal(e) {
  if (e.code === 'email_taken') return ['email', t('su_email_taken')];
  if (e.code === 'rate_limited') return [null, t('su_rate_limited')];
  if (e.code === 'network') return [null, t('offline_error')];
  if (e.code === 'invalid_field') {
    if (e.field === 'email') return ['email', t('su_email_invalid')];
    if (e.field === 'password') return ['password', t('su_password_rule')];
    if (e.field === 'display_name') return ['display_name', t('su_name_invalid')];
  }
  return [null, t('su_refused') + e.message];
}

/** What the page can tell before asking the API: `[field, text]`, or null. */
function localCheck({ display_name: name, email, password }) {
  if (!name.trim()) return ['display_name', t('su_name_required')];
  if ([...name.trim()].length > NAME_MAX) return ['display_name', t('su_name_invalid')];
  if (!email.trim()) return ['email', t('su_email_required')];
  if (!email.includes('@')) return ['email', t('su_email_invalid')];
  const n = [...password].length;
  if (n < PASSWORD_MIN || n > PASSWORD_MAX) return ['password', t('su_password_rule')];
  return null;
}

/**
 * The sign-up form. `email` pre-fills the address (what was typed in the log-in form);
 * `toLogin(email)` goes back to the log-in form. On success the page is loaded again,
 * signed in (in the account's language when it was chosen different from the page's).
 */
export function signupForm({ email = '', toLogin }) {
  const hint = (id, text) => el('p', { id, class: 'muted small', text });
  // Each field's own message: announced when it is set, and read with the field.
  const errors = {};
  const problem = (id) => {
    errors[id] = el('p', { id: `${id}-error`, class: 'field-error', role: 'alert', 'data-kind': 'error' });
    return errors[id];
  };
  const input = (id, attrs, hintId) => el('input', {
    id, name: id, required: true, 'aria-describedby': [hintId, `${id}-error`].filter(Boolean).join(' '), ...attrs,
  });
  const name = input('signup-name', { type: 'text', autocomplete: 'name', maxlength: NAME_MAX }, 'signup-name-hint');
  const address = input('signup-email', { type: 'email', autocomplete: 'email', value: email, spellcheck: 'false' });
  const password = input('signup-password',
    { type: 'password', autocomplete: 'new-password', maxlength: PASSWORD_MAX }, 'signup-password-hint');
  const locale = el('select', { id: 'signup-lang', name: 'signup-lang' },
    el('option', { value: 'fr', lang: 'fr', text: 'Français', selected: lang === 'fr' }),
    el('option', { value: 'en', lang: 'en', text: 'English', selected: lang === 'en' }));
  const submit = el('button', { type: 'submit', id: 'signup-submit', text: t('su_submit') });
  const general = el('p', { id: 'signup-error', class: 'error', role: 'alert' });
  const status = el('p', { id: 'signup-status', role: 'status', 'aria-live': 'polite' });
  const back = el('button', { type: 'button', class: 'secondary', id: 'login-switch', text: t('su_to_login') });
  const withMessage = (f, ...rest) => { f.append(...rest); return f; };
  // Native validation off: the rules are said in the page's words, next to each field.
  const form = el('form', { class: 'panel', id: 'signup-form', 'aria-labelledby': 'signup-title', novalidate: true },
    el('h2', { id: 'signup-title', text: t('su_title') }),
    withMessage(field('signup-name', t('su_name'), name), hint('signup-name-hint', t('su_name_hint')), problem('signup-name')),
    withMessage(field('signup-email', t('email'), address), problem('signup-email')),
    withMessage(field('signup-password', t('password'), password),
      hint('signup-password-hint', t('su_password_hint')), problem('signup-password')),
    field('signup-lang', t('su_lang'), locale),
    submit, status, general,
    el('p', {}, back));
  back.addEventListener('click', () => toLogin(address.value));

  const byField = { display_name: name, email: address, password };
  const clear = () => {
    for (const target of Object.values(byField)) {
      errors[target.id].textContent = '';
      target.removeAttribute('aria-invalid');
    }
    general.textContent = '';
  };
  const show = ([apiField, text]) => {
    const target = byField[apiField];
    if (!target) {
      general.textContent = text;
      return;
    }
    errors[target.id].textContent = text;
    target.setAttribute('aria-invalid', 'true');
    target.focus();
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear();
    const body = { display_name: name.value, email: address.value, password: password.value, locale: locale.value };
    const refused = localCheck(body);
    if (refused) {
      show(refused);
      return;
    }
    submit.disabled = true;
    status.textContent = t('su_sending');
    try {
      await api('POST', '/auth/register', body);
    } catch (e) {
      submit.disabled = false;
      status.textContent = '';
      show(signupRefusal(e));
      return;
    }
    status.textContent = t('su_done');
    // The language chosen for the account is this browser's too when it differs from the
    // page's; else the page keeps its own (an account's language is taken up by a browser
    // with no choice of its own, `signedIn`).
    if (body.locale !== lang) keepLang(body.locale);
    location.reload();
  });
  return form;
}
