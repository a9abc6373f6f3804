-- The address check is handed to routing as work over NATS (issue 13): the change is
-- recorded before routing has opened its case, whose id arrives later with routing's
-- `opened` event. Expand only: the column may be empty for a while; the unique
-- constraint still holds for the ids that are there.
alter table residence_changes
    alter column check_case_id drop not null;
