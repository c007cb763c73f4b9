//! Application services: the use cases that span several actors or tables — the booking
//! saga, gift-card purchase and delivery, validation at the venue, the catalogue's
//! queries, reminders, the audit and the demo data. They take domain values and return
//! domain values; HTTP, websockets and the command line call them, never the reverse.

pub mod audit;
pub mod bookings;
pub mod catalogue;
pub mod giftcards;
pub mod reminders;
pub mod seed;
pub mod validations;
