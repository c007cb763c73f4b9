//! Demo data: partners in Montréal and Paris across categories, their experiences, and
//! one account per role. Loaded once (remembered in the `meta` table); the demo
//! accounts' passwords are random, kept in `demo-accounts.txt` in the data dir (readable
//! by the owner only) and printed at start.

use crate::auth::{password, random_token};
use actors::{AccountKind, Password, StaffRole};
use anyhow::Context;
use chrono::{DateTime, Utc};
use entities::{experience, experience_tag, meta, partner, partner_staff, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use std::path::Path;
use uuid::Uuid;

const SEEDED_KEY: &str = "demo_data_loaded";
const CREDENTIALS_FILE: &str = "demo-accounts.txt";

/// A demo login, as printed at start.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub role: String,
    pub email: String,
    pub password: String,
}

struct DemoPartner {
    slug: &'static str,
    name: &'static str,
    category: &'static str,
    description: &'static str,
    address: &'static str,
    city: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    tz: &'static str,
    currency: &'static str,
    experiences: &'static [DemoExperience],
}

struct DemoExperience {
    title: &'static str,
    description: &'static str,
    price_minor: i64,
    duration_minutes: i32,
    capacity: i32,
    occasions: &'static [&'static str],
    seasons: &'static [&'static str],
}

