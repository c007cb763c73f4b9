//! The emails' words, in French and English: one template per notification kind, each
//! giving a subject, a plain-text body and an HTML body. Pure: the facts come in gathered
//! (and already decrypted) by [`crate::notify::email`]; nothing here reads a database or a clock.
//!
//! A template is a list of blocks (paragraphs, a quoted message, the card's code, a
//! link); the text and HTML bodies are both made from it, and every value reaches the
//! HTML escaped — fixed wording and user-supplied text alike — so a name or a message
//! cannot inject markup. The donor's emails speak of the card's lifecycle only (delivered,
//! opened, booked, used), never of amounts or places.

use actors::Locale;
use std::fmt::Write;

/// A booking, as told to the person who booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingFacts {
    pub title: String,
    pub venue: String,
    pub address: String,
    /// When it starts, already written in the email's language at the venue's time.
    pub when: String,
    pub party_size: i32,
}

/// What an email says, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// To the recipient: the gift itself, with its code.
    GiftReceived {
        /// The donor's name; `None` when the card was passed on (a transfer), whose
        /// sender is not the donor.
        from: Option<String>,
        /// The donor's message (not repeated to someone the card was passed on to).
        message: Option<String>,
        /// What the card is for: an experience, or an amount.
        what: Option<String>,
        code: String,
        link: String,
        expires_on: String,
    },
    /// To the donor.
    CardDelivered { recipient: String },
    /// To the donor.
    CardOpened { recipient: String },
    /// To the donor.
    CardBooked { recipient: String },
    /// To the donor.
    CardUsedDonor { recipient: String },
    /// To the recipient.
    CardUsed {
        /// In all, when `spends` > 1 (several spends told in one receipt).
        amount: Option<String>,
        venue: Option<String>,
        remaining: Option<String>,
        spends: usize,
    },
    /// To the recipient; `ics` when the calendar file is attached.
    BookingConfirmed {
        booking: Option<BookingFacts>,
        ics: bool,
    },
    /// To the recipient.
    ExpiryExtended { expires_on: String },
    /// To a payer.
    RefundIssued { amount: Option<String> },
    /// To the recipient, before the card expires.
    ExpiryReminder {
        expires_on: String,
        remaining: Option<String>,
    },
    /// To the recipient, before the booked experience; `ics` as for a confirmation.
    BookingReminder {
        booking: Option<BookingFacts>,
        ics: bool,
    },
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Everything an email needs besides its facts.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub lang: Locale,
    /// The addressee's name, for the greeting.
    pub name: Option<&'a str>,
    /// The web app, for links.
    pub app_url: &'a str,
}

enum Block {
    Para(String),
    Quote { intro: String, body: String },
    Code { label: String, code: String },
    Action { label: String, url: String },
}

struct Draft {
    subject: String,
    blocks: Vec<Block>,
    footer: String,
}

/// Renders `facts` in the envelope's language.
pub fn render(env: &Envelope<'_>, facts: &Facts) -> Mail {
    let draft = match env.lang {
        Locale::Fr => french(env, facts),
        Locale::En => english(env, facts),
    };
    let greeting = match (env.lang, env.name.map(str::trim).filter(|n| !n.is_empty())) {
        (Locale::Fr, Some(n)) => format!("Bonjour {n},"),
        (Locale::Fr, None) => "Bonjour,".to_owned(),
        (Locale::En, Some(n)) => format!("Hello {n},"),
        (Locale::En, None) => "Hello,".to_owned(),
    };
    let signature = match env.lang {
        Locale::Fr => "L'équipe Fimy",
        Locale::En => "The Fimy team",
    };
    Mail {
        text: text_body(env.lang, &greeting, &draft, signature),
        html: html_body(env.lang, &greeting, &draft, signature),
        subject: one_line(&draft.subject),
    }
}

