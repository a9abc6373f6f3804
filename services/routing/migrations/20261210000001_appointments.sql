-- Appointments: calendars (site hours, closures, operator schedules), the municipality's
-- booking rules, and bookings. The database is the arbiter of "never double-booked": two
-- exclusion constraints on the booking's time range, per operator and per counter, over
-- the bookings that hold their slot.

-- Trusted since PostgreSQL 13: a database owner may create it.
create extension if not exists btree_gist;

-- A site's weekly opening hours for appointments, per service group ('' = every group
-- without hours of its own), in Europe/Rome local time.
create table appointment_hours (
    site_id       uuid     not null references sites (id),
    service_group text     not null default '' check (service_group ~ '^[a-z0-9_]{0,32}$'),
    weekday       smallint not null check (weekday between 1 and 7),
    opens         time     not null,
    closes        time     not null,
    check (opens < closes),
    primary key (site_id, service_group, weekday, opens)
);

-- Days a site is closed besides the holidays and the patron day.
create table appointment_closures (
    site_id    uuid        not null references sites (id),
    day        date        not null,
    reason     text        not null check (length(reason) between 1 and 200),
    created_at timestamptz not null,
    primary key (site_id, day)
);

-- When and where each operator receives by appointment, in Europe/Rome local time.
create table operator_schedules (
    operator_id    text     not null references operators (id),
    weekday        smallint not null check (weekday between 1 and 7),
    starts         time     not null,
    ends           time     not null,
    site_id        uuid     not null,
    counter_number smallint not null,
    check (starts < ends),
    primary key (operator_id, weekday, starts),
    foreign key (site_id, counter_number) references counters (site_id, number)
);
create index operator_schedules_site on operator_schedules (site_id, weekday);

-- A municipality's booking rules; a municipality without a row has the defaults
-- (appointments::domain::BookingRules::default).
create table booking_rules (
    municipality             text     primary key check (municipality ~ '^[0-9]{6}$'),
    buffer_minutes           smallint not null check (buffer_minutes between 0 and 60),
    max_open_per_service     smallint not null check (max_open_per_service between 1 and 10),
    max_per_person_per_day   smallint not null check (max_per_person_per_day between 1 and 10),
    max_per_source_per_day   integer  not null check (max_per_source_per_day between 1 and 10000),
    max_per_email_per_day    smallint not null check (max_per_email_per_day between 1 and 100),
    release_days_ahead       smallint not null check (release_days_ahead between 1 and 180),
    release_time             time     not null,
    release_tranches         smallint not null check (release_tranches between 1 and 12),
    tranche_interval_minutes smallint not null check (tranche_interval_minutes between 1 and 1440),
    confirm_minutes          smallint not null check (confirm_minutes between 5 and 60),
    check_in_early_minutes   smallint not null check (check_in_early_minutes between 0 and 120),
    check_in_late_minutes    smallint not null check (check_in_late_minutes between 0 and 60),
    waitlist_offer_minutes   smallint not null check (waitlist_offer_minutes between 5 and 1440),
    version                  bigint   not null check (version > 0)
);

-- A booking names the person only by requester_ref; the network source and the e-mail
-- address are kept only as keyed hashes, for the caps. The e-mailed confirmation code is
-- kept as a keyed hash too.
create table bookings (
    id                uuid        primary key,
    code              text        not null unique check (code ~ '^[0-9A-HJKMNP-TV-Z]{8}$'),
    municipality      text        not null check (municipality ~ '^[0-9]{6}$'),
    service_code      text        not null,
    service_group     text        not null,
    site_id           uuid        not null references sites (id),
    operator_id       text        not null references operators (id),
    counter_number    smallint    not null,
    slot              tstzrange   not null
        check (not isempty(slot) and lower_inc(slot) and not upper_inc(slot)
               and not lower_inf(slot) and not upper_inf(slot)),
    status            text        not null
        check (status in ('unconfirmed', 'offered', 'confirmed', 'checked_in', 'cancelled', 'expired', 'no_show')),
    requester_ref     text        not null check (requester_ref ~ '^rr_[0-9a-f]{32}$'),
    source_ref        text        check (source_ref ~ '^[0-9a-f]{32}$'),
    email_ref         text        check (email_ref ~ '^[0-9a-f]{32}$'),
    confirmation_hash text        check (confirmation_hash ~ '^[0-9a-f]{64}$'),
    confirm_attempts  smallint    not null default 0 check (confirm_attempts >= 0),
    confirm_deadline  timestamptz,
    case_id           uuid        references cases (id),
    ticket_label      text,
    origin_case_id    uuid        references cases (id),
    booked_by         text        not null check (length(booked_by) between 1 and 80),
    cancel_reason     text        check (length(cancel_reason) <= 500),
    created_at        timestamptz not null,
    updated_at        timestamptz not null,
    version           bigint      not null default 1 check (version > 0),
    foreign key (site_id, counter_number) references counters (site_id, number),
    check (status <> 'unconfirmed' or (confirm_deadline is not null and confirmation_hash is not null)),
    check (status <> 'offered' or confirm_deadline is not null),
    check ((status = 'checked_in') = (case_id is not null)),
    -- Never double-booked: an operator, and a counter, hold one booking at a time.
    constraint bookings_operator_free exclude using gist (operator_id with =, slot with &&)
        where (status in ('unconfirmed', 'offered', 'confirmed', 'checked_in')),
    constraint bookings_counter_free exclude using gist (site_id with =, counter_number with =, slot with &&)
        where (status in ('unconfirmed', 'offered', 'confirmed', 'checked_in'))
);
create index bookings_site_slot on bookings using gist (site_id, slot);
create index bookings_requester on bookings (requester_ref, service_code)
    where status in ('unconfirmed', 'confirmed', 'checked_in');
create index bookings_source on bookings (source_ref, created_at) where source_ref is not null;
create index bookings_email on bookings (email_ref, created_at) where email_ref is not null;

-- The waitlist: a person waits for a service within a date range (at some sites, or any);
-- a freed slot is offered to the first in line as a booking held for them ('offered')
-- until they accept or the offer lapses, then to the next.
create table waitlist (
    id            uuid        primary key,
    municipality  text        not null check (municipality ~ '^[0-9]{6}$'),
    service_code  text        not null,
    requester_ref text        not null check (requester_ref ~ '^rr_[0-9a-f]{32}$'),
    site_ids      uuid[]      not null default '{}',
    from_date     date        not null,
    to_date       date        not null,
    status        text        not null check (status in ('waiting', 'offered', 'booked', 'lapsed', 'withdrawn')),
    booking_id    uuid        references bookings (id),
    joined_at     timestamptz not null,
    version       bigint      not null default 1 check (version > 0),
    check (from_date <= to_date),
    check (status not in ('offered', 'booked') or booking_id is not null)
);
-- One place in line per person and service.
create unique index waitlist_one_per_person on waitlist (municipality, service_code, requester_ref)
    where status in ('waiting', 'offered');
create index waitlist_line on waitlist (municipality, service_code, joined_at) where status = 'waiting';
