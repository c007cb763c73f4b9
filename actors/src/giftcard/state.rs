//! Gift-card state, commands, events and domain errors.

use crate::money::Currency;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A card is valid this long after issue unless extended.
pub const VALIDITY_DAYS: i64 = 365;
/// The one free extension may be asked for this close to expiry…
pub const EXTENSION_WINDOW_DAYS: i64 = 30;
/// …and pushes the expiry back this much.
pub const EXTENSION_DAYS: i64 = 90;

/// What the card is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CardKind {
    /// One experience at one partner, for `party_size` people.
    Experience {
        experience_id: Uuid,
        partner_id: Uuid,
        party_size: u32,
    },
    /// An amount, usable at any partner or only at `partner_id`.
    Value { partner_id: Option<Uuid> },
}

impl CardKind {
    /// The partner the card is restricted to, if any.
    pub fn partner(&self) -> Option<Uuid> {
        match self {
            Self::Experience { partner_id, .. } => Some(*partner_id),
            Self::Value { partner_id } => *partner_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, waiting for its payment.
    PendingPayment,
    /// Paid; not yet sent to the recipient (scheduled delivery).
    Issued,
    /// Sent to the recipient.
    Delivered,
    /// Seen by the recipient.
    Opened,
    PartlyUsed,
    Used,
    Expired,
    Refunded,
    /// Frozen by an admin; reversible.
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Issued => "issued",
            Self::Delivered => "delivered",
            Self::Opened => "opened",
            Self::PartlyUsed => "partly_used",
            Self::Used => "used",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::Blocked => "blocked",
        }
    }

    /// Whether value can be spent or held from the card in this status.
    pub fn spendable(self) -> bool {
        matches!(
            self,
            Self::Issued | Self::Delivered | Self::Opened | Self::PartlyUsed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: String,
    pub email: String,
    /// Set once the recipient claims the card into their account.
    pub user_id: Option<Uuid>,
}

/// One payment into the card (a solo purchase has one; a group gift several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub id: Uuid,
    pub payer_id: Uuid,
    pub payment_id: String,
    pub amount: i64,
    pub refunded: i64,
}

/// Value set aside for a booking until it is captured at the venue or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub amount: i64,
    pub partner_id: Uuid,
    pub commission_bps: u32,
    /// The booking behind the hold was confirmed (and announced as booked). A hold the
    /// venue places at the till, or a booking still waiting for its confirmation, is not.
    #[serde(default)]
    pub booked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftCard {
    pub id: Uuid,
    pub kind: CardKind,
    pub currency: Currency,
    pub status: Status,
    /// The status to return to when unblocked.
    pub blocked_from: Option<Status>,
    /// What the card is worth when fully paid (the price, or the chosen amount).
    pub face_value: i64,
    /// Spendable value.
    pub available: i64,
    /// Value held for bookings (sum of `holds`).
    pub held: i64,
    pub holds: BTreeMap<Uuid, Hold>,
    pub contributions: Vec<Contribution>,
    /// Several people pay into it before delivery.
    pub group: bool,
    pub purchaser_id: Uuid,
    pub recipient: Recipient,
    pub message: Option<String>,
    pub theme: String,
    pub deliver_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub opened_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub extended: bool,
    /// Bumped by each transfer: the previous code stops working.
    pub code_version: u32,
    /// The card was announced as used (`CardUsed`): that happens once.
    #[serde(default)]
    pub used: bool,
}

impl GiftCard {
    /// Value paid in and not refunded.
    pub fn paid(&self) -> i64 {
        self.contributions
            .iter()
            .map(|c| c.amount - c.refunded)
            .sum()
    }
}

/// What is needed to create a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCard {
    pub kind: CardKind,
    pub currency: Currency,
    pub face_value: i64,
    pub group: bool,
    pub purchaser_id: Uuid,
    pub recipient_name: String,
    pub recipient_email: String,
    pub message: Option<String>,
    pub theme: String,
    pub deliver_at: Option<DateTime<Utc>>,
}