const PARTNERS: &[DemoPartner] = &[
    DemoPartner {
        slug: "bistro-du-plateau",
        name: "Bistro du Plateau",
        category: "restaurant",
        description: "Cuisine québécoise de saison dans une maison du Plateau-Mont-Royal.",
        address: "4321 rue Saint-Denis",
        city: "Montréal",
        country: "CA",
        lat: 45.5236,
        lon: -73.5825,
        tz: "America/Toronto",
        currency: "CAD",
        experiences: &[
            DemoExperience {
                title: "Menu dégustation à l'érable",
                description: "Sept services autour de l'érable, accords mets et vins inclus.",
                price_minor: 14_500,
                duration_minutes: 150,
                capacity: 4,
                occasions: &["anniversary", "valentines", "birthday"],
                seasons: &["spring", "winter"],
            },
            DemoExperience {
                title: "Brunch du dimanche",
                description: "Brunch gourmand: crêpes, œufs bénédictine, café de torréfacteur.",
                price_minor: 4_200,
                duration_minutes: 90,
                capacity: 6,
                occasions: &["mothers_day", "fathers_day", "thank_you"],
                seasons: &["all_year"],
            },
        ],
    },
    DemoPartner {
        slug: "spa-des-erables",
        name: "Spa des Érables",
        category: "spa",
        description: "Bains nordiques et soins au bord du canal de Lachine.",
        address: "2000 rue Saint-Patrick",
        city: "Montréal",
        country: "CA",
        lat: 45.4818,
        lon: -73.5764,
        tz: "America/Toronto",
        currency: "CAD",
        experiences: &[
            DemoExperience {
                title: "Expérience thermale nordique",
                description: "Circuit chaud-froid-repos, accès à la journée, peignoir fourni.",
                price_minor: 8_900,
                duration_minutes: 240,
                capacity: 2,
                occasions: &["birthday", "thank_you", "mothers_day"],
                seasons: &["winter", "autumn"],
            },
            DemoExperience {
                title: "Massage suédois en duo",
                description: "Massage de 60 minutes pour deux, suivi d'une tisane.",
                price_minor: 27_000,
                duration_minutes: 60,
                capacity: 2,
                occasions: &["anniversary", "valentines", "wedding"],
                seasons: &["all_year"],
            },
        ],
    },
    DemoPartner {
        slug: "hotel-vieux-port",
        name: "Hôtel du Vieux-Port",
        category: "hotel",
        description: "Hôtel-boutique dans un entrepôt du XIXe siècle, vue sur le fleuve.",
        address: "97 rue de la Commune Est",
        city: "Montréal",
        country: "CA",
        lat: 45.5075,
        lon: -73.5523,
        tz: "America/Toronto",
        currency: "CAD",
        experiences: &[DemoExperience {
            title: "Nuit romantique avec petit-déjeuner",
            description: "Une nuit en chambre supérieure, bulles à l'arrivée et petit-déjeuner au lit.",
            price_minor: 32_500,
            duration_minutes: 1080,
            capacity: 2,
            occasions: &["anniversary", "valentines", "wedding"],
            seasons: &["all_year"],
        }],
    },
    DemoPartner {
        slug: "escalade-mile-end",
        name: "Escalade Mile-End",
        category: "activity",
        description: "Salle de bloc et d'escalade pour tous les niveaux.",
        address: "5445 avenue de Gaspé",
        city: "Montréal",
        country: "CA",
        lat: 45.5262,
        lon: -73.5966,
        tz: "America/Toronto",
        currency: "CAD",
        experiences: &[DemoExperience {
            title: "Initiation à l'escalade",
            description: "Cours d'initiation de 2 heures avec moniteur, équipement compris.",
            price_minor: 6_500,
            duration_minutes: 120,
            capacity: 8,
            occasions: &["birthday", "corporate", "graduation"],
            seasons: &["winter", "autumn", "spring"],
        }],
    },
    DemoPartner {
        slug: "comptoir-des-halles",
        name: "Le Comptoir des Halles",
        category: "restaurant",
        description: "Bistrot parisien, produits du marché, cave naturelle.",
        address: "12 rue Montorgueil",
        city: "Paris",
        country: "FR",
        lat: 48.8638,
        lon: 2.3470,
        tz: "Europe/Paris",
        currency: "EUR",
        experiences: &[
            DemoExperience {
                title: "Dîner bistronomique pour deux",
                description: "Entrée, plat, dessert et une bouteille de vin nature à partager.",
                price_minor: 11_000,
                duration_minutes: 120,
                capacity: 2,
                occasions: &["anniversary", "valentines", "birthday"],
                seasons: &["all_year"],
            },
            DemoExperience {
                title: "Atelier pâtisserie: crème brûlée",
                description: "Apprenez la crème brûlée avec notre chef pâtissier, dégustation incluse.",
                price_minor: 7_500,
                duration_minutes: 150,
                capacity: 6,
                occasions: &["christmas", "thank_you", "birthday"],
                seasons: &["winter"],
            },
        ],
    },
    DemoPartner {
        slug: "bains-du-marais",
        name: "Les Bains du Marais",
        category: "spa",
        description: "Hammam et soins dans un hôtel particulier du Marais.",
        address: "31 rue des Blancs-Manteaux",
        city: "Paris",
        country: "FR",
        lat: 48.8590,
        lon: 2.3560,
        tz: "Europe/Paris",
        currency: "EUR",
        experiences: &[DemoExperience {
            title: "Hammam et gommage",
            description: "Accès au hammam, gommage au savon noir et thé à la menthe.",
            price_minor: 9_500,
            duration_minutes: 120,
            capacity: 2,
            occasions: &["birthday", "mothers_day", "thank_you"],
            seasons: &["winter", "autumn"],
        }],
    },
    DemoPartner {
        slug: "hotel-des-lilas",
        name: "Hôtel des Lilas",
        category: "hotel",
        description: "Petit hôtel de charme à Montmartre, jardin fleuri.",
        address: "8 rue des Trois-Frères",
        city: "Paris",
        country: "FR",
        lat: 48.8852,
        lon: 2.3405,
        tz: "Europe/Paris",
        currency: "EUR",
        experiences: &[DemoExperience {
            title: "Week-end à Montmartre",
            description: "Deux nuits, petits-déjeuners et visite guidée de la Butte.",
            price_minor: 39_000,
            duration_minutes: 2880,
            capacity: 2,
            occasions: &["anniversary", "wedding", "retirement"],
            seasons: &["spring", "summer"],
        }],
    },
    DemoPartner {
        slug: "atelier-ceramique-belleville",
        name: "Atelier Céramique Belleville",
        category: "activity",
        description: "Tournage et modelage dans un atelier d'artistes.",
        address: "44 rue Ramponeau",
        city: "Paris",
        country: "FR",
        lat: 48.8712,
        lon: 2.3799,
        tz: "Europe/Paris",
        currency: "EUR",
        experiences: &[DemoExperience {
            title: "Initiation au tour de potier",
            description: "Trois heures pour tourner deux pièces, cuisson et émaillage compris.",
            price_minor: 8_500,
            duration_minutes: 180,
            capacity: 6,
            occasions: &["birthday", "christmas", "corporate", "retirement"],
            seasons: &["all_year"],
        }],
    },
];

