-- Canteen, school transport and nursery: the fee schedules by income band, the children's
-- subscriptions and their charges, and the pagoPA debt positions the charges are paid
-- through (issue 16). No payer's fiscal code or name: they go to pagoPA only.

-- One row per published version; a subscription records the version it was priced with.
create table fee_schedules (
    municipality              text        not null check (municipality ~ '^[0-9]{6}$'),
    kind                      text        not null check (kind in ('canteen', 'transport', 'nursery')),
    school_year               smallint    not null check (school_year between 2000 and 2999),
    version                   integer     not null check (version > 0),
    -- [{"up_to_cents": 600000 | null, "monthly_cents": 0}, …], ascending, the last unbounded.
    bands                     jsonb       not null check (jsonb_typeof(bands) = 'array'
                                                          and jsonb_array_length(bands) between 1 and 10),
    sibling_reduction_percent smallint    not null check (sibling_reduction_percent between 0 and 100),
    created_at                timestamptz not null,
    primary key (municipality, kind, school_year, version)
);

-- The codes of subscriptions, numbered per municipality, service and year.
create table subscription_counters (
    municipality text     not null,
    kind         text     not null,
    school_year  smallint not null,
    last         integer  not null check (last > 0),
    primary key (municipality, kind, school_year)
);

create table subscriptions (
    id                       uuid        primary key,
    code                     text        not null check (code ~ '^[A-Z0-9-]{1,20}$'),
    municipality             text        not null,
    kind                     text        not null,
    school_year              smallint    not null,
    schedule_version         integer     not null,
    child_ref                text        not null check (child_ref ~ '^rr_[0-9a-f]{32}$'),
    payer_ref                text        not null check (payer_ref ~ '^rr_[0-9a-f]{32}$'),
    resident                 boolean     not null,
    -- As declared (DPR 445/2000 art. 46-47): the fee's basis, never in an event.
    isee_cents               bigint      check (isee_cents >= 0),
    dsu_protocol             text        check (dsu_protocol ~ '^[A-Z0-9-]{1,40}$'),
    band                     smallint    not null check (band between 1 and 10),
    monthly_cents            bigint      not null check (monthly_cents >= 0),
    reduction_percent        smallint    not null check (reduction_percent between 0 and 100),
    plan                     text        not null check (plan in ('monthly', 'yearly')),
    channel                  text        not null check (channel in ('counter', 'system')),
    taken_by                 text        not null,
    protocol_registration_id text        not null,
    protocol_number          text        not null,
    version                  bigint      not null default 1 check (version > 0),
    created_at               timestamptz not null,
    constraint subscriptions_priced_on_a_schedule foreign key (municipality, kind, school_year, schedule_version)
        references fee_schedules (municipality, kind, school_year, version),
    -- Codes are numbered per municipality, service and year.
    constraint subscriptions_code_unique unique (municipality, code),
    constraint subscriptions_dsu_with_isee check ((isee_cents is null) = (dsu_protocol is null)),
    -- One subscription per child, service and year.
    constraint subscriptions_one_per_child unique (child_ref, kind, school_year)
);

create index subscriptions_by_payer on subscriptions (payer_ref, municipality);

-- A month's fee, or the year's. Paid exactly when pagoPA's receipt says so.
create table subscription_charges (
    id              uuid        primary key,
    subscription_id uuid        not null references subscriptions (id),
    period          text        not null check (period ~ '^[0-9]{4}-[0-9]{2}$' or period ~ '^[0-9]{4}/[0-9]{2}$'),
    amount_cents    bigint      not null check (amount_cents > 0),
    due_date        date        not null,
    status          text        not null default 'open' check (status in ('open', 'paid')),
    notice_number   text        check (notice_number ~ '^3[0-9]{17}$'),
    iuv             text        check (iuv ~ '^[0-9]{17}$'),
    paid_at         timestamptz,
    receipt_id      text,
    constraint subscription_charges_one_per_period unique (subscription_id, period),
    constraint subscription_charges_notice check ((notice_number is null) = (iuv is null)),
    constraint subscription_charges_paid check ((status = 'paid') = (paid_at is not null))
);

-- pagoPA debt positions that education created (the kit's payments ledger writes them,
-- in the shape of SUAP's; see sportello_kit::payments).
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
