-- The peak at the counter: the operators a manager designated to reinforce a skill during
-- peaks, the surges scheduled for education's enrolment windows, what each surge did to
-- each operator (so the restore is exact), and the window's applications, one row each
-- (counted per Europe/Rome day for the manager page).

create table surge_rosters (
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    skill        text        not null check (skill ~ '^[a-z0-9_]{1,32}$'),
    proficiency  smallint    not null check (proficiency between 1 and 5),
    operator_ids text[]      not null check (cardinality(operator_ids) <= 200),
    version      bigint      not null check (version > 0),
    updated_at   timestamptz not null,
    primary key (municipality, skill)
);

create table surges (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    window_id    uuid        not null,
    level        text        not null check (level ~ '^[a-z0-9_]{1,40}$'),
    school_year  integer     not null check (school_year between 2000 and 2100),
    skill        text        not null check (skill ~ '^[a-z0-9_]{1,32}$'),
    opens_on     date        not null,
    closes_on    date        not null,
    starts_at    timestamptz not null,
    ends_at      timestamptz not null,
    status       text        not null check (status in ('scheduled', 'active', 'ended')),
    created_at   timestamptz not null,
    version      bigint      not null check (version > 0),
    check (opens_on <= closes_on and closes_on - opens_on <= 366),
    check (starts_at < ends_at),
    -- One surge per window, whatever is redelivered or re-sent.
    constraint surges_one_per_window unique (municipality, window_id)
);
create index surges_by_municipality on surges (municipality, opens_on desc);

create table surge_operators (
    surge_id            uuid     not null references surges (id),
    operator_id         text     not null references operators (id),
    -- null: the operator did not have the skill before.
    prior_proficiency   smallint check (prior_proficiency between 1 and 5),
    granted_proficiency smallint not null check (granted_proficiency between 1 and 5),
    -- false: they already had it at least as high, and the surge left them alone.
    changed             boolean  not null,
    restored            boolean  not null default false,
    check (not changed or prior_proficiency is null or prior_proficiency < granted_proficiency),
    check (changed or not restored),
    primary key (surge_id, operator_id)
);
create index surge_operators_by_operator on surge_operators (operator_id);

create table surge_applications (
    application_id uuid primary key,
    municipality   text not null check (municipality ~ '^[0-9]{6}$'),
    window_id      uuid not null,
    -- The Europe/Rome day it was filed on.
    filed_on       date not null
);
create index surge_applications_by_window on surge_applications (window_id, filed_on);
