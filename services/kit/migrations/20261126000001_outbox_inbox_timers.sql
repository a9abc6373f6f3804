-- The kit's own tables, created in every service's schema (the connection's search_path
-- is the service's schema). Tracked in <schema>._kit_migrations, apart from the service's
-- own migrations.

-- Transactional outbox: an event is written in the same transaction as the state change
-- it describes; the relay publishes it to JetStream and marks it only after the ack.
create table outbox (
    seq               bigint generated always as identity primary key,
    id                uuid        not null unique,
    event_type        text        not null,  -- without the subject prefix
    aggregate_kind    text        not null,
    aggregate_id      text        not null,
    aggregate_version bigint      not null check (aggregate_version > 0),
    municipality      text        not null,
    data_type         text        not null,  -- protobuf full name of payload
    payload           bytea       not null,
    traceparent       text,
    occurred_at       timestamptz not null,
    published_at      timestamptz
);
create index outbox_unpublished on outbox (seq) where published_at is null;
create index outbox_published_at on outbox (published_at) where published_at is not null;

-- Idempotent inbox: a consumer records each event id in the same transaction as the
-- event's effect, so a redelivered event changes nothing.
create table inbox (
    consumer    text        not null,
    event_id    uuid        not null,
    received_at timestamptz not null,
    primary key (consumer, event_id)
);
create index inbox_received_at on inbox (received_at);

-- Durable timers: what must happen later is a row, fired by a steppable worker.
create table timers (
    id           uuid        primary key,
    kind         text        not null,
    key          text        not null,
    due_at       timestamptz not null,
    payload      jsonb       not null default '{}',
    created_at   timestamptz not null,
    fired_at     timestamptz,
    cancelled_at timestamptz,
    attempts     integer     not null default 0,
    last_error   text,
    unique (kind, key),
    check (fired_at is null or cancelled_at is null)
);
create index timers_due on timers (due_at) where fired_at is null and cancelled_at is null;

-- Idempotency keys of create calls: a retried call returns the first call's response.
create table idempotency_keys (
    operation    text        not null,
    key          uuid        not null,
    request_hash bytea       not null,
    response     bytea,
    created_at   timestamptz not null,
    primary key (operation, key)
);
create index idempotency_keys_created_at on idempotency_keys (created_at);
