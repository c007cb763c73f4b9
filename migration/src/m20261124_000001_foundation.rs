//! Accounts, sessions, partners and their staff, experiences with tags, the catalogue's
//! full-text index, stored idempotent responses and installation facts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    Kind,
    Locale,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    UserId,
    UserAgent,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    Slug,
    Name,
    Description,
    Category,
    Address,
    City,
    Country,
    Latitude,
    Longitude,
    Timezone,
    Photos,
    CommissionBps,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PartnerStaff {
    Table,
    Id,
    PartnerId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Experiences {
    Table,
    Id,
    PartnerId,
    Title,
    Description,
    Category,
    PriceMinor,
    Currency,
    DurationMinutes,
    Capacity,
    Conditions,
    Photos,
    Published,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExperienceTags {
    Table,
    ExperienceId,
    Kind,
    Tag,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    RequestHash,
    State,
    ResponseStatus,
    ResponseContentType,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Meta {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_uniq(Users::Email))
                    .col(string(Users::PasswordHash))
                    .col(string(Users::DisplayName))
                    .col(string(Users::Kind))
                    .col(string(Users::Locale))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(string_uniq(Sessions::TokenHash))
                    .col(uuid(Sessions::UserId))
                    .col(string_null(Sessions::UserAgent))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_user_id")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Partners::Table)
                    .col(pk_uuid(Partners::Id))
                    .col(string_uniq(Partners::Slug))
                    .col(string(Partners::Name))
                    .col(text(Partners::Description))
                    .col(string(Partners::Category))
                    .col(string(Partners::Address))
                    .col(string(Partners::City))
                    .col(string(Partners::Country))
                    .col(double(Partners::Latitude))
                    .col(double(Partners::Longitude))
                    .col(string(Partners::Timezone))
                    .col(json(Partners::Photos))
                    .col(integer(Partners::CommissionBps))
                    .col(timestamp_with_time_zone(Partners::CreatedAt))
                    .col(timestamp_with_time_zone(Partners::UpdatedAt))
                    .check(Expr::col(Partners::CommissionBps).between(0, 10_000))
                    .check(Expr::col(Partners::Latitude).between(-90, 90))
                    .check(Expr::col(Partners::Longitude).between(-180, 180))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("partners_lat_lon")
                    .table(Partners::Table)
                    .col(Partners::Latitude)
                    .col(Partners::Longitude)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnerStaff::Table)
                    .col(pk_uuid(PartnerStaff::Id))
                    .col(uuid(PartnerStaff::PartnerId))
                    .col(uuid_uniq(PartnerStaff::UserId))
                    .col(string(PartnerStaff::Role))
                    .col(timestamp_with_time_zone(PartnerStaff::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PartnerStaff::Table, PartnerStaff::PartnerId)
                            .to(Partners::Table, Partners::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PartnerStaff::Table, PartnerStaff::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("partner_staff_partner_id")
                    .table(PartnerStaff::Table)
                    .col(PartnerStaff::PartnerId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Experiences::Table)
                    .col(pk_uuid(Experiences::Id))
                    .col(uuid(Experiences::PartnerId))
                    .col(string(Experiences::Title))
                    .col(text(Experiences::Description))
                    .col(string(Experiences::Category))
                    .col(big_integer(Experiences::PriceMinor))
                    .col(string_len(Experiences::Currency, 3))
                    .col(integer(Experiences::DurationMinutes))
                    .col(integer(Experiences::Capacity))
                    .col(text(Experiences::Conditions))
                    .col(json(Experiences::Photos))
                    .col(boolean(Experiences::Published))
                    .col(timestamp_with_time_zone(Experiences::CreatedAt))
                    .col(timestamp_with_time_zone(Experiences::UpdatedAt))
                    .check(Expr::col(Experiences::PriceMinor).gt(0))
                    .check(Expr::col(Experiences::DurationMinutes).gt(0))
                    .check(Expr::col(Experiences::Capacity).gt(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Experiences::Table, Experiences::PartnerId)
                            .to(Partners::Table, Partners::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("experiences_partner_id", vec![Experiences::PartnerId]),
            (
                "experiences_published_price",
                vec![Experiences::Published, Experiences::PriceMinor],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Experiences::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ExperienceTags::Table)
                    .col(uuid(ExperienceTags::ExperienceId))
                    .col(string(ExperienceTags::Kind))
                    .col(string(ExperienceTags::Tag))
                    .primary_key(
                        Index::create()
                            .col(ExperienceTags::ExperienceId)
                            .col(ExperienceTags::Kind)
                            .col(ExperienceTags::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExperienceTags::Table, ExperienceTags::ExperienceId)
                            .to(Experiences::Table, Experiences::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("experience_tags_kind_tag")
                    .table(ExperienceTags::Table)
                    .col(ExperienceTags::Kind)
                    .col(ExperienceTags::Tag)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string(IdempotencyKeys::Scope))
                    .col(string(IdempotencyKeys::Key))
                    .col(string(IdempotencyKeys::RequestHash))
                    .col(string(IdempotencyKeys::State))
                    .col(integer_null(IdempotencyKeys::ResponseStatus))
                    .col(string_null(IdempotencyKeys::ResponseContentType))
                    .col(blob_null(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_created_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Meta::Table)
                    .col(string(Meta::Key).primary_key())
                    .col(text(Meta::Value))
                    .to_owned(),
            )
            .await?;

        // The catalogue's full-text index: one row per experience, written by the
        // application whenever an experience, its tags or its partner change.
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE experience_search USING fts5(\
                        experience_id UNINDEXED, title, tags, venue, description, \
                        tokenize = 'unicode61 remove_diacritics 2')",
                )
                .await?;
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TABLE experience_search (\
                        experience_id uuid PRIMARY KEY REFERENCES experiences(id) ON DELETE CASCADE, \
                        document tsvector NOT NULL)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX experience_search_document ON experience_search USING GIN (document)",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}: Fimy runs on SQLite or PostgreSQL"
                )));
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS experience_search")
            .await?;
        for table in [
            Meta::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            ExperienceTags::Table.into_iden(),
            Experiences::Table.into_iden(),
            PartnerStaff::Table.into_iden(),
            Partners::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
