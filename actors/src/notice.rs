//! What a notification is: its kind (what it says), its audience (who it is for) and its
//! channel (how it travels). Their names (`as_str`) are a stored format — the outbox's
//! `kind`, `audience` and `channel` columns — so a variant is renamed only with a
//! migration; a kind read back that this build does not know is answered by `parse` as
//! `None`, never guessed.

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// The gift itself, with its code (to the recipient).
    GiftReceived,
    /// The donor's lifecycle: delivered, opened, booked, used.
    CardDelivered,
    CardOpened,
    CardBooked,
    /// To the donor, once, when the card is used up; to the recipient, a receipt for
    /// each spend.
    CardUsed,
    /// The recipient's booking was confirmed.
    BookingConfirmed,
    ExpiryExtended,
    /// A payer's refund is on its way.
    RefundIssued,
    ExpiryReminder,
    BookingReminder,
    /// A venue asks the recipient to confirm a validation.
    ValidationRequested,
    /// A refund to be sent to the payment provider (the `refund` channel).
    Refund,
}

impl NoticeKind {
    pub const ALL: [Self; 12] = [
        Self::GiftReceived,
        Self::CardDelivered,
        Self::CardOpened,
        Self::CardBooked,
        Self::CardUsed,
        Self::BookingConfirmed,
        Self::ExpiryExtended,
        Self::RefundIssued,
        Self::ExpiryReminder,
        Self::BookingReminder,
        Self::ValidationRequested,
        Self::Refund,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GiftReceived => "gift_received",
            Self::CardDelivered => "card_delivered",
            Self::CardOpened => "card_opened",
            Self::CardBooked => "card_booked",
            Self::CardUsed => "card_used",
            Self::BookingConfirmed => "booking_confirmed",
            Self::ExpiryExtended => "expiry_extended",
            Self::RefundIssued => "refund_issued",
            Self::ExpiryReminder => "expiry_reminder",
            Self::BookingReminder => "booking_reminder",
            Self::ValidationRequested => "validation_requested",
            Self::Refund => "refund",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == stored)
    }
}

/// Who a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Gave the card (or chipped in): hears of its lifecycle only.
    Donor,
    Recipient,
    /// Paid into the card: hears of their refund.
    Payer,
    /// The payment provider (a refund to send).
    Provider,
}

impl Audience {
    pub const ALL: [Self; 4] = [Self::Donor, Self::Recipient, Self::Payer, Self::Provider];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Donor => "donor",
            Self::Recipient => "recipient",
            Self::Payer => "payer",
            Self::Provider => "provider",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == stored)
    }
}

/// How a notification travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    /// Web Push to the person's subscribed devices.
    Push,
    /// A refund sent to the payment provider.
    Refund,
}

impl Channel {
    pub const ALL: [Self; 3] = [Self::Email, Self::Push, Self::Refund];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Push => "push",
            Self::Refund => "refund",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_name_reads_back_as_itself_and_nothing_else_reads() {
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.as_str()), Some(k));
        }
        for a in Audience::ALL {
            assert_eq!(Audience::parse(a.as_str()), Some(a));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(NoticeKind::parse("card_opend"), None);
        assert_eq!(Audience::parse("Donor"), None);
        assert_eq!(Channel::parse("sms"), None);
        let names: std::collections::HashSet<_> =
            NoticeKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), NoticeKind::ALL.len(), "names are distinct");
    }
}
