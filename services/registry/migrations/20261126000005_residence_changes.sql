-- Changes of residence within the municipality (DL 5/2012 art. 5), one row per
-- declaration, and the members moving. A declaration is recorded when it is registered
-- in the protocol register (routing); a person is in at most one undecided change.
create table residence_changes (
    id                       uuid        primary key,
    municipality             text        not null check (municipality ~ '^[0-9]{6}$'),
    status                   text        not null check (status in ('recorded', 'confirmed', 'rejected')),
    family_id                uuid        not null references families (id),
    -- The same family when all its members move, else a new one.
    destination_family_id    uuid        not null references families (id),
    declarant_id             uuid        not null references residents (id),
    street_id                uuid        not null references streets (id),
    house_number             text        not null check (house_number ~ '^[1-9][0-9]{0,4}([A-Z]|/[A-Z0-9]{1,4})?$'),
    channel                  integer     not null,
    document_sha256          bytea       not null check (length(document_sha256) = 32),
    -- Who declared, so later steps call routing on the same person's behalf.
    caller                   text        not null,
    actor                    text        not null,
    purpose                  text        not null,
    -- The protocol registration's time: the declaration's legal date.
    declared_at              timestamptz not null,
    effective_date           date        not null,
    registration_due         date        not null,
    recorded_at              timestamptz not null,
    check_due                date        not null,
    -- The day silence-assent takes effect; null once a notice of reasons against was sent.
    silence_assent_on        date,
    protocol_registration_id text        not null,
    protocol_number          text        not null,
    check_case_id            text        not null,
    reasons_against_at       timestamptz,
    reasons_against          text        check (length(reasons_against) between 1 and 500),
    decided_at               timestamptz,
    confirmation_basis       text        check (confirmation_basis in ('check', 'silence_assent')),
    rejection_reason         text        check (length(rejection_reason) between 1 and 500),
    case_closed_at           timestamptz,
    version                  bigint      not null default 1 check (version > 0),
    constraint residence_changes_protocol_unique unique (protocol_registration_id),
    constraint residence_changes_case_unique unique (check_case_id),
    constraint residence_changes_decided check (
        (status in ('confirmed', 'rejected')) = (decided_at is not null)
        and (status = 'confirmed') = (confirmation_basis is not null)
        and (status = 'rejected') = (rejection_reason is not null)),
    constraint residence_changes_notice check (
        (reasons_against_at is null) = (reasons_against is null)),
    -- Silence-assent needs the 45 days to pass with no notice of reasons against.
    constraint residence_changes_no_assent_after_notice check (
        confirmation_basis is distinct from 'silence_assent' or reasons_against_at is null),
    constraint residence_changes_dates check (
        registration_due >= effective_date and check_due >= effective_date
        and (silence_assent_on is null or silence_assent_on > check_due)),
    -- The move is recorded within the 2 working days the law gives.
    constraint residence_changes_recorded_in_time check (
        (recorded_at at time zone 'Europe/Rome')::date <= registration_due)
);

create table residence_change_members (
    residence_change_id uuid    not null references residence_changes (id),
    resident_id         uuid    not null references residents (id),
    -- Relationship to the head at the new address.
    relationship        text    not null check (relationship in (
                            'head', 'spouse', 'civil_partner', 'partner', 'child', 'stepchild',
                            'grandchild', 'parent', 'parent_in_law', 'sibling', 'child_in_law',
                            'grandparent', 'other_relative', 'cohabitant')),
    -- While the change is neither confirmed nor rejected.
    open                boolean not null,
    primary key (residence_change_id, resident_id)
);

create unique index residence_change_members_one_open on residence_change_members (resident_id)
    where open;
create unique index residence_change_members_one_head on residence_change_members (residence_change_id)
    where relationship = 'head';

alter table resident_versions
    add constraint resident_versions_residence_change
    foreign key (residence_change_id) references residence_changes (id);
