-- The register names its correspondents (DPR 445/2000 art. 53 c. 1 lett. c): the sender
-- of an incoming document, the recipient of an outgoing one. Names are the one piece of
-- personal data routing keeps, so they are stored only sealed (AES-256-GCM, nonce ‖
-- ciphertext ‖ tag) beside the id of the key that sealed them; the service decrypts them
-- only for the protocol role. Expand only: older entries have no name, and the previous
-- release ignores the new columns.
alter table registrations
    add column sender_name_sealed    bytea check (length(sender_name_sealed) between 29 and 2048),
    add column sender_name_key       text  check (sender_name_key ~ '^[a-z0-9_-]{1,32}$'),
    add column recipient_name_sealed bytea check (length(recipient_name_sealed) between 29 and 2048),
    add column recipient_name_key    text  check (recipient_name_key ~ '^[a-z0-9_-]{1,32}$'),
    add constraint registrations_sender_name_keyed
        check ((sender_name_sealed is null) = (sender_name_key is null)),
    add constraint registrations_recipient_name_keyed
        check ((recipient_name_sealed is null) = (recipient_name_key is null));

-- The immutability trigger guards the names too: only voiding, once.
create or replace function registrations_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'protocol registrations are never deleted' using errcode = 'P0001';
    end if;
    if (new.id, new.municipality, new.year, new.number, new.registered_at, new.kind, new.sender_ref,
        new.subject, new.document_sha256, new.channel, new.case_id, new.direction,
        new.recipient_ref, new.sender_name_sealed, new.sender_name_key,
        new.recipient_name_sealed, new.recipient_name_key)
       is distinct from
       (old.id, old.municipality, old.year, old.number, old.registered_at, old.kind, old.sender_ref,
        old.subject, old.document_sha256, old.channel, old.case_id, old.direction,
        old.recipient_ref, old.sender_name_sealed, old.sender_name_key,
        old.recipient_name_sealed, old.recipient_name_key)
       or old.voided_at is not null then
        raise exception 'protocol registrations are immutable; only voiding once is allowed'
            using errcode = 'P0001';
    end if;
    return new;
end $$;

-- Every read of a name, by whom, when, for what and of which entries. Insert-only for
-- the service's role (the kit grants audit tables only select and insert), and the
-- database refuses to change or remove a row whoever asks.
create table protocol_name_audit (
    id               uuid        primary key,
    at               timestamptz not null,
    caller           text        not null check (length(caller) between 1 and 64),
    actor            text        not null check (length(actor) between 1 and 160),
    municipality     text        not null check (municipality ~ '^[0-9]{6}$'),
    purpose          text        not null check (length(purpose) between 1 and 64),
    -- 'registration.get' or 'register.export'.
    action           text        not null check (action in ('registration.get', 'register.export')),
    registration_ids uuid[]      not null check (cardinality(registration_ids) > 0)
);

create index protocol_name_audit_at on protocol_name_audit (municipality, at);
create index protocol_name_audit_registrations on protocol_name_audit using gin (registration_ids);

create function protocol_name_audit_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'the protocol name audit is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger protocol_name_audit_append_only
    before update or delete on protocol_name_audit
    for each row execute function protocol_name_audit_refuse_change();
create trigger protocol_name_audit_no_truncate
    before truncate on protocol_name_audit
    for each statement execute function protocol_name_audit_refuse_change();
