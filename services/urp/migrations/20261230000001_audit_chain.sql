-- The register of reads of a report's person and unmasked text hash-chained and
-- append-only (the kit's migration audit_chain, sportello_kit::audit): each row's seq,
-- prev_hash and row_hash, the existing rows chained in (read_at, id) order, and no update,
-- delete or truncate for anyone but archive-audit. `sportello-urp verify-audit` walks it.
-- Expand only: the previous release inserts as before and the trigger chains its rows.
call audit_chain_enable('report_reads_audit', 'read_at');
