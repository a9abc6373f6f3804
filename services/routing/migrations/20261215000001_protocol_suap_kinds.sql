-- The SUAP's documents (issue 15): an opinion received from another body is an incoming
-- entry of its own kind; a filing's receipt (DPR 160/2010 art. 5 c. 4) and a request for
-- an opinion (L. 241/1990 art. 16, 17-bis) are outgoing ones. Expand only: the previous
-- release never writes the new kinds.
alter table registrations drop constraint registrations_kind_check;
alter table registrations add constraint registrations_kind_check check (
    (direction = 'incoming'
        and kind in ('application', 'declaration', 'scia', 'complaint', 'request', 'integration',
                     'opinion'))
    or (direction = 'outgoing'
        and kind in ('notice_of_reasons_against', 'rejection', 'order_to_conform', 'decision',
                     'communication', 'receipt', 'opinion_request')
        and recipient_ref is not null));
