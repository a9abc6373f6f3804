-- Access to documents (L. 241/1990) and civic access (D.Lgs 33/2013) on their
-- statutory terms; the register of access requests is a view of these rows without the
-- person.

create table access_requests (
    id uuid primary key,
    municipality text not null check (municipality ~ '^[0-9]{6}$'),
    kind text not null check (kind in ('documents', 'civic_simple', 'civic_generalised')),
    -- Masked of personal data at intake: these travel (the office's note, the register).
    subject text not null check (length(subject) between 10 and 4000),
    interest text not null default '',
    channel text not null,
    -- The person: URP's own, never in events or the register.
    requester_ref text not null,
    requester_fiscal_code text not null,
    requester_first_name text not null,
    requester_last_name text not null,
    requester_email text not null default '',
    protocol_id text not null,
    protocol_number text not null,
    received_at timestamptz not null,
    received_on date not null,
    state text not null check (state in ('received', 'irregular', 'decided', 'silently_refused',
                                         'under_review', 'reviewed')),
    -- The PA library's stops of the decision's term, and its due day now.
    stops jsonb not null default '[]'::jsonb check (jsonb_typeof(stops) = 'array'),
    due_date date,
    irregular_reason text,
    counter_interested integer not null default 0 check (counter_interested between 0 and 50),
    counter_interested_notified_on date,
    objection_deadline date,
    decision text check (decision in ('granted', 'partially_granted', 'refused', 'deferred',
                                      'published')),
    grounds text[] not null default '{}',
    reasons text,
    remedies text,
    deferred_until date,
    copy_pages integer not null default 0 check (copy_pages >= 0),
    copy_cost_cents bigint not null default 0 check (copy_cost_cents >= 0),
    published_url text,
    decision_protocol_number text,
    decided_on date,
    deliver_from date,
    review_deadline date,
    review_by text check (review_by in ('requester', 'counter_interested')),
    review_reasons text,
    review_requested_on date,
    review_stops jsonb not null default '[]'::jsonb check (jsonb_typeof(review_stops) = 'array'),
    review_due_date date,
    review_decision text check (review_decision in ('confirmed', 'overturned', 'partly_overturned')),
    review_decision_reasons text,
    review_protocol_number text,
    reviewed_on date,
    version integer not null default 1,
    updated_at timestamptz not null,
    -- A decision is a whole: its kind, its day, its protocol number; a limiting one
    -- names its grounds and reasons (L. 241/1990 art. 25 c. 3; D.Lgs 33/2013 art. 5 c. 6).
    constraint access_decided check (
        (decision is null) = (decided_on is null)
        and (decision is null) = (decision_protocol_number is null)
        and (decision not in ('partially_granted', 'refused', 'deferred')
             or (cardinality(grounds) > 0 and reasons is not null))
        and (decision <> 'deferred' or deferred_until is not null)
        and (decision <> 'published' or published_url is not null)
    ),
    constraint access_reviewed check (
        (review_decision is null) = (reviewed_on is null)
        and (review_decision is null or review_requested_on is not null)
    ),
    -- Review is civic access's remedy alone (D.Lgs 33/2013 art. 5 c. 7).
    constraint access_review_civic check (review_by is null or kind <> 'documents')
);

create index access_requests_register on access_requests (municipality, received_at, id);

-- One objection per counter-interested party.
create table access_objections (
    access_id uuid not null references access_requests (id),
    party integer not null check (party between 1 and 50),
    received_on date not null,
    reasons text not null,
    primary key (access_id, party)
);
