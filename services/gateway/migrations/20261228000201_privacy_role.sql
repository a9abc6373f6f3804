-- The privacy/security officer: reads the registry's alerts on operators' reads of
-- residents' data (issue 19). Only widens the accepted roles, so the previous release
-- keeps working beside this one. A later migration that widens the list again must keep
-- 'privacy' in it.
alter table accounts drop constraint accounts_roles_check;
alter table accounts add constraint accounts_roles_check check (
    cardinality(roles) between 1 and 8
    and roles <@ array['info_desk', 'polivalente', 'tecnico', 'back_office',
                       'manager', 'admin', 'kiosk', 'protocollo', 'privacy']::text[]);
