-- How each site calls tickets, and which queues it serves.
alter table sites
    add column priority_bound_minutes smallint not null default 20
        check (priority_bound_minutes between 1 and 240),
    add column no_show_after_calls smallint not null default 2
        check (no_show_after_calls between 1 and 9),
    -- Service group codes served here; empty means every group.
    add column service_groups text[] not null default '{}';
