-- Satisfaction tied to cases. URP learns of every case completed in person from
-- routing's `case.completed` events and keeps it rateable for a while under a rating
-- code the citizen is given. The operator who served it is never stored: a rating is
-- about the service, the site and the tier.
create table rateable_cases (
    id               uuid        primary key,
    -- Routing's case id, only to find the code for the counter that completed the case;
    -- forgotten (null) once the case is rated, so no score can be joined back to
    -- routing's record of who served it.
    case_id          uuid        unique,
    -- Crockford base32, ten characters without the dash.
    code             text        not null unique check (code ~ '^[0-9A-HJKMNP-TV-Z]{10}$'),
    municipality     text        not null check (municipality ~ '^[0-9]{6}$'),
    service_code     text        not null check (service_code ~ '^[a-z]+(\.[a-z0-9_]+)+$'),
    site_id          uuid        not null,
    tier             smallint    not null check (tier between 1 and 4),
    kind             text        not null check (kind in ('counter', 'appointment')),
    outcome_code     text        not null check (outcome_code ~ '^[a-z0-9_]{1,40}$'),
    waited_seconds   integer     not null check (waited_seconds >= 0),
    handling_seconds integer     not null check (handling_seconds >= 0),
    completed_at     timestamptz not null,
    rate_by          timestamptz not null check (rate_by > completed_at),
    rated_at         timestamptz,
    check ((rated_at is null) or (case_id is null))
);
-- The manager's report reads a period of a municipality's completed cases.
create index rateable_cases_period on rateable_cases (municipality, completed_at);

-- A rating of a case names its rateable case; the old per-service ratings have none.
alter table feedback
    add column rateable_case_id uuid references rateable_cases (id),
    add column site_id          uuid,
    add column tier             smallint check (tier between 1 and 4),
    add column rated_via        text not null default 'RATING_CHANNEL_UNSPECIFIED';
-- One rating per case, whatever races.
create unique index feedback_one_per_case on feedback (rateable_case_id)
    where rateable_case_id is not null;