/// Loads the demo data if it was never loaded, and returns the demo accounts (read back
/// from the credentials file on later starts).
pub async fn ensure_demo(
    db: &DatabaseConnection,
    data_dir: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<DemoAccount>> {
    let loaded = meta::Entity::find_by_id(SEEDED_KEY.to_owned())
        .one(db)
        .await
        .context("Failed to read the meta table")?
        .is_some();
    if loaded {
        return Ok(read_credentials(data_dir));
    }
    let accounts = load(db, now).await?;
    write_credentials(data_dir, &accounts)?;
    Ok(accounts)
}

async fn load(db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<Vec<DemoAccount>> {
    let tx = db.begin().await?;
    let mut partner_ids = Vec::new();
    let mut experience_ids = Vec::new();
    for (i, p) in PARTNERS.iter().enumerate() {
        let id = Uuid::now_v7();
        partner_ids.push(id);
        partner::ActiveModel {
            id: Set(id),
            slug: Set(p.slug.to_owned()),
            name: Set(p.name.to_owned()),
            description: Set(p.description.to_owned()),
            category: Set(p.category.to_owned()),
            address: Set(p.address.to_owned()),
            city: Set(p.city.to_owned()),
            country: Set(p.country.to_owned()),
            latitude: Set(p.lat),
            longitude: Set(p.lon),
            timezone: Set(p.tz.to_owned()),
            photos: Set(serde_json::json!([format!("/static/demo/{}.jpg", p.slug)])),
            commission_bps: Set(1500),
            opening_hours: Set(
                r#"[{"weekday":"tue-sun","open":"10:00","close":"22:00"}]"#.to_owned()
            ),
            cancellation_hours: Set(24),
            calendar_feed_token_hash: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&tx)
        .await?;
        for (j, e) in p.experiences.iter().enumerate() {
            let eid = Uuid::now_v7();
            experience_ids.push(eid);
            experience::ActiveModel {
                id: Set(eid),
                partner_id: Set(id),
                title: Set(e.title.to_owned()),
                description: Set(e.description.to_owned()),
                category: Set(p.category.to_owned()),
                price_minor: Set(e.price_minor),
                currency: Set(p.currency.to_owned()),
                duration_minutes: Set(e.duration_minutes),
                capacity: Set(e.capacity),
                conditions: Set(
                    "Sur réservation, selon disponibilités. Valable 12 mois.".to_owned()
                ),
                photos: Set(serde_json::json!([])),
                published: Set(true),
                created_at: Set(now + chrono::Duration::seconds((i * 10 + j) as i64)),
                updated_at: Set(now),
            }
            .insert(&tx)
            .await?;
            let tags = e
                .occasions
                .iter()
                .map(|t| ("occasion", *t))
                .chain(e.seasons.iter().map(|t| ("season", *t)));
            for (kind, tag) in tags {
                experience_tag::ActiveModel {
                    experience_id: Set(eid),
                    kind: Set(kind.to_owned()),
                    tag: Set(tag.to_owned()),
                }
                .insert(&tx)
                .await?;
            }
        }
    }
    for eid in &experience_ids {
        crate::app::catalogue::reindex(&tx, *eid).await?;
    }

    let first_partner = partner_ids.first().copied().context("no demo partner")?;
    let people = [
        (
            "donor",
            "donor@demo.fimy.test",
            "Denise Donatrice",
            AccountKind::Customer,
            None,
        ),
        (
            "recipient",
            "recipient@demo.fimy.test",
            "Rémi Récipiendaire",
            AccountKind::Customer,
            None,
        ),
        (
            "partner owner",
            "owner@demo.fimy.test",
            "Odile Propriétaire",
            AccountKind::PartnerStaff,
            Some(StaffRole::Owner),
        ),
        (
            "partner tablet",
            "tablet@demo.fimy.test",
            "Tablette Bistro du Plateau",
            AccountKind::PartnerStaff,
            Some(StaffRole::Tablet),
        ),
        (
            "admin",
            "admin@demo.fimy.test",
            "Admin Fimy",
            AccountKind::Admin,
            None,
        ),
    ];
    let mut accounts = Vec::new();
    for (role, email, name, kind, staff_role) in people {
        let pw = random_token()[..16].to_owned();
        let hash = password::hash(Password::parse(&pw)?).await?;
        let uid = Uuid::now_v7();
        user::ActiveModel {
            id: Set(uid),
            email: Set(email.to_owned()),
            password_hash: Set(hash),
            display_name: Set(name.to_owned()),
            kind: Set(kind.as_str().to_owned()),
            locale: Set("fr".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&tx)
        .await?;
        if let Some(r) = staff_role {
            partner_staff::ActiveModel {
                id: Set(Uuid::now_v7()),
                partner_id: Set(first_partner),
                user_id: Set(uid),
                role: Set(r.as_str().to_owned()),
                created_at: Set(now),
            }
            .insert(&tx)
            .await?;
        }
        accounts.push(DemoAccount {
            role: role.to_owned(),
            email: email.to_owned(),
            password: pw,
        });
    }
    meta::ActiveModel {
        key: Set(SEEDED_KEY.to_owned()),
        value: Set(now.to_rfc3339()),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    tracing::info!(
        partners = PARTNERS.len(),
        experiences = experience_ids.len(),
        "demo data loaded"
    );
    Ok(accounts)
}

/// Adds lines to the credentials file (demo card codes, say).
pub fn remember(data_dir: &Path, more: &[DemoAccount]) -> anyhow::Result<()> {
    let mut all = read_credentials(data_dir);
    all.extend(more.iter().cloned());
    write_credentials(data_dir, &all)
}

fn write_credentials(data_dir: &Path, accounts: &[DemoAccount]) -> anyhow::Result<()> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let mut text = String::from(
        "# Fimy demo accounts (role, email, password) and demo card codes (label, card id, code)\n",
    );
    for a in accounts {
        text.push_str(&format!("{}\t{}\t{}\n", a.role, a.email, a.password));
    }
    std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn read_credentials(data_dir: &Path) -> Vec<DemoAccount> {
    let Ok(text) = std::fs::read_to_string(data_dir.join(CREDENTIALS_FILE)) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split('\t');
            Some(DemoAccount {
                role: parts.next()?.to_owned(),
                email: parts.next()?.to_owned(),
                password: parts.next()?.to_owned(),
            })
        })
        .collect()
}

const CARDS_SEEDED_KEY: &str = "demo_cards_loaded";
const AVAILABILITY_SEEDED_KEY: &str = "demo_availability_loaded";

/// Local opening hours (start, end) of a demo venue, every day, by its category.
fn demo_hours(category: &str) -> &'static [(&'static str, &'static str)] {
    match category {
        "restaurant" => &[("12:00", "14:30"), ("18:00", "22:30")],
        "spa" => &[("09:00", "21:00")],
        "hotel" => &[("15:00", "23:00")],
        _ => &[("10:00", "19:00")],
    }
}

/// Minutes of the shortest opening window of a demo venue.
fn shortest_window(category: &str) -> u32 {
    let minutes = |hhmm: &str| {
        let (h, m) = hhmm.split_once(':').unwrap_or(("0", "0"));
        h.parse::<u32>().unwrap_or(0) * 60 + m.parse::<u32>().unwrap_or(0)
    };
    demo_hours(category)
        .iter()
        .map(|(start, end)| minutes(end).saturating_sub(minutes(start)))
        .min()
        .unwrap_or(60)
        .max(15)
}

/// Availability rules for every demo experience (every day, the venue's usual hours), so
/// that a new installation has bookable slots in the coming days. Loaded once; a partner
/// changes them in the portal like any others.
pub async fn ensure_demo_availability(state: &crate::state::AppState) -> anyhow::Result<()> {
    use actors::booking::AvailabilityRules;
    use actors::booking::availability::WeeklyWindow;
    let db = &state.db;
    if meta::Entity::find_by_id(AVAILABILITY_SEEDED_KEY.to_owned())
        .one(db)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let partners = partner::Entity::find()
        .filter(partner::Column::Slug.is_in(PARTNERS.iter().map(|p| p.slug)))
        .all(db)
        .await?;
    for p in &partners {
        let experiences = experience::Entity::find()
            .filter(experience::Column::PartnerId.eq(p.id))
            .all(db)
            .await?;
        for exp in &experiences {
            let weekly = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .flat_map(|day| {
                    demo_hours(&p.category)
                        .iter()
                        .map(|(start, end)| WeeklyWindow {
                            weekday: (*day).to_owned(),
                            start: (*start).to_owned(),
                            end: (*end).to_owned(),
                        })
                })
                .collect();
            let rules = AvailabilityRules {
                timezone: p.timezone.clone(),
                weekly,
                exceptions: Vec::new(),
                capacity: u32::try_from(exp.capacity).unwrap_or(1).max(1),
                // A stay longer than the opening hours (a hotel night) is booked by its
                // arrival: one slot per window.
                slot_minutes: u32::try_from(exp.duration_minutes)
                    .unwrap_or(60)
                    .clamp(15, shortest_window(&p.category)),
                buffer_minutes: 0,
                min_notice_minutes: 60,
                horizon_days: 90,
            };
            crate::app::bookings::set_rules(state, exp, rules)
                .await
                .map_err(|e| anyhow::anyhow!("demo availability: {}", e.detail))?;
        }
    }
    meta::ActiveModel {
        key: Set(AVAILABILITY_SEEDED_KEY.to_owned()),
        value: Set(state.clock.now().to_rfc3339()),
    }
    .insert(db)
    .await?;
    tracing::info!("demo availability loaded");
    Ok(())
}

/// Demo gift cards from the demo donor to the demo recipient, in several states:
/// delivered and unopened (its code is printed), claimed and partly used, fully used,
/// scheduled for later, pending payment, and expired. Their payments are marked `demo_…`
/// (no provider was involved); everything else goes through the card actors as usual.
pub async fn ensure_demo_cards(state: &crate::state::AppState) -> anyhow::Result<Vec<DemoAccount>> {
    use actors::giftcard::{CardKind, Command, NewCard};
    let db = &state.db;
    if meta::Entity::find_by_id(CARDS_SEEDED_KEY.to_owned())
        .one(db)
        .await?
        .is_some()
    {
        return Ok(Vec::new());
    }
    let find_user = |email: &'static str| async move {
        user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(db)
            .await?
            .with_context(|| format!("demo account {email} missing"))
    };
    let donor = find_user("donor@demo.fimy.test").await?;
    let recipient = find_user("recipient@demo.fimy.test").await?;
    let bistro = partner::Entity::find()
        .filter(partner::Column::Slug.eq("bistro-du-plateau"))
        .one(db)
        .await?
        .context("demo partner missing")?;
    let tasting = experience::Entity::find()
        .filter(experience::Column::PartnerId.eq(bistro.id))
        .order_by_asc(experience::Column::CreatedAt)
        .one(db)
        .await?
        .context("demo experience missing")?;
    let now = state.clock.now();
    let bps = u32::try_from(bistro.commission_bps).unwrap_or(0);
    let new = |kind: CardKind, currency: actors::Currency, face_value: i64, deliver_at| NewCard {
        kind,
        currency,
        face_value,
        group: false,
        purchaser_id: donor.id,
        recipient_name: recipient.display_name.clone(),
        recipient_email: recipient.email.clone(),
        message: Some("Bonne dégustation ! — Denise".to_owned()),
        theme: "celebration".to_owned(),
        deliver_at,
    };
    let cad = actors::Currency::Cad;
    let value = CardKind::Value { partner_id: None };
    let plans: Vec<(&str, NewCard, &[&str])> = vec![
        (
            "card: delivered, unopened (experience)",
            new(
                CardKind::Experience {
                    experience_id: tasting.id,
                    partner_id: bistro.id,
                    party_size: 2,
                },
                actors::Currency::parse(&tasting.currency)?,
                tasting.price_minor * 2,
                None,
            ),
            &["pay", "deliver"],
        ),
        (
            "card: claimed, partly used",
            new(value.clone(), cad, 10_000, None),
            &["pay", "deliver", "claim", "redeem"],
        ),
        (
            "card: used",
            new(value.clone(), cad, 8_000, None),
            &["pay", "deliver", "claim", "use_all"],
        ),
        (
            "card: scheduled",
            new(
                value.clone(),
                cad,
                5_000,
                Some(now + chrono::Duration::days(7)),
            ),
            &["pay"],
        ),
        (
            "card: pending payment",
            new(value.clone(), cad, 5_000, None),
            &[],
        ),
        (
            "card: expired",
            new(value, cad, 2_500, None),
            &["pay", "deliver", "expire"],
        ),
    ];
    let mut printed = Vec::new();
    for (label, card, steps) in plans {
        let (code, material) = crate::app::giftcards::new_code(state);
        let id = Uuid::now_v7();
        let face = card.face_value;
        state
            .registry
            .send_with(id, Command::Create { card, now }, Some(material))
            .await?;
        for step in steps.iter().copied() {
            let command = match step {
                "pay" => Command::RecordPayment {
                    contribution_id: Uuid::now_v7(),
                    payer_id: donor.id,
                    payment_id: format!("demo_{}", Uuid::now_v7().simple()),
                    amount: face,
                    now,
                },
                "deliver" => Command::Deliver { now },
                "claim" => Command::Claim {
                    user_id: recipient.id,
                },
                "redeem" => Command::Redeem {
                    code_version: None,
                    amount: 3_500,
                    currency: cad,
                    partner_id: bistro.id,
                    commission_bps: bps,
                    reference: Uuid::now_v7(),
                    now,
                },
                "use_all" => Command::Redeem {
                    code_version: None,
                    amount: face,
                    currency: cad,
                    partner_id: bistro.id,
                    commission_bps: bps,
                    reference: Uuid::now_v7(),
                    now,
                },
                _ => Command::Expire {
                    now: now + chrono::Duration::days(actors::giftcard::VALIDITY_DAYS + 1),
                },
            };
            state.registry.send(id, command).await?;
        }
        if label.contains("unopened") {
            printed.push(DemoAccount {
                role: label.to_owned(),
                email: id.to_string(),
                password: code.to_string(),
            });
        }
    }
    meta::ActiveModel {
        key: Set(CARDS_SEEDED_KEY.to_owned()),
        value: Set(now.to_rfc3339()),
    }
    .insert(db)
    .await?;
    tracing::info!("demo cards loaded");
    Ok(printed)
}
