-- A table the kit's tests write their handlers' effects into.
create table effects (
    id       bigint generated always as identity primary key,
    source   text not null,
    event_id uuid,
    note     text not null
);