/// A request to change a card. Time comes in with the command so rules stay pure.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Create {
        card: NewCard,
        now: DateTime<Utc>,
    },
    /// A payment into the card succeeded (the first one issues the card).
    RecordPayment {
        contribution_id: Uuid,
        payer_id: Uuid,
        payment_id: String,
        amount: i64,
        now: DateTime<Utc>,
    },
    Deliver {
        now: DateTime<Utc>,
    },
    /// The recipient looked at the card.
    Open {
        now: DateTime<Utc>,
    },
    Claim {
        user_id: Uuid,
    },
    /// Spend value at a partner (value cards).
    Redeem {
        /// The version of the code the spend was presented with (`None` when the card
        /// was named by its id, by its holder): it must be the card's current one.
        code_version: Option<u32>,
        amount: i64,
        /// The currency the venue charges in: the card's, or the spend is refused.
        currency: Currency,
        partner_id: Uuid,
        commission_bps: u32,
        reference: Uuid,
        now: DateTime<Utc>,
    },
    Authorize {
        /// As for `Redeem`.
        code_version: Option<u32>,
        hold_id: Uuid,
        amount: i64,
        /// The currency of the amount (the venue's, or the booked experience's price).
        currency: Currency,
        partner_id: Uuid,
        commission_bps: u32,
        now: DateTime<Utc>,
    },
    /// Spend what hold `hold_id` reserved: only the partner that holds it may.
    Capture {
        hold_id: Uuid,
        partner_id: Uuid,
    },
    /// Give back what hold `hold_id` reserved: only the partner that holds it may (a
    /// booking's hold is its venue's).
    Release {
        hold_id: Uuid,
        partner_id: Uuid,
    },
    /// The booking behind hold `booking_id` was confirmed: the card is booked.
    ConfirmBooking {
        booking_id: Uuid,
    },
    Transfer {
        name: String,
        email: String,
    },
    Extend {
        now: DateTime<Utc>,
    },
    /// Unused value back to the payers, pro rata, asked by `by`.
    Refund {
        by: Refunder,
    },
    /// A group contribution back to its payer, before delivery.
    RefundContribution {
        contribution_id: Uuid,
    },
    Block {
        reason: String,
    },
    Unblock,
    Expire {
        now: DateTime<Utc>,
    },
}

/// Who asks for a card's refund: the donor may until the card is opened, support at any
/// time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refunder {
    Donor,
    Support,
}

/// What a donor may load on a value card, in minor units: 5.00 to 5,000.00.
pub const VALUE_CARD_AMOUNT: std::ops::RangeInclusive<i64> = 500..=500_000;
/// What one contribution to a group gift may be, in minor units: 1.00 to 5,000.00.
pub const CONTRIBUTION_AMOUNT: std::ops::RangeInclusive<i64> = 100..=500_000;
/// Any card's face value (an experience's price times its party), in minor units.
pub const FACE_VALUE: std::ops::RangeInclusive<i64> = 1..=100_000_000;

/// One refund to one payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    pub contribution_id: Uuid,
    pub payer_id: Uuid,
    pub payment_id: String,
    pub amount: i64,
}

/// A recorded change. Events carry every figure their ledger postings need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Event {
    CardCreated {
        card: NewCard,
        expires_at: DateTime<Utc>,
    },
    PaymentReceived {
        contribution_id: Uuid,
        payer_id: Uuid,
        payment_id: String,
        amount: i64,
    },
    CardIssued {
        expires_at: DateTime<Utc>,
    },
    CardDelivered {
        at: DateTime<Utc>,
    },
    CardOpened {
        at: DateTime<Utc>,
    },
    CardClaimed {
        user_id: Uuid,
    },
    AmountRedeemed {
        amount: i64,
        partner_id: Uuid,
        commission: i64,
        reference: Uuid,
    },
    ValueAuthorized {
        hold_id: Uuid,
        amount: i64,
        partner_id: Uuid,
        commission_bps: u32,
    },
    AuthorizationCaptured {
        hold_id: Uuid,
        amount: i64,
        partner_id: Uuid,
        commission: i64,
    },
    AuthorizationReleased {
        hold_id: Uuid,
        amount: i64,
    },
    /// A booking made with the card was confirmed (ledger-neutral: its value was held by
    /// `ValueAuthorized` already).
    CardBooked {
        booking_id: Uuid,
    },
    /// The card's last confirmed booking was cancelled (or lapsed) and its value given
    /// back: the card is no longer booked. Recorded after the release that makes it true
    /// (ledger-neutral), so a donor told "booked" is not left believing it.
    BookingCancelled {
        booking_id: Uuid,
    },
    /// The card is used: its value is all spent, or its experience was taken. Recorded
    /// once, after the spending event that makes it true (ledger-neutral).
    CardUsed {},
    CardTransferred {
        name: String,
        email: String,
        code_version: u32,
    },
    ExpiryExtended {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    ValueRefunded {
        lines: Vec<RefundLine>,
    },
    ContributionRefunded {
        line: RefundLine,
    },
    CardBlocked {
        reason: String,
    },
    CardUnblocked {
        to: Status,
    },
    CardExpired {
        breakage: i64,
    },
}

