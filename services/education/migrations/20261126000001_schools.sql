-- The schools and nurseries whose enrolments, canteens and fees the municipality manages.
create table schools (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    school_code  text        not null check (school_code ~ '^[A-Z0-9]{10}$'),
    name         text        not null check (length(name) between 1 and 200),
    level        text        not null check (level in ('nido', 'infanzia', 'primaria', 'secondaria_primo_grado')),
    street_name  text        not null,
    house_number text        not null,
    postal_code  text        not null check (postal_code ~ '^[0-9]{5}$'),
    capacity     integer     not null default 0 check (capacity >= 0),
    version      bigint      not null default 1 check (version > 0),
    created_at   timestamptz not null,
    constraint schools_code_unique unique (school_code)
);
