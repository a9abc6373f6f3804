-- Tamper-evident audit tables, in every service's schema (sportello_kit::audit).
--
-- An audit table (a name with `audit` as a word, see db::is_audit_table) is already
-- insert-only for the service's role: it is granted only select and insert, and owned by
-- the schema's owner. Here each of its rows is also chained to the one before:
--
--   seq       1, 2, 3, … without gaps, in the order rows were inserted;
--   prev_hash the previous row's row_hash (32 zero bytes for the first row);
--   row_hash  sha256(prev_hash || audit_row_content(row)).
--
-- A changed field breaks its row's hash, a deleted row leaves a gap in seq (or a row
-- whose prev_hash is nowhere), two swapped rows each follow the wrong row. The head
-- (last seq and hash) is kept apart in _audit_chains, so a removed tail is found too.
-- `sportello-<service> verify-audit` walks the chain (kit/src/audit.rs).
--
-- A service's migration turns a table into a chained audit table with
--   call audit_chain_enable('<table>', '<its time column>');
-- which chains its existing rows in (time, id) order.
--
-- Rows older than the retention (at least six months, AUDIT_RETENTION) leave only through
-- `sportello-<service> archive-audit`, run by the owner: it writes them to a file, records
-- a checkpoint (the last archived seq and hash, the file's sha256), then deletes them, in
-- one transaction; the chain is verified from the checkpoint on.

-- The head of each chained table in this schema: where its next row attaches. Only the
-- chain trigger (as the owner) writes it; the service's role may read it (the kit grants
-- `_` tables select only).
create table _audit_chains (
    table_name  text   primary key,
    -- The column that says when a row was written: archival keeps rows by it.
    time_column text   not null,
    last_seq    bigint not null default 0 check (last_seq >= 0),
    last_hash   bytea  not null default '\x0000000000000000000000000000000000000000000000000000000000000000'
                       check (length(last_hash) = 32)
);

-- What archival took away: every row of the table up to seq (the chain's start for the
-- rows left), in a file whose sha256 is kept. Insert-only, and only on the archival path.
create table _audit_checkpoints (
    table_name      text        not null references _audit_chains (table_name),
    seq             bigint      not null check (seq > 0),
    row_hash        bytea       not null check (length(row_hash) = 32),
    rows            bigint      not null check (rows > 0),
    archived_before timestamptz not null,
    file_sha256     bytea       not null check (length(file_sha256) = 32),
    archived_at     timestamptz not null default now(),
    archived_by     text        not null default current_user,
    primary key (table_name, seq)
);

-- A row's canonical content: the row as jsonb without its chain columns and without its
-- null fields (so a nullable column added later, null in older rows, leaves their hashes
-- as they were), as text. jsonb's text form is deterministic (keys sorted, one spacing);
-- the settings that change how values print (timestamps' offset, floats' digits) are
-- fixed here, so the trigger and the verifier, in any session, hash the same bytes.
create function audit_row_content(r anyelement) returns text
language plpgsql stable
set timezone = 'UTC'
set extra_float_digits = 1
set intervalstyle = 'postgres'
set bytea_output = 'hex'
as $$
begin
    return (jsonb_strip_nulls(to_jsonb(r)) - 'seq' - 'prev_hash' - 'row_hash')::text;
end
$$;

-- The hash of a row that follows the row hashed `prev`.
create function audit_row_hash(prev bytea, r anyelement) returns bytea
language sql stable
set search_path from current
as $$
    select sha256(prev || convert_to(audit_row_content(r), 'UTF8'))
$$;

