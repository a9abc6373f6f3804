-- The protocol name audit hash-chained (the kit's migration audit_chain,
-- sportello_kit::audit): each row's seq, prev_hash and row_hash, the existing rows chained
-- in (at, id) order; `sportello-routing verify-audit` walks it. Expand only: the previous
-- release inserts as before and the trigger chains its rows too.
call audit_chain_enable('protocol_name_audit', 'at');

-- Its own refusal stays, and lets through what the kit's does: a delete on the archival
-- path (archive-audit, as the owner, of rows a checkpoint already covers).
create or replace function protocol_name_audit_refuse_change() returns trigger
language plpgsql
set search_path from current
as $$
begin
    if tg_level = 'ROW' and tg_op = 'DELETE' then
        if audit_archiving(tg_relid, old.seq) then
            return old;
        end if;
    end if;
    raise exception 'the protocol name audit is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;
