-- The audit log of reads of personal data: who (actor), on whose behalf the calling
-- service acted, when, which record, whose data it disclosed and the declared purpose.
-- Append-only: the database refuses to change or remove a row.
create table audit_log (
    id           uuid        primary key,
    at           timestamptz not null,
    caller       text        not null check (length(caller) between 1 and 32),
    actor        text        not null check (length(actor) between 1 and 160),
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    purpose      text        not null check (length(purpose) between 1 and 64),
    -- What was done: 'resident.get', 'fact.is_resident', 'certificate.issue', …
    action       text        not null check (action ~ '^[a-z_]+\.[a-z_]+$'),
    -- The record read.
    record_kind  text        not null check (record_kind in ('resident', 'family', 'certificate')),
    record_id    uuid        not null,
    -- Everyone whose data the read disclosed (one person, or a family's members).
    resident_ids uuid[]      not null check (cardinality(resident_ids) > 0)
);

create index audit_log_at on audit_log (at);
create index audit_log_residents on audit_log using gin (resident_ids);

create function audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'the audit log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function audit_log_refuse_change();
create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function audit_log_refuse_change();
