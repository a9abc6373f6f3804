-- The records office (ufficio protocollo): the role that reads the correspondents' names
-- in routing's protocol register (DPR 445/2000 art. 53), every read audited there. Only
-- widens the accepted roles, so the previous release keeps working beside this one.
alter table accounts drop constraint accounts_roles_check;
alter table accounts add constraint accounts_roles_check check (
    cardinality(roles) between 1 and 8
    and roles <@ array['info_desk', 'polivalente', 'tecnico', 'back_office',
                       'manager', 'admin', 'kiosk', 'protocollo']::text[]);
