-- The kit's test audit table, chained as a service's audit tables are: it gains a time
-- column (archival keeps rows by it) and its chain.
alter table effects_audit add column at timestamptz not null default now();
call audit_chain_enable('effects_audit', 'at');
