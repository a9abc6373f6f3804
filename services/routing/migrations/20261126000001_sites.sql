-- Front-desk sites (Palazzo Civico, Via Costantini, …) and their numbered counters.
create table sites (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    code         text        not null check (code ~ '^[a-z0-9-]{1,32}$'),
    name         text        not null check (length(name) between 1 and 120),
    street_name  text        not null,
    house_number text        not null,
    postal_code  text        not null check (postal_code ~ '^[0-9]{5}$'),
    version      bigint      not null default 1 check (version > 0),
    created_at   timestamptz not null,
    constraint sites_code_unique unique (municipality, code)
);

create table counters (
    site_id uuid     not null references sites (id),
    number  smallint not null check (number between 1 and 999),
    primary key (site_id, number)
);
