-- The documents handed in with a declaration of change of residence. The bytes are in
-- the document store (the kit's `documents` table by default, or object storage), keyed
-- by their SHA-256; this says which change each belongs to, in which order (the
-- declaration form first) and under which title, so a document is shown only to those
-- who may see its change. No foreign key to `documents`: with object storage the bytes
-- are not in this database.
create table residence_change_documents (
    residence_change_id uuid     not null references residence_changes (id),
    position            smallint not null check (position >= 0),
    sha256              char(64) not null check (sha256 ~ '^[0-9a-f]{64}$'),
    media_type          text     not null,
    size_bytes          bigint   not null check (size_bytes > 0),
    title               text     not null check (length(title) <= 120),
    primary key (residence_change_id, position)
);
create index residence_change_documents_sha256 on residence_change_documents (sha256);

-- Reading a change's document discloses its members' data: audited as its own kind.
-- Expand only: the previous release writes a subset of these kinds.
alter table audit_log drop constraint audit_log_record_kind_check;
alter table audit_log add constraint audit_log_record_kind_check
    check (record_kind in ('resident', 'family', 'certificate', 'residence_change_document'));
