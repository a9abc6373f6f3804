-- The reads of a badge's certification (health data) are an audit table by name, so the
-- kit grants the service's role only select and insert on it (db::is_audit_table), and
-- hash-chained and append-only (the kit's migration audit_chain, sportello_kit::audit):
-- each row's seq, prev_hash and row_hash, the existing rows chained in (read_at, id)
-- order, no update, delete or truncate for anyone but archive-audit.
-- `sportello-mobility verify-audit` walks it.
alter table health_data_reads rename to health_data_read_audit;
call audit_chain_enable('health_data_read_audit', 'read_at');

-- Expand, then contract: the previous release still inserts into health_data_reads while
-- a rolling upgrade is under way. The view takes its rows (the chain trigger fires on the
-- table) and checks the caller's own privileges on the table (security_invoker), so it
-- opens no update or delete the table refuses. Drop it in the release after this one.
create view health_data_reads with (security_invoker = true) as
    select id, badge_id, actor, caller, purpose, read_at from health_data_read_audit;
