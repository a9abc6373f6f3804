-- The protocol register, as DPR 445/2000 art. 53-54 reads it.
--
-- Outgoing documents are registered too (art. 53 c. 5): an entry has a direction, and
-- an outgoing one names its recipient (a reference, never a name). Its kind is one of
-- the outgoing kinds; incoming entries keep theirs.
alter table registrations add column direction text not null default 'incoming'
    check (direction in ('incoming', 'outgoing'));
alter table registrations add column recipient_ref text
    check (recipient_ref is null or length(recipient_ref) between 1 and 64);
alter table registrations drop constraint registrations_kind_check;
alter table registrations add constraint registrations_kind_check check (
    (direction = 'incoming'
        and kind in ('application', 'declaration', 'scia', 'complaint', 'request', 'integration'))
    or (direction = 'outgoing'
        and kind in ('notice_of_reasons_against', 'rejection', 'order_to_conform', 'decision',
                     'communication')
        and recipient_ref is not null));

-- An annulment records who annulled and the reference of its authorisation (art. 54;
-- AgID guidelines on electronic documents), beside when and why. Entries voided
-- before this release have neither, hence `not valid`: the rule binds every annulment
-- from now on.
alter table registrations add column voided_by text;
alter table registrations add column void_authorisation text;
alter table registrations add constraint registrations_annulment_complete check (
    voided_at is null
    or (voided_by is not null and length(void_authorisation) between 1 and 200)) not valid;

-- The immutability trigger now guards the new columns too: only voiding, once.
create or replace function registrations_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'protocol registrations are never deleted' using errcode = 'P0001';
    end if;
    if (new.id, new.municipality, new.year, new.number, new.registered_at, new.kind, new.sender_ref,
        new.subject, new.document_sha256, new.channel, new.case_id, new.direction,
        new.recipient_ref)
       is distinct from
       (old.id, old.municipality, old.year, old.number, old.registered_at, old.kind, old.sender_ref,
        old.subject, old.document_sha256, old.channel, old.case_id, old.direction,
        old.recipient_ref)
       or old.voided_at is not null then
        raise exception 'protocol registrations are immutable; only voiding once is allowed'
            using errcode = 'P0001';
    end if;
    return new;
end $$;