fn manage_footer(lang: Locale) -> String {
    match lang {
        Locale::Fr => "Vous recevez cet email au sujet d'une carte cadeau Fimy. Vous pouvez \
                     choisir les notifications que vous recevez dans votre compte."
            .to_owned(),
        Locale::En => "You are receiving this email about a Fimy gift card. You can choose \
                     which notifications you get in your account."
            .to_owned(),
    }
}

fn french(env: &Envelope<'_>, facts: &Facts) -> Draft {
    let app = env.app_url.to_owned();
    let mut blocks = Vec::new();
    let mut footer = manage_footer(Locale::Fr);
    let subject = match facts {
        Facts::GiftReceived {
            from,
            message,
            what,
            code,
            link,
            expires_on,
        } => {
            let what = what
                .as_deref()
                .map(|w| format!(" : {w}"))
                .unwrap_or_default();
            blocks.push(Block::Para(match from {
                Some(f) => format!("{f} vous a offert une carte cadeau Fimy{what}."),
                None => format!("Une carte cadeau Fimy vous a été transmise{what}."),
            }));
            if let Some(m) = message.as_deref().filter(|m| !m.trim().is_empty()) {
                blocks.push(Block::Quote {
                    intro: "Son message :".to_owned(),
                    body: m.to_owned(),
                });
            }
            blocks.push(Block::Code {
                label: "Votre code".to_owned(),
                code: code.clone(),
            });
            blocks.push(Block::Para(format!(
                "Ouvrez votre carte pour découvrir votre cadeau et réserver votre expérience. \
                 Elle est valable jusqu'au {expires_on}."
            )));
            blocks.push(Block::Action {
                label: "Ouvrir ma carte cadeau".to_owned(),
                url: link.clone(),
            });
            blocks.push(Block::Para(
                "Gardez ce code pour vous : il donne accès à la carte.".to_owned(),
            ));
            footer = "Vous recevez cet email parce qu'une carte cadeau Fimy vous a été offerte."
                .to_owned();
            match from {
                Some(f) => format!("{f} vous offre une carte cadeau Fimy"),
                None => "Une carte cadeau Fimy vous a été transmise".to_owned(),
            }
        }
        Facts::CardDelivered { recipient } => {
            blocks.push(Block::Para(format!(
                "Votre carte cadeau a bien été envoyée à {recipient}. Nous vous préviendrons \
                 quand elle l'aura ouverte."
            )));
            blocks.push(Block::Action {
                label: "Voir mes cadeaux".to_owned(),
                url: app,
            });
            format!("Votre carte cadeau a été remise à {recipient}")
        }
        Facts::CardOpened { recipient } => {
            blocks.push(Block::Para(format!(
                "Bonne nouvelle : {recipient} vient d'ouvrir votre carte cadeau."
            )));
            blocks.push(Block::Action {
                label: "Voir mes cadeaux".to_owned(),
                url: app,
            });
            format!("{recipient} a ouvert votre carte cadeau")
        }
        Facts::CardBooked { recipient } => {
            blocks.push(Block::Para(format!(
                "{recipient} a réservé l'expérience que vous lui avez offerte."
            )));
            blocks.push(Block::Action {
                label: "Voir mes cadeaux".to_owned(),
                url: app,
            });
            format!("{recipient} a réservé son expérience")
        }
        Facts::CardUsedDonor { recipient } => {
            blocks.push(Block::Para(format!(
                "{recipient} vient d'utiliser la carte cadeau que vous lui avez offerte. \
                 Merci d'avoir offert avec Fimy !"
            )));
            format!("{recipient} a profité de votre cadeau")
        }
        Facts::CardUsed {
            amount,
            venue,
            remaining,
            spends,
        } => {
            blocks.push(Block::Para(match (amount, venue) {
                (Some(a), Some(v)) if *spends > 1 => {
                    format!(
                        "{a} ont été utilisés sur votre carte cadeau chez {v}, en {spends} fois."
                    )
                }
                (Some(a), None) if *spends > 1 => {
                    format!("{a} ont été utilisés sur votre carte cadeau, en {spends} fois.")
                }
                (Some(a), Some(v)) => {
                    format!("{a} ont été utilisés sur votre carte cadeau chez {v}.")
                }
                (Some(a), None) => format!("{a} ont été utilisés sur votre carte cadeau."),
                (None, Some(v)) => format!("Votre carte cadeau vient d'être utilisée chez {v}."),
                (None, None) => "Votre carte cadeau vient d'être utilisée.".to_owned(),
            }));
            if let Some(r) = remaining {
                blocks.push(Block::Para(format!("Il vous reste {r} à utiliser.")));
            }
            blocks.push(Block::Action {
                label: "Voir ma carte".to_owned(),
                url: app,
            });
            "Votre carte cadeau a été utilisée".to_owned()
        }
        Facts::BookingConfirmed { booking, ics } => {
            blocks.push(Block::Para(
                "Votre réservation avec votre carte cadeau est confirmée.".to_owned(),
            ));
            booking_blocks_fr(&mut blocks, booking.as_ref(), *ics);
            match booking {
                Some(b) => format!("Réservation confirmée : {}", b.title),
                None => "Votre réservation est confirmée".to_owned(),
            }
        }
        Facts::BookingReminder { booking, ics } => {
            blocks.push(Block::Para(
                "C'est bientôt ! Voici le rappel de votre réservation.".to_owned(),
            ));
            booking_blocks_fr(&mut blocks, booking.as_ref(), *ics);
            match booking {
                Some(b) => format!("Rappel : {} le {}", b.title, b.when),
                None => "Rappel de votre réservation".to_owned(),
            }
        }
        Facts::ExpiryExtended { expires_on } => {
            blocks.push(Block::Para(format!(
                "Bonne nouvelle : votre carte cadeau est désormais valable jusqu'au {expires_on}."
            )));
            blocks.push(Block::Action {
                label: "Réserver mon expérience".to_owned(),
                url: app,
            });
            "Votre carte cadeau est prolongée".to_owned()
        }
        Facts::RefundIssued { amount } => {
            blocks.push(Block::Para(match amount {
                Some(a) => format!("Nous vous avons remboursé {a} sur votre moyen de paiement."),
                None => "Nous avons émis un remboursement sur votre moyen de paiement.".to_owned(),
            }));
            blocks.push(Block::Para(
                "Selon votre banque, il apparaîtra sur votre compte d'ici quelques jours."
                    .to_owned(),
            ));
            "Votre remboursement est en route".to_owned()
        }
        Facts::ExpiryReminder {
            expires_on,
            remaining,
        } => {
            blocks.push(Block::Para(format!(
                "Votre carte cadeau expire le {expires_on}. Pensez à réserver votre expérience \
                 d'ici là !"
            )));
            if let Some(r) = remaining {
                blocks.push(Block::Para(format!("Il vous reste {r} à utiliser.")));
            }
            blocks.push(Block::Action {
                label: "Réserver mon expérience".to_owned(),
                url: app,
            });
            "Votre carte cadeau expire bientôt".to_owned()
        }
    };
    Draft {
        subject,
        blocks,
        footer,
    }
}

