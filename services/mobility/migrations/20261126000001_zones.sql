-- The zones mobility permits are issued for.
create table zones (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    zone_code    text        not null check (zone_code ~ '^[A-Z0-9-]{1,16}$'),
    name         text        not null check (length(name) between 1 and 120),
    kind         text        not null check (kind in ('ztl', 'resident_parking')),
    permit_quota integer     not null default 0 check (permit_quota >= 0),
    version      bigint      not null default 1 check (version > 0),
    created_at   timestamptz not null,
    constraint zones_code_unique unique (municipality, zone_code)
);
