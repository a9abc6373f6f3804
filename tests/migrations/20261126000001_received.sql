-- What the end-to-end consumer received.
create table received (
    event_id  uuid primary key,
    street_id text not null
);