fn booking_blocks_fr(blocks: &mut Vec<Block>, booking: Option<&BookingFacts>, ics: bool) {
    if let Some(b) = booking {
        blocks.push(Block::Para(format!("{} chez {}", b.title, b.venue)));
        let people = if b.party_size == 1 {
            "1 personne".to_owned()
        } else {
            format!("{} personnes", b.party_size)
        };
        blocks.push(Block::Para(format!("Le {}, pour {people}.", b.when)));
        if !b.address.is_empty() {
            blocks.push(Block::Para(format!("Adresse : {}", b.address)));
        }
    }
    blocks.push(Block::Para(
        "Présentez votre carte cadeau (son code QR) à votre arrivée.".to_owned(),
    ));
    if ics {
        blocks.push(Block::Para(
            "Le fichier joint ajoute la réservation à votre agenda.".to_owned(),
        ));
    }
}

fn english(env: &Envelope<'_>, facts: &Facts) -> Draft {
    let app = env.app_url.to_owned();
    let mut blocks = Vec::new();
    let mut footer = manage_footer(Locale::En);
    let subject = match facts {
        Facts::GiftReceived {
            from,
            message,
            what,
            code,
            link,
            expires_on,
        } => {
            let what = what
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            blocks.push(Block::Para(match from {
                Some(f) => format!("{f} has given you a Fimy gift card{what}."),
                None => format!("A Fimy gift card has been passed on to you{what}."),
            }));
            if let Some(m) = message.as_deref().filter(|m| !m.trim().is_empty()) {
                blocks.push(Block::Quote {
                    intro: "Their message:".to_owned(),
                    body: m.to_owned(),
                });
            }
            blocks.push(Block::Code {
                label: "Your code".to_owned(),
                code: code.clone(),
            });
            blocks.push(Block::Para(format!(
                "Open your card to discover your gift and book your experience. It is valid \
                 until {expires_on}."
            )));
            blocks.push(Block::Action {
                label: "Open my gift card".to_owned(),
                url: link.clone(),
            });
            blocks.push(Block::Para(
                "Keep this code to yourself: it gives access to the card.".to_owned(),
            ));
            footer =
                "You are receiving this email because you were given a Fimy gift card.".to_owned();
            match from {
                Some(f) => format!("{f} sent you a Fimy gift card"),
                None => "A Fimy gift card has been passed on to you".to_owned(),
            }
        }
        Facts::CardDelivered { recipient } => {
            blocks.push(Block::Para(format!(
                "Your gift card has been sent to {recipient}. We will let you know when they \
                 open it."
            )));
            blocks.push(Block::Action {
                label: "See my gifts".to_owned(),
                url: app,
            });
            format!("Your gift card was delivered to {recipient}")
        }
        Facts::CardOpened { recipient } => {
            blocks.push(Block::Para(format!(
                "Good news: {recipient} has just opened your gift card."
            )));
            blocks.push(Block::Action {
                label: "See my gifts".to_owned(),
                url: app,
            });
            format!("{recipient} opened your gift card")
        }
        Facts::CardBooked { recipient } => {
            blocks.push(Block::Para(format!(
                "{recipient} has booked the experience you gave them."
            )));
            blocks.push(Block::Action {
                label: "See my gifts".to_owned(),
                url: app,
            });
            format!("{recipient} booked their experience")
        }
        Facts::CardUsedDonor { recipient } => {
            blocks.push(Block::Para(format!(
                "{recipient} has just used the gift card you gave them. Thank you for giving \
                 with Fimy!"
            )));
            format!("{recipient} enjoyed your gift")
        }
        Facts::CardUsed {
            amount,
            venue,
            remaining,
            spends,
        } => {
            blocks.push(Block::Para(match (amount, venue) {
                (Some(a), Some(v)) if *spends > 1 => {
                    format!("{a} was spent on your gift card at {v}, in {spends} payments.")
                }
                (Some(a), None) if *spends > 1 => {
                    format!("{a} was spent on your gift card, in {spends} payments.")
                }
                (Some(a), Some(v)) => format!("{a} was spent on your gift card at {v}."),
                (Some(a), None) => format!("{a} was spent on your gift card."),
                (None, Some(v)) => format!("Your gift card has just been used at {v}."),
                (None, None) => "Your gift card has just been used.".to_owned(),
            }));
            if let Some(r) = remaining {
                blocks.push(Block::Para(format!("{r} remains to be spent.")));
            }
            blocks.push(Block::Action {
                label: "See my card".to_owned(),
                url: app,
            });
            "Your gift card was used".to_owned()
        }
        Facts::BookingConfirmed { booking, ics } => {
            blocks.push(Block::Para(
                "Your booking with your gift card is confirmed.".to_owned(),
            ));
            booking_blocks_en(&mut blocks, booking.as_ref(), *ics);
            match booking {
                Some(b) => format!("Booking confirmed: {}", b.title),
                None => "Your booking is confirmed".to_owned(),
            }
        }
        Facts::BookingReminder { booking, ics } => {
            blocks.push(Block::Para(
                "It's coming up! Here is a reminder of your booking.".to_owned(),
            ));
            booking_blocks_en(&mut blocks, booking.as_ref(), *ics);
            match booking {
                Some(b) => format!("Reminder: {} on {}", b.title, b.when),
                None => "A reminder of your booking".to_owned(),
            }
        }
        Facts::ExpiryExtended { expires_on } => {
            blocks.push(Block::Para(format!(
                "Good news: your gift card is now valid until {expires_on}."
            )));
            blocks.push(Block::Action {
                label: "Book my experience".to_owned(),
                url: app,
            });
            "Your gift card has been extended".to_owned()
        }
        Facts::RefundIssued { amount } => {
            blocks.push(Block::Para(match amount {
                Some(a) => format!("We have refunded {a} to your payment method."),
                None => "We have issued a refund to your payment method.".to_owned(),
            }));
            blocks.push(Block::Para(
                "Depending on your bank, it will show on your account within a few days."
                    .to_owned(),
            ));
            "Your refund is on its way".to_owned()
        }
        Facts::ExpiryReminder {
            expires_on,
            remaining,
        } => {
            blocks.push(Block::Para(format!(
                "Your gift card expires on {expires_on}. Remember to book your experience \
                 before then!"
            )));
            if let Some(r) = remaining {
                blocks.push(Block::Para(format!("{r} remains to be spent.")));
            }
            blocks.push(Block::Action {
                label: "Book my experience".to_owned(),
                url: app,
            });
            "Your gift card expires soon".to_owned()
        }
    };
    Draft {
        subject,
        blocks,
        footer,
    }
}