-- Chains each inserted row. Security definer (it runs as the schema's owner) because the
-- service's role may not write the head; search_path is fixed, as for any definer
-- function. Taking the head's row lock serialises the table's inserts until commit, so
-- concurrent inserts make one chain; in a repeatable-read transaction a concurrent insert
-- is a serialization failure (retried) rather than a fork.
create function audit_chain() returns trigger
language plpgsql security definer
set search_path from current
as $$
declare
    head _audit_chains%rowtype;
begin
    select * into head from _audit_chains where table_name = tg_table_name for update;
    if not found then
        raise exception 'audit table %.% has no chain (audit_chain_enable)', tg_table_schema, tg_table_name
            using errcode = 'object_not_in_prerequisite_state';
    end if;
    new.seq := head.last_seq + 1;
    new.prev_hash := head.last_hash;
    new.row_hash := audit_row_hash(new.prev_hash, new);
    update _audit_chains set last_seq = new.seq, last_hash = new.row_hash
     where table_name = tg_table_name;
    return new;
end
$$;

-- Whether the current transaction may delete row `row_seq` of audit table `rel`: only on
-- the archival path. That is three things at once: the transaction said so
-- (`set local sportello.audit_archive = on`: no statement deletes audit rows by
-- accident), it runs as the table's owner (the service's role cannot even ask: it has no
-- delete privilege), and a checkpoint already covers the row (archival records the
-- checkpoint first, and the checkpoint's own checks keep six months).
create function audit_archiving(rel regclass, row_seq bigint) returns boolean
language sql stable
set search_path from current
as $$
    select coalesce(current_setting('sportello.audit_archive', true), '') = 'on'
       and pg_has_role(current_user, (select relowner from pg_class where oid = rel), 'usage')
       and row_seq <= coalesce((select max(seq) from _audit_checkpoints
                                 where table_name = (select relname::text from pg_class where oid = rel)), 0)
$$;

-- Append-only, whoever asks: no update, no truncate, a delete only on the archival path.
create function audit_append_only() returns trigger
language plpgsql
set search_path from current
as $$
begin
    if tg_level = 'ROW' and tg_op = 'DELETE' then
        if audit_archiving(tg_relid, old.seq) then
            return old;
        end if;
    end if;
    raise exception 'the audit table %.% is append-only: % refused', tg_table_schema, tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

-- A checkpoint is recorded only on the archival path, by the table's owner, moves the
-- chain's start forward, names the row it says it names (its hash), and covers only rows
-- older than six months: the legal minimum is kept by the database, whatever the
-- command's AUDIT_RETENTION says.
create function audit_checkpoint_check() returns trigger
language plpgsql
set search_path from current
as $$
declare
    chain    _audit_chains%rowtype;
    rel      regclass;
    previous bigint;
    hash     bytea;
    newest   timestamptz;
    counted  bigint;
begin
    if coalesce(current_setting('sportello.audit_archive', true), '') <> 'on' then
        raise exception 'audit checkpoints are recorded only by archive-audit'
            using errcode = 'insufficient_privilege';
    end if;
    select * into chain from _audit_chains where table_name = new.table_name;
    rel := format('%I.%I', current_schema(), new.table_name)::regclass;
    if not pg_has_role(current_user, (select relowner from pg_class where oid = rel), 'usage') then
        raise exception 'only the owner of % archives it', new.table_name
            using errcode = 'insufficient_privilege';
    end if;
    select coalesce(max(seq), 0) into previous from _audit_checkpoints where table_name = new.table_name;
    if new.seq <= previous then
        raise exception 'checkpoint % of % is not after checkpoint %', new.seq, new.table_name, previous
            using errcode = 'check_violation';
    end if;
    execute format('select row_hash from %s where seq = $1', rel) into hash using new.seq;
    if hash is distinct from new.row_hash then
        raise exception 'checkpoint % of % does not match the chain', new.seq, new.table_name
            using errcode = 'check_violation';
    end if;
    execute format('select max(%I), count(*) from %s where seq > $1 and seq <= $2', chain.time_column, rel)
        into newest, counted using previous, new.seq;
    if newest >= now() - interval '6 months' then
        raise exception 'audit rows are kept at least six months: % of % is from %', new.table_name, new.seq, newest
            using errcode = 'check_violation';
    end if;
    if counted <> new.rows then
        raise exception 'checkpoint % of % counts % rows, the chain has %', new.seq, new.table_name, new.rows, counted
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger audit_checkpoint_check
    before insert on _audit_checkpoints
    for each row execute function audit_checkpoint_check();

create function audit_checkpoints_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'audit checkpoints are never changed: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger audit_checkpoints_append_only
    before update or delete on _audit_checkpoints
    for each row execute function audit_checkpoints_refuse_change();
create trigger audit_checkpoints_no_truncate
    before truncate on _audit_checkpoints
    for each statement execute function audit_checkpoints_refuse_change();

-- Turns `tbl` (in this schema, with an `id` column and a time column) into a chained
-- audit table: the chain columns, its existing rows chained in (time, id) order, the
-- chain trigger, and the append-only triggers (a table's own refusal triggers, where it
-- has them, stay beside these). Run by a migration, as the owner.
create procedure audit_chain_enable(tbl text, time_column text)
language plpgsql
set search_path from current
as $$
declare
    rel  regclass := format('%I.%I', current_schema(), tbl)::regclass;
    r    record;
    prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
    n    bigint := 0;
begin
    execute format('alter table %s add column seq bigint, add column prev_hash bytea, add column row_hash bytea', rel);
    insert into _audit_chains (table_name, time_column) values (tbl, time_column);
    -- Backfilling updates every row, which the table's own append-only triggers refuse:
    -- they are off for this statement of the migration only (the owner's transaction).
    execute format('alter table %s disable trigger user', rel);
    for r in execute format('select id from %s order by %I, id', rel, time_column) loop
        n := n + 1;
        execute format('update %s t set seq = $1, prev_hash = $2, row_hash = audit_row_hash($2, t)
                         where id = $3 returning row_hash', rel)
            into prev using n, prev, r.id;
    end loop;
    execute format('alter table %s enable trigger user', rel);
    update _audit_chains set last_seq = n, last_hash = prev where table_name = tbl;
    execute format('alter table %s alter column seq set not null, alter column prev_hash set not null,
                    alter column row_hash set not null,
                    add constraint %I check (length(prev_hash) = 32 and length(row_hash) = 32)',
                   rel, tbl || '_chain_hashes');
    execute format('create unique index %I on %s (seq)', tbl || '_seq', rel);
    execute format('create trigger audit_chain before insert on %s
                    for each row execute function audit_chain()', rel);
    execute format('create trigger audit_append_only before update or delete on %s
                    for each row execute function audit_append_only()', rel);
    execute format('create trigger audit_no_truncate before truncate on %s
                    for each statement execute function audit_append_only()', rel);
end
$$;
