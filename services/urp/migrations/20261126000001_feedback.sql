-- Satisfaction feedback left by citizens after a service.
create table feedback (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    service_code text        not null check (service_code ~ '^[a-z]+(\.[a-z0-9_]+)+$'),
    channel      text        not null,
    rating       smallint    not null check (rating between 1 and 5),
    -- Free text may name people: it stays here, never in events or logs.
    comment      text        not null default '' check (length(comment) <= 2000),
    created_at   timestamptz not null
);
create index feedback_service on feedback (municipality, service_code, created_at);
