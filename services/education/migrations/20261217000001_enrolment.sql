-- Enrolment in the municipal nurseries and pre-schools: a window per service and school
-- year, the applications filed in it, and the rankings published from them (issue 16).

-- A window, with the criteria its ranking is computed by (the PA rules of
-- `enrolment::criteria`, as JSON: one version per window, never edited once applications
-- exist — a ranking records the version it used).
create table enrolment_windows (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    level        text        not null check (level in ('nido', 'infanzia')),
    school_year  smallint    not null check (school_year between 2000 and 2999),
    opens_on     date        not null,
    closes_on    date        not null,
    starts_on    date        not null,
    criteria     jsonb       not null check (jsonb_typeof(criteria) = 'object'),
    -- Days after the provisional ranking within which families may object.
    objection_days smallint  not null default 10 check (objection_days between 1 and 60),
    -- Places offered for the year, in the final ranking's order, each answered within
    -- the acceptance days.
    places       integer     not null default 0 check (places >= 0),
    acceptance_days smallint not null default 7 check (acceptance_days between 1 and 30),
    -- The share of applications whose self-declarations are checked (DPR 445/2000 art. 71).
    check_percent smallint   not null default 5 check (check_percent between 1 and 100),
    -- The applications' codes are numbered per window under its row lock.
    filed        integer     not null default 0 check (filed >= 0),
    version      bigint      not null default 1 check (version > 0),
    created_at   timestamptz not null,
    constraint enrolment_windows_dates check (opens_on <= closes_on and closes_on < starts_on),
    constraint enrolment_windows_one_per_year unique (municipality, level, school_year)
);

-- An application. Education keeps the child's pseudonymous reference and birth date
-- (the age rules and the ranking's tie-break need it), never the fiscal code or a name:
-- the protocol register keeps the sender, sealed.
create table enrolment_applications (
    id                       uuid        primary key,
    window_id                uuid        not null references enrolment_windows (id),
    code                     text        not null check (code ~ '^[A-Z0-9-]{1,20}$'),
    child_ref                text        not null check (child_ref ~ '^rr_[0-9a-f]{32}$'),
    applicant_ref            text        not null check (applicant_ref ~ '^rr_[0-9a-f]{32}$'),
    birth_date               date        not null,
    entry                    text        not null check (entry in ('regular', 'early')),
    resident                 boolean     not null,
    working_parents          smallint    not null check (working_parents between 0 and 2),
    siblings_enrolled        smallint    not null check (siblings_enrolled between 0 and 20),
    isee_cents               bigint      check (isee_cents >= 0),
    dsu_protocol             text        check (dsu_protocol ~ '^[A-Z0-9-]{1,40}$'),
    score                    integer     not null check (score >= 0),
    channel                  text        not null check (channel in ('counter', 'system')),
    filed_by                 text        not null,
    protocol_registration_id text        not null,
    protocol_number          text        not null,
    -- The register's order: the ranking's fifth tie-break.
    filed_at                 timestamptz not null,
    version                  bigint      not null default 1 check (version > 0),
    -- The offer of a place, in the final ranking's order.
    offer_status             text        check (offer_status in ('offered', 'accepted', 'refused', 'lapsed')),
    offer_last_day           date,
    offered_at               timestamptz,
    answered_at              timestamptz,
    constraint enrolment_applications_offer check (
        (offer_status is null) = (offer_last_day is null and offered_at is null)
        and (offer_status in ('accepted', 'refused', 'lapsed')) = (answered_at is not null)),
    constraint enrolment_applications_code unique (window_id, code),
    -- One application per child and window (a duplicate is refused, not merged).
    constraint enrolment_applications_one_per_child unique (window_id, child_ref),
    constraint enrolment_applications_isee_with_dsu check ((isee_cents is null) = (dsu_protocol is null))
);

-- A registry event names a person by reference: their applications, as child or applicant.
create index enrolment_applications_child on enrolment_applications (child_ref);
create index enrolment_applications_applicant on enrolment_applications (applicant_ref);

-- Health data (an L. 104/1992 certification) apart from the application: read only to
-- score it, never returned, never in an event or a published ranking.
create table enrolment_application_health (
    application_id       uuid    primary key references enrolment_applications (id),
    disability_certified boolean not null
);

-- A published ranking: each stage once per window, as published (rows and open data).
create table enrolment_rankings (
    window_id        uuid        not null references enrolment_windows (id),
    stage            text        not null check (stage in ('provisional', 'final')),
    criteria_version integer     not null check (criteria_version >= 1),
    rows             jsonb       not null check (jsonb_typeof(rows) = 'array'),
    open_data_csv    text        not null,
    published_at     timestamptz not null,
    primary key (window_id, stage)
);

-- A family's objection to the provisional ranking: registered, handed to the back office
-- as work (its id is the objection's), decided there. One per application.
create table enrolment_objections (
    id                       uuid        primary key,
    application_id           uuid        not null references enrolment_applications (id),
    window_id                uuid        not null references enrolment_windows (id),
    -- The family's words: free text that may hold anything, so it stays here (never in
    -- an event or routing's work note).
    grounds                  text        not null check (length(grounds) between 1 and 2000),
    channel                  text        not null check (channel in ('counter', 'system')),
    filed_by                 text        not null,
    protocol_registration_id text        not null,
    protocol_number          text        not null,
    filed_at                 timestamptz not null,
    status                   text        not null default 'open'
        check (status in ('open', 'upheld', 'rejected')),
    score_before             integer     not null check (score_before >= 0),
    score_after              integer     check (score_after >= 0),
    case_id                  text,
    decided_by               text,
    decided_at               timestamptz,
    constraint enrolment_objections_one_per_application unique (application_id),
    constraint enrolment_objections_decided check (
        (status = 'open') = (decided_at is null and score_after is null))
);
create index enrolment_objections_open on enrolment_objections (window_id) where status = 'open';

-- An application under review as back-office work, with the reason, decided there —
-- nothing changes silently: because a registry fact it depends on changed (the child or
-- the applicant moved away, died, left for abroad), or because it was drawn for the check
-- of its self-declarations (DPR 445/2000 art. 71).
create table enrolment_reviews (
    id             uuid        primary key,
    application_id uuid        not null references enrolment_applications (id),
    kind           text        not null default 'registry_change'
        check (kind in ('registry_change', 'declaration_check')),
    -- Why, in words for the specialist: the registry's status and day, and whether the
    -- child or the applicant (routing's work note carries it: no name, no fiscal code).
    reason         text        not null check (length(reason) between 1 and 300),
    status         text        not null default 'open'
        check (status in ('open', 'kept', 'residence_lost', 'confirmed', 'not_truthful')),
    case_id        text,
    decided_by     text,
    decided_at     timestamptz,
    created_at     timestamptz not null
);
create index enrolment_reviews_application on enrolment_reviews (application_id);
