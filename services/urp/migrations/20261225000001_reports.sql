-- Reports and complaints (segnalazioni e reclami) on the service charter's clock.

-- What citizens may report under: an Open311 "service" per municipality.
create table report_categories (
    municipality text not null check (municipality ~ '^[0-9]{6}$'),
    code text not null check (code ~ '^[a-z0-9_]+(\.[a-z0-9_]+)*$' and length(code) between 2 and 60),
    name text not null check (length(name) between 2 and 120),
    description text not null default '' check (length(description) <= 1000),
    grp text not null default '' check (length(grp) <= 120),
    kind text not null check (kind in ('report', 'complaint')),
    location_required boolean not null,
    -- Null: the service charter's default term.
    reply_days integer check (reply_days between 1 and 365),
    keywords text[] not null default '{}',
    office text not null default '' check (length(office) <= 120),
    active boolean not null default true,
    version integer not null default 1,
    updated_at timestamptz not null,
    primary key (municipality, code)
);

-- The codes citizens follow reports by: `2026-000123`, one series per municipality and
-- year, handed out under the row's lock so two filings never share a number.
create table report_series (
    municipality text not null,
    year integer not null,
    last_number integer not null check (last_number >= 0),
    primary key (municipality, year)
);

create table reports (
    id uuid primary key,
    municipality text not null,
    year integer not null,
    number integer not null check (number > 0),
    code text generated always as (year::text || '-' || lpad(number::text, 6, '0')) stored,
    category_code text not null,
    kind text not null check (kind in ('report', 'complaint')),
    -- As written (URP's own: it may name people) and as it travels, masked.
    description text not null check (length(description) between 10 and 4000),
    description_masked text not null,
    masked text[] not null default '{}',
    latitude double precision check (latitude between -90 and 90),
    longitude double precision check (longitude between -180 and 180),
    address text not null default '' check (length(address) <= 300),
    media_url text not null default '' check (length(media_url) <= 500),
    channel text not null,
    source text not null default '' check (length(source) <= 80),
    -- The person, when named: URP's own data, read back only through the audited RPC.
    requester_ref text,
    requester_fiscal_code text,
    requester_first_name text not null default '',
    requester_last_name text not null default '',
    requester_email text not null default '',
    requester_phone text not null default '',
    protocol_id text not null,
    protocol_number text not null,
    received_at timestamptz not null,
    due_date date not null,
    office text not null default '',
    status text not null check (status in ('received', 'in_progress', 'closed')),
    case_id text,
    reply text check (length(reply) between 10 and 8000),
    outcome text check (outcome in ('resolved', 'unfounded', 'forwarded')),
    reply_protocol_number text,
    reply_emailed boolean not null default false,
    closed_at timestamptz,
    filed_by text not null,
    version integer not null default 1,
    updated_at timestamptz not null,
    unique (municipality, year, number),
    foreign key (municipality, category_code) references report_categories (municipality, code),
    -- A point is both coordinates or neither.
    constraint reports_point check ((latitude is null) = (longitude is null)),
    -- Closed means replied: the reply, its outcome, its protocol number and its time.
    constraint reports_closed_replied check (
        (status = 'closed') = (reply is not null and outcome is not null
                               and reply_protocol_number is not null and closed_at is not null)
    )
);

create unique index reports_code on reports (municipality, code);
create index reports_recent on reports (municipality, received_at desc, id);
create index reports_category on reports (municipality, category_code, received_at desc);

create table report_attachments (
    report_id uuid not null references reports (id),
    position integer not null check (position between 0 and 3),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    media_type text not null,
    size_bytes bigint not null check (size_bytes > 0),
    primary key (report_id, position)
);

-- (insert-only: an audit table) Every read of a report's requester or unmasked description (who, for what, when).
create table report_reads_audit (
    id uuid primary key,
    report_id uuid not null references reports (id),
    actor text not null,
    caller text not null,
    purpose text not null,
    read_at timestamptz not null
);
