-- Retention of certificates' PDFs (issue 19): after RETENTION_CERTIFICATES the janitor
-- discards the PDF bytes, and records when. The rest of the row — the verification code,
-- the type, the issue time, the SHA-256 of the PDF and the seal over them — stays: a
-- receiving office verifies a copy it holds against the hash (VerifyCertificate), and the
-- issue is the record of what was certified for whom. Expand only: a release that reads
-- `pdf` as not null sees a purged row only after this release purged it.
alter table certificates
    alter column pdf drop not null,
    add column pdf_purged_at timestamptz,
    add constraint certificates_pdf_or_purged check ((pdf is null) = (pdf_purged_at is not null));

-- Certificates are still never changed, but for that one step: the PDF dropped, its
-- time recorded, every other column as it was.
create or replace function certificates_refuse_change() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE'
       and old.pdf is not null and new.pdf is null
       and old.pdf_purged_at is null and new.pdf_purged_at is not null
       and (to_jsonb(old) - 'pdf' - 'pdf_purged_at') = (to_jsonb(new) - 'pdf' - 'pdf_purged_at')
    then
        return new;
    end if;
    raise exception 'issued certificates are never changed: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;
