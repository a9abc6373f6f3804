-- The counter flow: catalogue, operators, tickets, cases and their history.

-- A service group is a queue at each site, with the ticket letter of that queue.
create table service_groups (
    municipality text    not null check (municipality ~ '^[0-9]{6}$'),
    code         text    not null check (code ~ '^[a-z0-9_]{1,32}$'),
    letter       text    not null check (letter ~ '^[A-Z]$'),
    name         text    not null check (length(name) between 1 and 80),
    version      bigint  not null default 1,
    primary key (municipality, code),
    constraint service_groups_letter_unique unique (municipality, letter)
);

create table service_types (
    municipality         text     not null,
    code                 text     not null check (code ~ '^[a-z]+(\.[a-z0-9_]+)+$' and length(code) <= 64),
    name                 text     not null check (length(name) between 1 and 120),
    department           text     not null check (department ~ '^[a-z0-9_]{1,32}$'),
    default_tier         smallint not null check (default_tier between 1 and 4),
    expected_minutes     smallint not null check (expected_minutes between 1 and 480),
    appointment_required boolean  not null,
    -- [{"skill": "anagrafe", "min_proficiency": 2}, …]
    required_skills      jsonb    not null default '[]',
    service_group        text     not null,
    allowed_channels     text[]   not null check (cardinality(allowed_channels) > 0),
    required_documents   text[]   not null default '{}',
    statutory_rule       text     not null default '' check (statutory_rule ~ '^[a-z0-9_]{0,40}$'),
    active               boolean  not null default true,
    version              bigint   not null default 1,
    primary key (municipality, code),
    foreign key (municipality, service_group) references service_groups (municipality, code)
);

-- Which catalogue seed file version each municipality has received.
create table catalogue_seeds (
    municipality text        primary key,
    version      integer     not null,
    applied_at   timestamptz not null
);

create table operators (
    id               text        primary key check (id ~ '^[a-z0-9._-]{1,64}$'),
    municipality     text        not null check (municipality ~ '^[0-9]{6}$'),
    display_name     text        not null check (length(display_name) between 1 and 120),
    tier             smallint    not null check (tier between 1 and 4),
    department       text        not null check (department ~ '^[a-z0-9_]{1,32}$'),
    -- [{"skill": "anagrafe", "proficiency": 4}, …]
    skills           jsonb       not null default '[]',
    site_id          uuid,
    counter_number   smallint,
    presence         text        not null default 'offline'
        check (presence in ('offline', 'available', 'busy', 'wrap_up', 'break', 'back_office')),
    presence_since   timestamptz not null,
    last_heartbeat_at timestamptz,
    -- The case whose paperwork a wrap-up is for: its wrap-up time is recorded on it.
    wrap_up_case_id  uuid,
    version          bigint      not null default 1,
    foreign key (site_id, counter_number) references counters (site_id, number),
    check ((site_id is null) = (counter_number is null)),
    -- Serving takes a seat.
    check (presence in ('offline', 'back_office') or site_id is not null)
);
-- Two operators never sit at the same counter while working there.
create unique index operators_one_per_counter on operators (site_id, counter_number)
    where presence <> 'offline';

-- Daily ticket numbers: per site, per Europe/Rome day, per letter.
create table ticket_counters (
    site_id     uuid    not null references sites (id),
    day         date    not null,
    letter      text    not null,
    last_number integer not null check (last_number between 1 and 999),
    primary key (site_id, day, letter)
);

create table tickets (
    id           uuid        primary key,
    municipality text        not null,
    site_id      uuid        not null references sites (id),
    day          date        not null,
    letter       text        not null check (letter ~ '^[A-Z]$'),
    number       integer     not null check (number between 1 and 999),
    label        text        not null,
    priority     text        not null,
    issued_at    timestamptz not null,
    unique (site_id, day, letter, number)
);