fn booking_blocks_en(blocks: &mut Vec<Block>, booking: Option<&BookingFacts>, ics: bool) {
    if let Some(b) = booking {
        blocks.push(Block::Para(format!("{} at {}", b.title, b.venue)));
        let people = if b.party_size == 1 {
            "1 person".to_owned()
        } else {
            format!("{} people", b.party_size)
        };
        blocks.push(Block::Para(format!("On {}, for {people}.", b.when)));
        if !b.address.is_empty() {
            blocks.push(Block::Para(format!("Address: {}", b.address)));
        }
    }
    blocks.push(Block::Para(
        "Show your gift card (its QR code) when you arrive.".to_owned(),
    ));
    if ics {
        blocks.push(Block::Para(
            "The attached file adds the booking to your calendar.".to_owned(),
        ));
    }
}

// ---------------------------------------------------------------- bodies

fn text_body(lang: Locale, greeting: &str, d: &Draft, signature: &str) -> String {
    let colon = match lang {
        Locale::Fr => "\u{a0}:",
        Locale::En => ":",
    };
    let mut out = String::new();
    out.push_str(greeting);
    out.push_str("\n\n");
    for b in &d.blocks {
        match b {
            Block::Para(p) => {
                out.push_str(p);
                out.push_str("\n\n");
            }
            Block::Quote { intro, body } => {
                out.push_str(intro);
                out.push('\n');
                for line in body.lines() {
                    out.push_str("> ");
                    out.push_str(line);
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Code { label, code } => {
                let _ = write!(out, "{label}{colon} {code}\n\n");
            }
            Block::Action { label, url } => {
                let _ = write!(out, "{label}{colon} {url}\n\n");
            }
        }
    }
    out.push_str(signature);
    out.push_str("\n\n-- \n");
    out.push_str(&d.footer);
    out.push('\n');
    out
}

fn html_body(lang: Locale, greeting: &str, d: &Draft, signature: &str) -> String {
    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n</head>\n\
         <body style=\"margin:0;padding:0;background:#f6f2ec;\">\n\
         <div style=\"max-width:560px;margin:0 auto;padding:24px;font-family:Helvetica,Arial,sans-serif;\
         font-size:16px;line-height:1.5;color:#222222;\">\n\
         <p style=\"font-size:22px;font-weight:bold;color:#b4462b;margin:0 0 16px;\">Fimy</p>\n\
         <p>{}</p>\n",
        lang.as_str(),
        escape(&d.subject),
        escape(greeting)
    );
    for b in &d.blocks {
        match b {
            Block::Para(p) => {
                let _ = writeln!(out, "<p>{}</p>", escape(p));
            }
            Block::Quote { intro, body } => {
                let lines: Vec<String> = body.lines().map(escape).collect();
                let _ = writeln!(
                    out,
                    "<p>{}</p>\n<blockquote style=\"margin:0 0 16px;padding:8px 16px;\
                     border-left:4px solid #b4462b;background:#ffffff;font-style:italic;\">{}</blockquote>",
                    escape(intro),
                    lines.join("<br>")
                );
            }
            Block::Code { label, code } => {
                let _ = writeln!(
                    out,
                    "<p>{}</p>\n<p style=\"font-family:Menlo,Consolas,monospace;font-size:22px;\
                     letter-spacing:2px;background:#ffffff;padding:12px 16px;border-radius:6px;\
                     text-align:center;\">{}</p>",
                    escape(label),
                    escape(code)
                );
            }
            Block::Action { label, url } => {
                let _ = writeln!(
                    out,
                    "<p style=\"margin:24px 0;\"><a href=\"{}\" style=\"background:#b4462b;\
                     color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;\
                     display:inline-block;\">{}</a></p>",
                    escape(url),
                    escape(label)
                );
            }
        }
    }
    let _ = write!(
        out,
        "<p>{}</p>\n<p style=\"font-size:12px;color:#777777;border-top:1px solid #dddddd;\
         padding-top:12px;margin-top:24px;\">{}</p>\n</div>\n</body>\n</html>\n",
        escape(signature),
        escape(&d.footer)
    );
    out
}

/// Text made safe for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A header value on one line: control characters (line breaks included) become spaces.
pub fn one_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(lang: Locale) -> Envelope<'static> {
        Envelope {
            lang,
            name: Some("Rémi"),
            app_url: "https://fimy.example/",
        }
    }

    fn gift() -> Facts {
        Facts::GiftReceived {
            from: Some("Camille <script>".to_owned()),
            message: Some("Joyeux anniversaire !\n<b>Bises</b> & \"câlins\"".to_owned()),
            what: Some("50,00 €".to_owned()),
            code: "ABCD-EFGH-JKMN-PQRS-T".to_owned(),
            link: "https://fimy.example/?code=ABCD-EFGH-JKMN-PQRS-T&x=1".to_owned(),
            expires_on: "24 novembre 2027".to_owned(),
        }
    }

    #[test]
    fn the_gift_email_carries_the_code_and_escapes_user_text_in_html() {
        let m = render(&env(Locale::Fr), &gift());
        assert_eq!(
            m.subject,
            "Camille <script> vous offre une carte cadeau Fimy"
        );
        assert!(m.text.starts_with("Bonjour Rémi,"));
        assert!(m.text.contains("ABCD-EFGH-JKMN-PQRS-T"));
        assert!(m.text.contains("> <b>Bises</b> & \"câlins\""));
        assert!(m.html.contains("ABCD-EFGH-JKMN-PQRS-T"));
        assert!(!m.html.contains("<script>"));
        assert!(!m.html.contains("<b>Bises"));
        assert!(m.html.contains("Camille &lt;script&gt;"));
        assert!(
            m.html
                .contains("&lt;b&gt;Bises&lt;/b&gt; &amp; &quot;câlins&quot;")
        );
        assert!(
            m.html
                .contains("href=\"https://fimy.example/?code=ABCD-EFGH-JKMN-PQRS-T&amp;x=1\"")
        );
        assert!(m.html.contains("<html lang=\"fr\">"));
    }

    #[test]
    fn english_is_english() {
        let m = render(&env(Locale::En), &gift());
        assert_eq!(m.subject, "Camille <script> sent you a Fimy gift card");
        assert!(m.text.starts_with("Hello Rémi,"));
        assert!(m.text.contains("Your code: ABCD-EFGH-JKMN-PQRS-T"));
        assert!(m.html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn a_passed_on_card_names_no_donor_and_repeats_no_message() {
        let Facts::GiftReceived {
            code,
            link,
            expires_on,
            what,
            ..
        } = gift()
        else {
            unreachable!()
        };
        let m = render(
            &env(Locale::Fr),
            &Facts::GiftReceived {
                from: None,
                message: None,
                what,
                code,
                link,
                expires_on,
            },
        );
        assert!(!m.text.contains("Camille"));
        assert!(!m.text.contains("Bises"));
        assert_eq!(m.subject, "Une carte cadeau Fimy vous a été transmise");
    }

    #[test]
    fn donor_emails_say_nothing_of_amounts_or_places() {
        for facts in [
            Facts::CardDelivered {
                recipient: "Rémi".into(),
            },
            Facts::CardOpened {
                recipient: "Rémi".into(),
            },
            Facts::CardBooked {
                recipient: "Rémi".into(),
            },
            Facts::CardUsedDonor {
                recipient: "Rémi".into(),
            },
        ] {
            for lang in [Locale::Fr, Locale::En] {
                let m = render(&env(lang), &facts);
                assert!(m.subject.contains("Rémi"), "{}", m.subject);
                assert!(!m.text.contains('€') && !m.text.contains('$'), "{}", m.text);
            }
        }
    }

    #[test]
    fn headers_stay_on_one_line() {
        let m = render(
            &env(Locale::En),
            &Facts::CardOpened {
                recipient: "Eve\r\nBcc: victim@example.com".into(),
            },
        );
        assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
        assert_eq!(
            m.subject,
            "Eve Bcc: victim@example.com opened your gift card"
        );
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        let b = BookingFacts {
            title: "Dîner".into(),
            venue: "Chez Léon".into(),
            address: "1 rue X, Paris".into(),
            when: "samedi 28 novembre 2026 à 19 h 30".into(),
            party_size: 2,
        };
        let all = [
            Facts::CardUsed {
                amount: Some("10,00 €".into()),
                venue: Some("Chez Léon".into()),
                remaining: Some("40,00 €".into()),
                spends: 1,
            },
            Facts::CardUsed {
                amount: Some("12,00 €".into()),
                venue: None,
                remaining: None,
                spends: 3,
            },
            Facts::BookingConfirmed {
                booking: Some(b.clone()),
                ics: true,
            },
            Facts::BookingConfirmed {
                booking: None,
                ics: false,
            },
            Facts::BookingReminder {
                booking: Some(b),
                ics: false,
            },
            Facts::ExpiryExtended {
                expires_on: "1er mars 2027".into(),
            },
            Facts::RefundIssued {
                amount: Some("50,00 €".into()),
            },
            Facts::ExpiryReminder {
                expires_on: "1er mars 2027".into(),
                remaining: None,
            },
        ];
        for f in &all {
            for lang in [Locale::Fr, Locale::En] {
                let m = render(&env(lang), f);
                assert!(!m.subject.is_empty());
                assert!(m.text.len() > 40 && m.html.contains("</html>"));
            }
        }
    }
}
