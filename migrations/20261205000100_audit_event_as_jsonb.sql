-- An audit event goes into audit_pending as ONE jsonb value, in column `event`, and this
-- trigger expands it into the row's columns before the row is stored. So the mapping from
-- an event to its columns is written in one place (this trigger, fed by
-- `audit::Event::pending_json`), and every statement that records an event, including the
-- one-statement commands, says only `insert into audit_pending (event) values ($n)`.
-- The keys of the value are the column names; a key the table does not have is ignored,
-- a missing one is left null and refused by the column's not-null constraint.
alter table audit_pending add column event jsonb;

create function audit_pending_expand() returns trigger language plpgsql as $$
begin
    if new.event is not null then
        new := jsonb_populate_record(new, new.event);
        new.event := null;
    end if;
    return new;
end $$;

create trigger audit_pending_expand before insert on audit_pending
    for each row execute function audit_pending_expand();
