-- The document store's PostgreSQL back end (the embedded default), in every service's
-- schema: a department stores the documents of a procedure in the transaction that
-- records it. Content addressed: the key is the SHA-256 of the content, so the same
-- bytes taken in twice are one row. Rows are never updated and not purged by the
-- janitor: procedures refer to them for as long as the procedure is kept.
create table documents (
    sha256     char(64)    primary key check (sha256 ~ '^[0-9a-f]{64}$'),
    media_type text        not null,
    size_bytes bigint      not null check (size_bytes > 0),
    content    bytea       not null,
    created_at timestamptz not null,
    check (size_bytes = octet_length(content))
);
-- The bytes are read whole by hash and never searched: keep them out of line, without
-- PostgreSQL's compression (PDFs, JPEGs and PNGs are compressed already).
alter table documents alter column content set storage external;
