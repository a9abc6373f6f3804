-- Registry reads by the rules (issue 19, point 3).
-- Expand only: the previous release writes none of the new columns and a subset of the
-- audit kinds, and keeps working beside this one.

-- Who asked for a certificate and in which counter case. Residence and family-status
-- certificates are issued to anyone who asks (DPR 223/1989 art. 33 c. 1): the applicant
-- (a case's requester_ref, pseudonymous) is kept here, and the certificate's audit row
-- says `certificate.issue_third_party` when the applicant is not the person certified.
-- The case lets the operator of that case print it again; nobody else at a counter.
alter table certificates
    add column case_id       text check (case_id is null or length(case_id) between 1 and 64),
    add column applicant_ref text check (applicant_ref is null or length(applicant_ref) between 1 and 128),
    add column third_party   boolean not null default false;

-- Reading a change of residence discloses its members' data (the new address, the
-- family, the procedure): audited as its own kind. Only the kinds' list widens; the
-- audit log's columns are untouched.
alter table audit_log drop constraint audit_log_record_kind_check;
alter table audit_log add constraint audit_log_record_kind_check
    check (record_kind in ('resident', 'family', 'certificate', 'residence_change_document',
                           'residence_change'));

-- An operator's reads in the last hour, counted after each audited read: one index scan.
create index audit_log_actor_at on audit_log (actor, at);

-- Alerts for the privacy/security officer: an operator read more residents' data within
-- an hour than PRIVACY_READS_PER_HOUR. At most one per operator and clock hour (the
-- unique key), however many reads follow. Who and how many, never whose data.
create table privacy_alerts (
    id           uuid        primary key,
    municipality text        not null check (municipality ~ '^[0-9]{6}$'),
    actor        text        not null check (length(actor) between 1 and 160),
    -- The hour counted: (raised_at - 1 hour, raised_at].
    window_start timestamptz not null,
    raised_at    timestamptz not null,
    -- The clock hour (UTC) of raised_at: one alert per operator and hour.
    hour         timestamptz not null,
    reads        integer     not null check (reads > 0),
    threshold    integer     not null check (threshold > 0),
    constraint privacy_alerts_once_an_hour unique (actor, hour)
);

create index privacy_alerts_municipality on privacy_alerts (municipality, raised_at desc);
