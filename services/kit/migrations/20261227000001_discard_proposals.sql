-- Archival records a service's retention rules found past their term: a *proposal* of
-- discard for the archivist. Archival records (procedure files, decisions) follow the
-- municipality's piano di conservazione, and discarding needs the archival
-- superintendence's authorisation (D.Lgs 42/2004 art. 21): the janitor only adds rows
-- here and never deletes one, nor the records they name.
create table discard_proposals (
    -- The rule that proposed it (`suap.applications`).
    category       text        not null check (length(category) between 1 and 80),
    record_table   text        not null check (length(record_table) between 1 and 63),
    record_id      text        not null check (length(record_id) between 1 and 200),
    -- When the record's term ran out.
    eligible_since timestamptz not null,
    -- Its class of the piano di conservazione.
    class          text        not null check (length(class) between 1 and 200),
    proposed_at    timestamptz not null,
    primary key (category, record_id)
);
create index discard_proposals_eligible on discard_proposals (eligible_since);
