-- The address check is handed to routing as work over NATS (issue 13): the change is
-- recorded before routing has opened its case, whose id arrives later with routing's
-- `opened` event. Until then the column holds '' — not NULL, so that the previous
-- release, which reads it as text, keeps working during a rolling upgrade — and the
-- uniqueness holds for the ids that are there.
alter table residence_changes drop constraint residence_changes_case_unique;
create unique index residence_changes_case_unique
    on residence_changes (check_case_id) where check_case_id <> '';
