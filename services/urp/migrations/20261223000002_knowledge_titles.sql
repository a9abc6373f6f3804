-- The title and keywords alone, indexed apart: most questions are answered by them, and
-- their matches are few to rank; the body is searched only to fill the page.
alter table kb_answers
    add column title_search tsvector
        generated always as (to_tsvector('italian_folded', title || ' ' || keywords)) stored;

create index kb_answers_title_search on kb_answers using gin (title_search);
