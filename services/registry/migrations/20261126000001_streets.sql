-- The street gazetteer (stradario): the streets residents' addresses refer to.
create table streets (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    street_code  text        not null check (street_code ~ '^[A-Z0-9-]{1,12}$'),
    qualifier    text        not null check (length(qualifier) between 1 and 40),
    name         text        not null check (length(name) between 1 and 120),
    postal_code  text        not null check (postal_code ~ '^[0-9]{5}$'),
    version      bigint      not null default 1 check (version > 0),
    created_at   timestamptz not null,
    constraint streets_code_unique unique (municipality, street_code)
);
