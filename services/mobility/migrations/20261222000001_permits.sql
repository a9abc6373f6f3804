-- Zones gain their streets, hours, fees and the counts the database enforces; permits,
-- their plates, and the households' plates per zone.

alter table zones
    add column plates_per_household integer not null default 2
        check (plates_per_household between 1 and 10),
    -- Permits counted against the quota: every permit not ended. The check makes the
    -- last place one counter's, whichever commits first.
    add column permits_held integer not null default 0 check (permits_held >= 0),
    add constraint zones_quota check (permit_quota = 0 or permits_held <= permit_quota);

create table zone_streets (
    zone_id     uuid    not null references zones (id),
    position    integer not null check (position >= 0),
    street_code text    not null check (street_code ~ '^[A-Z0-9-]{1,12}$'),
    from_number integer not null check (from_number >= 0),
    to_number   integer not null check (to_number >= 0),
    parity      text    not null check (parity in ('both', 'odd', 'even')),
    primary key (zone_id, position),
    constraint zone_streets_range check (to_number = 0 or to_number >= from_number)
);

create table zone_hours (
    zone_id      uuid       not null references zones (id),
    position     integer    not null check (position >= 0),
    -- ISO weekdays, 1 (Monday) to 7 (Sunday).
    weekdays     smallint[] not null check (cardinality(weekdays) between 1 and 7
                                            and weekdays <@ array[1, 2, 3, 4, 5, 6, 7]::smallint[]),
    from_minute  integer    not null check (from_minute between 0 and 1439),
    until_minute integer    not null check (until_minute between 1 and 1440),
    primary key (zone_id, position),
    constraint zone_hours_order check (until_minute > from_minute)
);

create table zone_fees (
    zone_id      uuid   not null references zones (id),
    kind         text   not null check (kind in ('resident', 'guest', 'works', 'delivery')),
    amount_cents bigint not null check (amount_cents >= 0),
    primary key (zone_id, kind)
);

-- The permits' printed numbers: <zone>-<year>-<serial>, one series per zone and year.
create table permit_counters (
    zone_id uuid    not null references zones (id),
    year    integer not null,
    last    integer not null check (last > 0),
    primary key (zone_id, year)
);

create table permits (
    id             uuid        primary key,
    municipality   text        not null check (municipality ~ '^[0-9]{6}$'),
    zone_id        uuid        not null references zones (id),
    number         text        not null check (length(number) between 1 and 40),
    kind           text        not null check (kind in ('resident', 'guest', 'works', 'delivery')),
    state          text        not null
                               check (state in ('awaiting_payment', 'active', 'under_review', 'ended')),
    -- The holder (a guest's host) by the registry's pseudonymous reference.
    holder_ref     text        not null check (length(holder_ref) between 1 and 64),
    -- Resident permits: the registry's family record (the household) and the holder's
    -- record id (the key of the registry's events about them).
    household_ref  text        check (length(household_ref) between 1 and 64),
    resident_ref   text        check (length(resident_ref) between 1 and 64),
    valid_from     date        not null,
    valid_until    date        not null,
    amount_cents   bigint      not null check (amount_cents >= 0),
    notice_number  text        check (notice_number ~ '^3[0-9]{17}$'),
    reason         text        check (length(reason) between 1 and 500),
    grace_until    date,
    -- Under review: the review's id (its work item's in routing), what opened it
    -- (`residence_changed`, `moved_away`, `moved_abroad`, `deceased`) and the registry's
    -- record that did (a change of residence, whose rejection withdraws the review).
    review_id      uuid,
    review_cause   text        check (review_cause in ('residence_changed', 'moved_away',
                                                       'moved_abroad', 'deceased')),
    review_source  text        check (length(review_source) between 1 and 64),
    activated_at   timestamptz,
    ended_at       timestamptz,
    channel        text        not null check (length(channel) between 1 and 20),
    version        bigint      not null default 1 check (version > 0),
    created_at     timestamptz not null,
    constraint permits_number_unique unique (municipality, number),
    constraint permits_days check (valid_until >= valid_from),
    constraint permits_resident_household
        check ((kind = 'resident') = (household_ref is not null)),
    constraint permits_activated
        check (state = 'awaiting_payment' or activated_at is not null or state = 'ended'),
    constraint permits_ended check ((state = 'ended') = (ended_at is not null)),
    constraint permits_review check ((state = 'under_review') = (grace_until is not null)
                                     and (state = 'under_review') = (review_id is not null)
                                     and (state = 'under_review') = (review_cause is not null))
);

create index permits_resident on permits (resident_ref) where state <> 'ended';
create index permits_holder on permits (holder_ref);

create table permit_plates (
    permit_id  uuid not null references permits (id),
    plate      text not null check (plate ~ '^([A-Z]{1,3}:)?[A-Z0-9]{1,12}$'),
    plate_kind text not null check (length(plate_kind) between 1 and 40),
    primary key (permit_id, plate)
);

-- The camera's question for a transit weeks past: every permit a plate was ever on.
create index permit_plates_plate on permit_plates (plate);

-- The plates a household holds on resident permits not ended, per zone; the check is the
-- zone's limit, copied when the row is made.
create table household_plates (
    zone_id       uuid    not null references zones (id),
    household_ref text    not null check (length(household_ref) between 1 and 64),
    plates        integer not null check (plates >= 0),
    max_plates    integer not null check (max_plates between 1 and 10),
    primary key (zone_id, household_ref),
    constraint household_plates_limit check (plates <= max_plates)
);

-- pagoPA debt positions that mobility created (the kit's payments ledger writes them, in
-- the shape of SUAP's and education's; see sportello_kit::payments).
create sequence payment_iuv_base_seq minvalue 1 maxvalue 9999999999999 no cycle;

create table payment_positions (
    id                   uuid        primary key,
    municipality         text        not null check (municipality ~ '^[0-9]{6}$'),
    creditor_fiscal_code text        not null check (creditor_fiscal_code ~ '^[0-9]{11}$'),
    purpose_kind         text        not null check (purpose_kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    purpose_id           text        not null check (length(purpose_id) between 1 and 64),
    iupd                 text        not null check (length(iupd) between 1 and 50),
    iuv                  text        not null check (iuv ~ '^[0-9]{17}$'),
    notice_number        text        not null check (notice_number ~ '^3[0-9]{17}$'),
    amount_cents         bigint      not null check (amount_cents > 0),
    due_date             date        not null,
    description          text        not null check (length(description) between 1 and 140),
    status               text        not null default 'open'
                                     check (status in ('open', 'paid', 'invalidated')),
    published_at         timestamptz,
    paid_at              timestamptz,
    receipt_id           text        check (length(receipt_id) between 1 and 64),
    version              bigint      not null default 1 check (version > 0),
    created_at           timestamptz not null,
    constraint payment_positions_iupd_unique unique (iupd),
    constraint payment_positions_iuv_unique unique (creditor_fiscal_code, iuv),
    constraint payment_positions_receipt_unique unique (creditor_fiscal_code, receipt_id),
    constraint payment_positions_notice_is_iuv check (notice_number = '3' || iuv),
    constraint payment_positions_paid_has_receipt
        check ((status = 'paid') = (paid_at is not null and receipt_id is not null))
);

create unique index payment_positions_one_per_purpose
    on payment_positions (purpose_kind, purpose_id) where status <> 'invalidated';
