-- An application for public land (the `suolo.*` procedures) carries its occupation:
-- requested with the filing, granted with the decision. One application, one occupation.
alter table applications add column occupation_id uuid unique references occupations (id);
