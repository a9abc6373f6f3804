-- An audit table for the kit's tests of the service role: insert-only for it.
create table effects_audit (
    id   bigint generated always as identity primary key,
    note text not null
);
