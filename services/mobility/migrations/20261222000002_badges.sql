-- Disabled parking badges (CUDE): the badge, its plates, and the audit of every read of
-- its certification (health data, kept sealed).

create table badge_counters (
    municipality text    not null check (municipality ~ '^[0-9]{6}$'),
    year         integer not null,
    last         integer not null check (last > 0),
    primary key (municipality, year)
);

create table badges (
    id             uuid        primary key,
    municipality   text        not null check (municipality ~ '^[0-9]{6}$'),
    number         text        not null check (length(number) between 1 and 40),
    holder_ref     text        not null check (length(holder_ref) between 1 and 64),
    -- The registry's record of the holder: the key of its events (a death revokes).
    resident_ref   text        not null check (length(resident_ref) between 1 and 64),
    state          text        not null check (state in ('active', 'blocked', 'revoked', 'expired')),
    temporary      boolean     not null,
    valid_from     date        not null,
    valid_until    date        not null,
    -- The certification's reference and term, sealed (AES-256-GCM under HEALTH_DATA_KEY,
    -- the key's id first): health data, never stored in the clear.
    certification  bytea       not null check (length(certification) between 29 and 4096),
    key_id         text        not null check (length(key_id) between 1 and 16),
    platform_state text        not null default 'pending'
                               check (platform_state in ('pending', 'registered')),
    replaces       uuid        references badges (id),
    replaced_by    uuid        references badges (id),
    reason         text        check (length(reason) between 1 and 500),
    ended_at       timestamptz,
    channel        text        not null check (length(channel) between 1 and 20),
    version        bigint      not null default 1 check (version > 0),
    created_at     timestamptz not null,
    constraint badges_number_unique unique (municipality, number),
    constraint badges_days check (valid_until >= valid_from),
    constraint badges_ended check ((state in ('blocked', 'revoked')) = (ended_at is not null)),
    constraint badges_replaced check ((state = 'blocked') = (replaced_by is not null))
);

create index badges_resident on badges (resident_ref) where state = 'active';

create table badge_plates (
    badge_id   uuid not null references badges (id),
    plate      text not null check (plate ~ '^([A-Z]{1,3}:)?[A-Z0-9]{1,12}$'),
    plate_kind text not null check (length(plate_kind) between 1 and 40),
    primary key (badge_id, plate)
);

create index badge_plates_plate on badge_plates (plate);

-- Every read of a certification: who, for which badge, with which declared purpose.
-- Insert-only for the service: no update or delete is ever issued on it.
create table health_data_reads (
    id         uuid        primary key,
    badge_id   uuid        not null references badges (id),
    actor      text        not null check (length(actor) between 1 and 200),
    caller     text        not null check (length(caller) between 1 and 200),
    purpose    text        not null check (length(purpose) between 1 and 200),
    read_at    timestamptz not null
);
