-- The back office (tier 4): work handed over by departments on their statutory clock,
-- offered to specialists who accept or decline it, escalated as its term runs out.

create table work_items (
    id                  uuid        primary key,
    -- The case it is: its history, its outcome.
    case_id             uuid        not null unique references cases (id),
    origin_service      text        not null check (origin_service ~ '^[a-z]{2,32}$'),
    procedure_kind      text        not null check (procedure_kind ~ '^[a-z0-9_]{1,40}$'),
    procedure_id        uuid        not null,
    work_id             uuid        not null,
    municipality        text        not null check (municipality ~ '^[0-9]{6}$'),
    department          text        not null check (department ~ '^[a-z0-9_]{1,32}$'),
    service_code        text        not null,
    requester_ref       text        check (requester_ref ~ '^rr_[0-9a-f]{32}$'),
    context_note        text        not null default '' check (length(context_note) <= 2000),
    priority            text        not null
        check (priority in ('none', 'disability', 'pregnancy', 'elderly', 'small_children')),
    documents           jsonb       not null default '[]',
    protocol_registration_id uuid,
    -- The statutory clock as the department last sent it (WorkRequested/WorkUpdated).
    clock               jsonb,
    due_date            date,
    warning_date        date,
    substitute_due_date date,
    state               text        not null
        check (state in ('waiting', 'offered', 'held', 'suspended', 'completed', 'cancelled')),
    offered_to          text        references operators (id),
    offer_expires_at    timestamptz,
    -- When the current search for a specialist began (the target widens with time).
    waiting_since       timestamptz not null,
    holder              text        references operators (id),
    escalation_level    smallint    not null default 0 check (escalation_level between 0 and 3),
    arrived_at          timestamptz not null,
    closed_at           timestamptz,
    outcome_code        text        check (outcome_code ~ '^[a-z0-9_]{1,40}$'),
    result              jsonb       not null default '{}',
    version             bigint      not null default 1 check (version > 0),
    -- One request, one item, whatever is redelivered or re-published.
    unique (origin_service, work_id),
    -- Offered to exactly one specialist, with a deadline; held by exactly one.
    check ((state = 'offered') = (offered_to is not null and offer_expires_at is not null)),
    -- Held by exactly one; a suspended item keeps its holder, a completed one names who
    -- completed it; a waiting or offered item has none.
    check (state <> 'held' or holder is not null),
    check (state not in ('waiting', 'offered') or holder is null),
    check ((state in ('completed', 'cancelled')) = (closed_at is not null)),
    check (state <> 'completed' or outcome_code is not null)
);
-- The pick: due date first (none last), then arrival, per department.
create index work_items_waiting
    on work_items (municipality, department, due_date nulls last, arrived_at)
    where state = 'waiting';
create index work_items_held on work_items (holder) where state = 'held';
-- A specialist answers one offer at a time.
create unique index work_items_one_offer_each on work_items (offered_to) where state = 'offered';
create index work_items_breaches on work_items (municipality, due_date) where escalation_level = 3;

-- A specialist who declined an item is not offered it again.
create table work_declines (
    item_id     uuid        not null references work_items (id),
    operator_id text        not null references operators (id),
    declined_at timestamptz not null,
    primary key (item_id, operator_id)
);

-- How many back-office items a specialist holds at once (the counter stays one at a
-- time).
alter table operators
    add column back_office_capacity smallint not null default 5
        check (back_office_capacity between 1 and 50);
-- Continuity: what a specialist completed before, by procedure and by person.
create index work_items_done_by on work_items (holder, procedure_id) where state = 'completed';
