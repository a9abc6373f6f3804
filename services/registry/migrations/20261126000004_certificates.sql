-- Issued certificates: what was certified, for whom, under which stamp duty, the PDF as
-- issued and its SHA-256, and a seal (HMAC) over the code and the hash so that a row
-- altered in the database no longer verifies. Certificates are never changed.
create table certificates (
    id                 uuid        primary key,
    municipality       text        not null check (municipality ~ '^[0-9]{6}$'),
    verification_code  text        not null check (verification_code ~ '^[0-9A-HJKMNP-TV-Z]{16}$'),
    certificate_type   text        not null check (certificate_type in (
                           'residence', 'family_status', 'birth', 'citizenship', 'existence',
                           'residence_family')),
    resident_id        uuid        not null references residents (id),
    -- Everyone the certificate names (the person, and a family certificate's members):
    -- each later read of it is audited as a read of their data.
    disclosed          uuid[]      not null check (cardinality(disclosed) > 0),
    use_text           text        not null check (length(use_text) between 1 and 200),
    exemption_code     text,
    stamp_duty_cents   integer     not null check (stamp_duty_cents >= 0),
    fees_cents         integer     not null check (fees_cents >= 0),
    issued_at          timestamptz not null,
    -- Null: unlimited validity (facts that cannot change, DPR 445/2000 art. 41 c. 1).
    valid_until        date,
    content_sha256     bytea       not null check (length(content_sha256) = 32),
    seal               bytea       not null check (length(seal) = 32),
    pdf                bytea       not null,
    caller             text        not null,
    actor              text        not null,
    constraint certificates_code_unique unique (verification_code),
    -- Either the 16 EUR stamp duty is paid, or an exemption is named.
    constraint certificates_stamp_duty check ((exemption_code is null) = (stamp_duty_cents > 0))
);

create index certificates_resident on certificates (resident_id);

create function certificates_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'issued certificates are never changed: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger certificates_immutable
    before update or delete on certificates
    for each row execute function certificates_refuse_change();
