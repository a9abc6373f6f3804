-- The info-desk's quick answers, searched in Italian: a text search configuration that
-- folds accents before stemming (unaccent, then the Italian Snowball stemmer), and
-- trigrams on the folded title and keywords for typos.
create extension if not exists unaccent;
create extension if not exists pg_trgm;

create text search configuration italian_folded (copy = pg_catalog.italian);
alter text search configuration italian_folded
    alter mapping for hword, hword_part, word with unaccent, italian_stem;

-- unaccent() is only STABLE (its dictionary could change); this wrapper names the
-- dictionary and is IMMUTABLE, so generated columns and indexes may use it.
create function kb_fold(t text) returns text
    language sql immutable strict parallel safe
    set search_path from current
    as $$ select lower(unaccent('unaccent'::regdictionary, t)) $$;

create table kb_answers (
    id            uuid        primary key,
    municipality  text        not null check (municipality ~ '^[0-9]{6}$'),
    service_code  text        not null check (service_code ~ '^[a-z]+(\.[a-z0-9_]+)+$'),
    title         text        not null check (length(title) between 1 and 200),
    body          text        not null check (length(body) between 1 and 4000),
    what_to_bring text        not null default '' check (length(what_to_bring) <= 1000),
    where_to_go   text        not null default '' check (length(where_to_go) <= 500),
    cost          text        not null default '' check (length(cost) <= 200),
    duration      text        not null default '' check (length(duration) <= 200),
    keywords      text        not null default '' check (length(keywords) <= 500),
    version       bigint      not null default 1 check (version > 0),
    created_at    timestamptz not null,
    updated_at    timestamptz not null,
    search        tsvector    generated always as (
                      setweight(to_tsvector('italian_folded', title || ' ' || keywords), 'A')
                      || setweight(to_tsvector('italian_folded', body || ' ' || what_to_bring
                                                                 || ' ' || where_to_go), 'B')
                  ) stored,
    folded        text        generated always as (kb_fold(title || ' ' || keywords)) stored,
    constraint kb_answers_service_unique unique (municipality, service_code)
);

create index kb_answers_search on kb_answers using gin (search);
create index kb_answers_folded on kb_answers using gin (folded gin_trgm_ops);
