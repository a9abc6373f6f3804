-- The outcomes a service's back-office work may be completed with (CompleteWork checks a
-- specialist's choice against them), each a code and the name the operator sees. Two
-- arrays, entry i of one naming entry i of the other, rather than jsonb: the database can
-- then hold the whole invariant itself (same length, at most 20, codes well-formed and
-- unique, names non-empty and bounded) however a row is written. Empty means the
-- general outcomes (approved, rejected, informed). Expand only: the previous release
-- ignores the new columns.
create function service_outcomes_valid(codes text[], names text[]) returns boolean
language sql immutable as $$
    select cardinality(codes) = cardinality(names)
       and cardinality(codes) <= 20
       and array_position(codes, null) is null
       and array_position(names, null) is null
       and (select bool_and(c ~ '^[a-z0-9_]{1,40}$') from unnest(codes) c) is not false
       and (select count(distinct c) from unnest(codes) c) = cardinality(codes)
       and (select bool_and(char_length(n) between 1 and 120 and n = btrim(n))
              from unnest(names) n) is not false
$$;

alter table service_types
    add column outcome_codes text[] not null default '{}',
    add column outcome_names text[] not null default '{}',
    add constraint service_types_outcomes_valid
        check (service_outcomes_valid(outcome_codes, outcome_names));

-- The registry's address check was seeded before the catalogue listed outcomes, and a
-- seed never overwrites a municipality's entries: give it here the two outcomes the
-- registry reads (check_passed, check_failed), which the back-office page offered for it
-- until now, so its work stays completable after the upgrade. Only where an
-- administrator has not listed outcomes; the version moves so an edit made on the old
-- version is refused rather than silently dropping them.
update service_types
   set outcome_codes = array['check_passed', 'check_failed'],
       outcome_names = array['Dimora abituale accertata', 'Dimora abituale non accertata'],
       version = version + 1
 where code = 'registry.residence_address_check'
   and cardinality(outcome_codes) = 0;