impl Event {
    /// The stable name stored with the event and sent to live subscribers.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CardCreated { .. } => "card_created",
            Self::PaymentReceived { .. } => "payment_received",
            Self::CardIssued { .. } => "card_issued",
            Self::CardDelivered { .. } => "card_delivered",
            Self::CardOpened { .. } => "card_opened",
            Self::CardClaimed { .. } => "card_claimed",
            Self::AmountRedeemed { .. } => "amount_redeemed",
            Self::ValueAuthorized { .. } => "value_authorized",
            Self::AuthorizationCaptured { .. } => "authorization_captured",
            Self::AuthorizationReleased { .. } => "authorization_released",
            Self::CardBooked { .. } => "card_booked",
            Self::BookingCancelled { .. } => "booking_cancelled",
            Self::CardUsed {} => "card_used",
            Self::CardTransferred { .. } => "card_transferred",
            Self::ExpiryExtended { .. } => "expiry_extended",
            Self::ValueRefunded { .. } => "value_refunded",
            Self::ContributionRefunded { .. } => "contribution_refunded",
            Self::CardBlocked { .. } => "card_blocked",
            Self::CardUnblocked { .. } => "card_unblocked",
            Self::CardExpired { .. } => "card_expired",
        }
    }

    /// The event's data alone (without its kind), as JSON.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("data").unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }

    /// Rebuilds an event from its stored kind and data.
    pub fn from_parts(kind: &str, data: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "kind": kind, "data": data }))
    }

    /// Whether the donor is told of it: the lifecycle (created, paid, delivered, opened,
    /// booked, used, passed on, extended, refunded, expired), never what the recipient
    /// spends where. The donor's view of a card is numbered over these events alone.
    pub fn visible_to_donor(&self) -> bool {
        kind_visible_to_donor(self.kind())
    }
}

/// The kinds of [`Event::visible_to_donor`], by their stored name.
pub const DONOR_KINDS: [&str; 13] = [
    "card_created",
    "payment_received",
    "card_issued",
    "card_delivered",
    "card_opened",
    "card_booked",
    "booking_cancelled",
    "card_used",
    "card_transferred",
    "expiry_extended",
    "value_refunded",
    "contribution_refunded",
    "card_expired",
];

/// Whether events of the stored kind `kind` are part of the donor's view.
pub fn kind_visible_to_donor(kind: &str) -> bool {
    DONOR_KINDS.contains(&kind)
}

/// Why a command was refused. `code()` is the stable machine name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("this card does not exist")]
    NotFound,
    #[error("a card with this id exists already")]
    AlreadyExists,
    #[error("the amount must be a positive number of minor units")]
    InvalidAmount,
    #[error("between {min} and {max} minor units")]
    AmountOutOfRange { min: i64, max: i64 },
    /// Contributions go to a group gift that is not delivered yet.
    #[error("only a group gift not yet delivered takes contributions")]
    NotCollecting,
    #[error("the donor can refund a card until it is opened; after that, ask support")]
    RefundWindowClosed,
    #[error("the amount is more than the card's available balance ({available})")]
    InsufficientBalance { available: i64 },
    #[error("the card cannot do this while {status}")]
    InvalidState { status: &'static str },
    #[error("the card has expired")]
    Expired,
    #[error("the card is not valid at this partner")]
    WrongPartner,
    #[error("an experience card is used by booking its experience, not by amount")]
    WrongKind,
    #[error("no such hold on this card")]
    UnknownHold,
    #[error("a hold with this id exists already")]
    DuplicateHold,
    #[error("no such contribution on this card, or it was refunded already")]
    UnknownContribution,
    #[error("the card has value held for bookings; cancel them first")]
    HasHolds,
    #[error("the free extension is available once, within {EXTENSION_WINDOW_DAYS} days of expiry")]
    ExtensionNotAllowed,
    #[error("the payment does not match the card (currency or amount)")]
    PaymentMismatch,
    #[error("this card holds {card}; it cannot pay an amount in {asked} (no conversion)")]
    CurrencyMismatch { card: Currency, asked: Currency },
    /// The code presented was this card's before a transfer gave it a new one.
    #[error("no card matches this code")]
    CodeReplaced,
    #[error("{0}")]
    Invalid(String),
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound | Self::CodeReplaced => "card_not_found",
            Self::AlreadyExists => "card_exists",
            Self::InvalidAmount => "invalid_amount",
            Self::AmountOutOfRange { .. } => "amount_out_of_range",
            Self::NotCollecting => "not_collecting",
            Self::RefundWindowClosed => "refund_window_closed",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::InvalidState { .. } => "card_state_conflict",
            Self::Expired => "card_expired",
            Self::WrongPartner => "wrong_partner",
            Self::WrongKind => "wrong_card_kind",
            Self::UnknownHold => "unknown_hold",
            Self::DuplicateHold => "duplicate_hold",
            Self::UnknownContribution => "unknown_contribution",
            Self::HasHolds => "card_has_holds",
            Self::ExtensionNotAllowed => "extension_not_allowed",
            Self::PaymentMismatch => "payment_mismatch",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::Invalid(_) => "invalid_field",
        }
    }
}
