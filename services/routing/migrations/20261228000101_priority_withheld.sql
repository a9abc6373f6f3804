-- Priority work handed over by a department says only that it has priority: the ground
-- (a disability, a pregnancy) is health data and never travels in an event, so routing
-- stores what it was told, 'withheld', on the work item and on its case.
alter table cases drop constraint cases_priority_check;
alter table cases add constraint cases_priority_check
    check (priority in ('none', 'disability', 'pregnancy', 'elderly', 'small_children', 'withheld'));
alter table work_items drop constraint work_items_priority_check;
alter table work_items add constraint work_items_priority_check
    check (priority in ('none', 'disability', 'pregnancy', 'elderly', 'small_children', 'withheld'));
