-- The 10-bis phase of a change whose address check failed is handed to routing as its
-- own work (issue 13), so the back office lists the changes waiting for a notice step.
-- The registry notes when it requested that work, the case routing opened for it (''
-- until routing's `opened` event arrives, as for the check's case) and when it closed.
-- Expand only: the previous release neither reads nor writes these columns.
alter table residence_changes
    add column reasons_against_work_at  timestamptz,
    add column reasons_against_case_id  text not null default '',
    add column reasons_against_closed_at timestamptz,
    -- Requested only for a failed check; a case noted or closed only for requested work.
    add constraint residence_changes_reasons_against_work_check check (
        (reasons_against_work_at is null or check_failed_at is not null)
        and (reasons_against_case_id = '' or reasons_against_work_at is not null)
        and (reasons_against_closed_at is null or reasons_against_work_at is not null));
create unique index residence_changes_reasons_against_case_unique
    on residence_changes (reasons_against_case_id) where reasons_against_case_id <> '';
