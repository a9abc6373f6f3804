-- Immigration goes through the declaration procedure (issue 11, point 2; DL 5/2012 art.
-- 5): a move into the municipality from another one or from abroad is a declaration like
-- a move within it, whose members are registered by the change itself. The change keeps
-- where they come from and the title to occupy the dwelling (DL 47/2014 art. 5); each
-- member the documents the law asks of their citizenship (a non-EU citizen's residence
-- permit; an EU citizen's ground under D.Lgs 30/2007 art. 9).
alter table residence_changes
    add column kind text not null default 'move' check (kind in ('move', 'immigration')),
    add column origin_municipality text check (origin_municipality ~ '^[0-9]{6}$'),
    add column origin_country text check (origin_country ~ '^[A-Z]{2}$'),
    add column dwelling_title text check (dwelling_title in ('owner', 'tenant', 'loan', 'other')),
    add column dwelling_title_reference text check (length(dwelling_title_reference) between 1 and 100),
    add constraint residence_changes_immigration check (
        (kind = 'immigration') = (dwelling_title is not null)
        and (dwelling_title is null) = (dwelling_title_reference is null)
        and (kind = 'move' or ((origin_municipality is null) <> (origin_country is null)))
        and (kind = 'immigration' or (origin_municipality is null and origin_country is null)));

alter table residence_change_members
    add column residence_permit text check (length(residence_permit) between 1 and 40),
    add column residence_permit_expiry date,
    add column eu_ground text check (eu_ground in (
        'worker', 'self_employed', 'sufficient_resources', 'student', 'family_member')),
    add constraint residence_change_members_permit check (
        (residence_permit is null) = (residence_permit_expiry is null));
