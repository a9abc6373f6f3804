-- An operator belongs to one municipality for good: an administrator of another
-- municipality who reuses the id cannot take the operator over (the upsert refuses it,
-- and this trigger refuses any other statement that tries).
create function operators_stay_home() returns trigger
language plpgsql as $$
begin
  if new.municipality <> old.municipality then
    raise exception 'operator % belongs to municipality %: it never moves', old.id, old.municipality
      using errcode = 'check_violation';
  end if;
  return new;
end
$$;

create trigger operators_stay_home
  before update of municipality on operators
  for each row execute function operators_stay_home();
