-- The SUAP's notice of reasons against granting (L. 241/1990 art. 10-bis, issue 15):
-- the business's observations are an incoming entry of their own kind, and the ordinary
-- procedure's back-office work may end with the notice or with a reasoned refusal as
-- well as a grant. Expand only: the previous release never writes the new kind, and
-- offers only the outcomes it knew.
alter table registrations drop constraint registrations_kind_check;
alter table registrations add constraint registrations_kind_check check (
    (direction = 'incoming'
        and kind in ('application', 'declaration', 'scia', 'complaint', 'request', 'integration',
                     'opinion', 'observations'))
    or (direction = 'outgoing'
        and kind in ('notice_of_reasons_against', 'rejection', 'order_to_conform', 'decision',
                     'communication', 'receipt', 'opinion_request')
        and recipient_ref is not null));

-- Municipalities seeded before: the outcomes of the seed's version 3, unless an
-- administrator changed them since (then theirs stand, as seeding never overwrites).
update service_types
set outcome_codes = array['granted', 'reasons_against', 'refused'],
    outcome_names = array['Accolta: provvedimento favorevole',
                          'Preavviso di rigetto (art. 10-bis L. 241/1990)',
                          'Respinta: provvedimento motivato dopo il preavviso'],
    version = version + 1
where code = 'suap.ordinary_review'
  and outcome_codes = array['granted']
  and outcome_names = array['Accolta: provvedimento favorevole'];
