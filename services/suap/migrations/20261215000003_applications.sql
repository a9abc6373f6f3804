-- Applications to the SUAP (DPR 160/2010): SCIA, communications and the ordinary
-- procedure, each registered in the protocol register (routing) and, where a term runs,
-- handed to routing's back office as work. The clock's stops are kept as the PA
-- library's own records (`sportello_pa::Stop`, JSON), so the deadline is always
-- recomputed from the same rules that produced it.
create table applications (
    id                       uuid        primary key,
    municipality             text        not null check (municipality ~ '^[0-9]{6}$'),
    business_id              uuid        not null references businesses (id),
    requester_ref            text        check (requester_ref ~ '^rr_[0-9a-f]{32}$'),
    procedure_code           text        not null check (length(procedure_code) between 1 and 80),
    regime                   text        not null
        check (regime in ('scia', 'scia_building', 'communication', 'ordinary')),
    matter                   text,
    subject                  text        not null check (length(subject) between 1 and 300),
    channel                  text        not null check (channel in ('counter', 'system')),
    -- Filed at the counter on the business's behalf: under which mandate (DPR 160/2010
    -- art. 2 c. 2, filings are electronic only).
    mandate_kind             text        check (mandate_kind in ('signed_form', 'special_power_of_attorney')),
    mandate_reference        text        check (length(mandate_reference) between 1 and 120),
    filed_by                 text        not null,
    received_on              date        not null,
    protocol_registration_id text        not null,
    protocol_number          text        not null,
    receipt_registration_id  text,
    receipt_number           text,
    status                   text        not null check (status in (
        'effective', 'conform_ordered', 'measures_reported', 'compliant', 'consolidated',
        'prohibited', 'filed', 'under_review', 'integration_requested', 'granted',
        'granted_by_silence', 'decision_overdue', 'refused')),
    stops                    jsonb       not null default '[]'::jsonb
        check (jsonb_typeof(stops) = 'array'),
    -- The back office's current work: round 1 is the filing's; a SCIA's measures
    -- reported after an order to conform start round 2, and so on.
    work_round               integer     not null default 1 check (work_round >= 1),
    case_id                  text,
    work_closed_at           timestamptz,
    version                  bigint      not null default 1 check (version > 0),
    created_at               timestamptz not null,
    updated_at               timestamptz not null,
    constraint applications_counter_mandate check (
        (channel = 'counter') = (mandate_kind is not null and mandate_reference is not null)),
    constraint applications_matter check ((regime = 'ordinary') = (matter is not null)),
    constraint applications_status_fits_regime check (
        case regime
            when 'communication' then status = 'filed'
            when 'ordinary' then status in ('under_review', 'integration_requested', 'granted',
                                            'granted_by_silence', 'decision_overdue', 'refused')
            else status in ('effective', 'conform_ordered', 'measures_reported', 'compliant',
                            'consolidated', 'prohibited')
        end)
);
create index applications_business on applications (business_id, created_at desc);

-- The documents filed with an application, one per checklist item and filing step.
create table application_documents (
    application_id uuid     not null references applications (id),
    checklist_item text     not null check (length(checklist_item) between 1 and 60),
    step           text     not null check (step in ('filing', 'integration', 'measures', 'opinion')),
    sha256         text     not null check (sha256 ~ '^[0-9a-f]{64}$'),
    media_type     text     not null,
    size_bytes     bigint   not null check (size_bytes > 0),
    position       smallint not null,
    primary key (application_id, step, position)
);

-- Opinions and assents asked of other bodies (L. 241/1990 art. 16, 17-bis): one open
-- request per body and application.
create table opinions (
    id                       uuid primary key,
    application_id           uuid not null references applications (id),
    office                   text not null check (office ~ '^[a-z][a-z0-9_]{1,39}$'),
    rule                     text not null
        check (rule in ('opinion', 'opinion_protected', 'assent', 'assent_sensitive')),
    term_days                integer check (term_days between 1 and 365),
    requested_on             date not null,
    due_on                   date not null check (due_on > requested_on),
    request_registration_id  text not null,
    request_number           text not null,
    state                    text not null default 'requested'
        check (state in ('requested', 'favourable', 'favourable_with_conditions', 'unfavourable')),
    received_on              date check (received_on >= requested_on),
    answer_registration_id   text,
    answer_number            text,
    late                     boolean not null default false,
    created_at               timestamptz not null,
    constraint opinions_answer_complete check (
        (state = 'requested') = (received_on is null)
        and (received_on is null) = (answer_registration_id is null)),
    constraint opinions_protected_term check ((rule = 'opinion_protected') = (term_days is not null))
);
create unique index opinions_one_per_office on opinions (application_id, office);
