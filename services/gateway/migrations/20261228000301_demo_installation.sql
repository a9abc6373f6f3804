-- Set by the demo seeder on the database it seeded (one row). The seeder writes accounts
-- with a password printed on the console and a published Open311 key: it runs only on a
-- database it seeded before, or on one that holds nothing of its own (services/gateway/
-- src/demo.rs, `claim_for_demo`), never on a municipality's real data.
create table demo_installation (
    only_row   boolean     primary key default true check (only_row),
    seeded_at  timestamptz not null
);
