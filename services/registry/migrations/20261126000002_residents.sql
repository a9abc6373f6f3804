-- Residents and families with their full history.
--
-- A person's identity (fiscal code, requester_ref) is one row of `residents`; every
-- state of their record is a row of `resident_versions` with the days it was in force,
-- [valid_from, valid_to). A change closes the current state and adds the next; a state
-- that turns out never to have been in force (a rejected change of residence, a change
-- on the same day) is marked superseded, never deleted. The database keeps the history
-- honest: no two states of one person in force on the same day, at most one head per
-- family on any day, a resident always with a family, a relationship and an address.

-- Exclusion constraints on (uuid, daterange) need btree_gist's uuid operator class. It is
-- a trusted extension; the default operator class is found wherever it is installed.
create extension if not exists btree_gist;

create table families (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    created_at   timestamptz not null
);

create table residents (
    id            uuid        primary key,
    municipality  text        not null check (municipality ~ '^[0-9]{6}$'),
    fiscal_code   text        not null check (fiscal_code ~ '^[A-Z0-9]{16}$'),
    requester_ref text        not null check (requester_ref ~ '^rr_[0-9a-f]{32}$'),
    -- Bumped by every change of the person's record: the aggregate version of events.
    version       bigint      not null default 1 check (version > 0),
    created_at    timestamptz not null,
    constraint residents_fiscal_code_unique unique (municipality, fiscal_code),
    constraint residents_requester_ref_unique unique (requester_ref)
);

create table resident_versions (
    id                   uuid        primary key,
    resident_id          uuid        not null references residents (id),
    -- The days this state was in force: [valid_from, valid_to), Europe/Rome civil days.
    valid_from           date        not null,
    valid_to             date,
    recorded_at          timestamptz not null,
    -- Set when a later decision found this state never in force.
    superseded_at        timestamptz,
    cause                text        not null check (cause in (
                             'registration', 'residence_change', 'residence_change_rejected',
                             'status_change', 'family_change', 'synthetic_load')),
    -- The state this one follows (what a rejected change restores).
    follows_version_id   uuid        references resident_versions (id),
    residence_change_id  uuid,
    surname              text        not null check (length(surname) between 1 and 100),
    given_names          text        not null check (length(given_names) between 1 and 100),
    sex                  text        not null check (sex in ('M', 'F')),
    birth_date           date        not null,
    birthplace_code      text        not null check (birthplace_code ~ '^[A-Z][0-9]{3}$'),
    citizenship          text        not null check (citizenship ~ '^[A-Z]{2}$'),
    status               text        not null check (status in ('resident', 'moved_away', 'deceased', 'aire')),
    family_id            uuid        references families (id),
    relationship         text        check (relationship in (
                             'head', 'spouse', 'civil_partner', 'partner', 'child', 'stepchild',
                             'grandchild', 'parent', 'parent_in_law', 'sibling', 'child_in_law',
                             'grandparent', 'other_relative', 'cohabitant')),
    street_id            uuid        references streets (id),
    house_number         text        check (house_number ~ '^[1-9][0-9]{0,4}([A-Z]|/[A-Z0-9]{1,4})?$'),
    -- Moved away: ISTAT code of the municipality; AIRE: ISO country code.
    destination          text        check (destination ~ '^([0-9]{6}|[A-Z]{2})$'),
    fiscal_code_warnings text[]      not null default '{}',
    constraint resident_versions_range check (valid_to is null or valid_to > valid_from),
    constraint resident_versions_born check (birth_date <= valid_from),
    -- A resident lives in a family at an address; anyone else has neither.
    constraint resident_versions_resident_has_home check (
        (status = 'resident') = (family_id is not null and relationship is not null
                                 and street_id is not null and house_number is not null)),
    constraint resident_versions_destination check (
        (destination is not null) = (status in ('moved_away', 'aire'))),
    constraint resident_versions_no_overlap exclude using gist (
        resident_id with =, daterange(valid_from, valid_to) with &&)
        where (superseded_at is null),
    constraint resident_versions_one_head exclude using gist (
        family_id with =, daterange(valid_from, valid_to) with &&)
        where (relationship = 'head' and superseded_at is null)
);

-- At most one current state per person (every write path leaves exactly one).
create unique index resident_versions_current on resident_versions (resident_id)
    where valid_to is null and superseded_at is null;
create index resident_versions_resident on resident_versions (resident_id);
create index resident_versions_family on resident_versions (family_id)
    where superseded_at is null;
