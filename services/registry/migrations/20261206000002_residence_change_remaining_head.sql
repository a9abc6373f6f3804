-- A head of family may move alone (DPR 223/1989 art. 6): the declaration names who becomes
-- head of the family left behind, and that person's new state is written by the change
-- (and restored with it on a rejection). A declarant under age is represented: the
-- declaration names the representative (issue 11, points 3 and 4).
alter table residence_changes
    add column remaining_head_id uuid references residents (id),
    add column representative_id uuid references residents (id),
    add constraint residence_changes_representative_not_declarant check (
        representative_id is distinct from declarant_id);
