-- The legal ground of a person's registration (issue 11, point 2): RegisterResident is
-- for births (DPR 223/1989 art. 7 c. 1 a) and data loads; a move into the municipality
-- is registered by its declaration. Rows registered before this rule have none.
alter table residents
    add column registration_ground text
        check (registration_ground in ('birth', 'data_load', 'immigration'));
