-- A warehouse's id and code are permanent, and a warehouse is never deleted (set its
-- status to inactive instead). Ledger rows, lots, users' assignments and audit events
-- name it, and each service process keeps the code → id mapping in memory
-- (src/warehouses/ids.rs) so that a write does not look it up on every request. The
-- database holds the rule, so no code path, CLI or manual SQL can break that mapping.
create function warehouses_identity_fixed() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'warehouse % cannot be deleted; set its status to inactive instead', old.code
            using errcode = 'restrict_violation';
    elsif tg_op = 'TRUNCATE' then
        raise exception 'warehouses cannot be truncated' using errcode = 'restrict_violation';
    end if;
    raise exception 'warehouse % cannot change its id or code', old.code
        using errcode = 'restrict_violation';
end $$;

create trigger warehouses_no_delete before delete on warehouses
    for each row execute function warehouses_identity_fixed();
create trigger warehouses_identity_fixed before update on warehouses
    for each row when (old.id is distinct from new.id or old.code is distinct from new.code)
    execute function warehouses_identity_fixed();
create trigger warehouses_no_truncate before truncate on warehouses
    for each statement execute function warehouses_identity_fixed();
alter table warehouses enable always trigger warehouses_no_delete;
alter table warehouses enable always trigger warehouses_identity_fixed;
alter table warehouses enable always trigger warehouses_no_truncate;