create table cases (
    id              uuid        primary key,
    municipality    text        not null check (municipality ~ '^[0-9]{6}$'),
    requester_ref   text        check (requester_ref ~ '^rr_[0-9a-f]{32}$'),
    service_code    text        not null,
    department      text        not null,
    tier            smallint    not null check (tier between 1 and 4),
    channel         text        not null,
    site_id         uuid        references sites (id),
    service_group   text        not null,
    priority        text        not null
        check (priority in ('none', 'disability', 'pregnancy', 'elderly', 'small_children')),
    status          text        not null
        check (status in ('waiting', 'pending', 'called', 'parked', 'completed', 'no_show', 'cancelled')),
    ticket_id       uuid        references tickets (id),
    -- 0 for the ticket's first (queued) case, 1.. for the services behind it.
    ticket_position smallint    not null default 0,
    arrival_at      timestamptz not null,
    opened_at       timestamptz not null,
    operator_id     text        references operators (id),
    counter_number  smallint,
    call_count      smallint    not null default 0 check (call_count >= 0),
    called_at       timestamptz,
    outcome_code    text        check (outcome_code ~ '^[a-z0-9_]{1,40}$'),
    closed_at       timestamptz,
    -- Seconds the operator spent in wrap-up after completing it.
    wrap_up_seconds integer     check (wrap_up_seconds >= 0),
    version         bigint      not null default 1 check (version > 0),
    check (status <> 'called' or (operator_id is not null and counter_number is not null)),
    check ((status in ('completed', 'no_show', 'cancelled')) = (closed_at is not null)),
    check (status <> 'completed' or outcome_code is not null)
);
-- An operator holds at most one case at a counter at any instant.
create unique index cases_one_called_per_operator on cases (operator_id) where status = 'called';
create index cases_waiting on cases (site_id, service_group, arrival_at) where status = 'waiting';
create index cases_open_by_site on cases (site_id, status) where closed_at is null;
create index cases_ticket on cases (ticket_id, ticket_position);
create index cases_recent_calls on cases (site_id, called_at desc) where called_at is not null;
create index cases_operator_completed on cases (operator_id, closed_at desc) where status = 'completed';

create table case_history (
    case_id uuid        not null references cases (id),
    seq     integer     not null,
    status  text        not null,
    at      timestamptz not null,
    actor   text        not null,
    reason  text        not null default '',
    primary key (case_id, seq)
);

-- The protocol register.
create table protocol_counters (
    municipality text    not null,
    year         integer not null,
    last_number  bigint  not null check (last_number > 0),
    primary key (municipality, year)
);

create table registrations (
    id              uuid        primary key,
    municipality    text        not null check (municipality ~ '^[0-9]{6}$'),
    year            integer     not null,
    number          bigint      not null check (number > 0),
    registered_at   timestamptz not null,
    kind            text        not null
        check (kind in ('application', 'declaration', 'scia', 'complaint', 'request', 'integration')),
    sender_ref      text        not null check (length(sender_ref) between 1 and 64),
    subject         text        not null check (length(subject) between 1 and 500),
    document_sha256 text        not null check (document_sha256 ~ '^[0-9a-f]{64}$'),
    channel         text        not null,
    case_id         uuid        references cases (id),
    voided_at       timestamptz,
    void_reason     text,
    unique (municipality, year, number),
    check ((voided_at is null) = (void_reason is null))
);
create index registrations_day on registrations (municipality, registered_at);

-- A register entry never changes, except to be voided once; it is never deleted.
create function registrations_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'protocol registrations are never deleted' using errcode = 'P0001';
    end if;
    if (new.id, new.municipality, new.year, new.number, new.registered_at, new.kind, new.sender_ref,
        new.subject, new.document_sha256, new.channel, new.case_id)
       is distinct from
       (old.id, old.municipality, old.year, old.number, old.registered_at, old.kind, old.sender_ref,
        old.subject, old.document_sha256, old.channel, old.case_id)
       or old.voided_at is not null then
        raise exception 'protocol registrations are immutable; only voiding once is allowed'
            using errcode = 'P0001';
    end if;
    return new;
end $$;
create trigger registrations_immutable before update or delete on registrations
    for each row execute function registrations_immutable();
