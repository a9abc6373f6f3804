-- The businesses (imprese) that file applications with the SUAP.
create table businesses (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    vat_number   text        not null check (vat_number ~ '^[0-9]{11}$'),
    legal_name   text        not null check (length(legal_name) between 1 and 200),
    ateco_code   text        not null check (ateco_code ~ '^[0-9]{2}(\.[0-9]{1,2}(\.[0-9]{1,2})?)?$'),
    street_name  text        not null,
    house_number text        not null,
    postal_code  text        not null check (postal_code ~ '^[0-9]{5}$'),
    office_municipality text not null check (office_municipality ~ '^[0-9]{6}$'),
    version      bigint      not null default 1 check (version > 0),
    created_at   timestamptz not null,
    constraint businesses_vat_unique unique (municipality, vat_number)
);
