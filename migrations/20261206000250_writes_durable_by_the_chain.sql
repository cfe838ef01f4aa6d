-- A service write that records an audit event is made durable by the chain batch that
-- chains its event, instead of by a WAL flush of its own (issue 21 §2).
--
-- Its answer waits for that batch anyway (src/audit/chain.rs). The batch commits
-- synchronously after the write committed, and WAL is flushed in order, so the batch's
-- one flush makes every write of the batch durable: one flush per batch instead of one
-- per write. The catch, found by the fault matrix: if the server crashes between the
-- write's commit and that flush, the write is gone, and the next batch, on the restarted
-- server, proves nothing about it. So a waiter also proves that its batch ran in the
-- same *server lifetime* as its write: the lifetime below, observed before the write
-- began, must be the one the batch (or the check of another process's chain) ran in.
-- Any crash in between ends the lifetime; the answer is then a 503, and the client's
-- retry with the same Idempotency-Key does the work once.

-- One row whose id names the server's lifetime. An unlogged table is emptied by crash
-- recovery (a crash-restart, `kill -9`, power loss, `pg_ctl stop -m immediate`) and is
-- empty on a promoted standby or a restored backup, and it survives a clean shutdown,
-- which flushes every commit first. Whoever asks first in a lifetime names it.
create unlogged table server_lifetime (
    one boolean primary key default true check (one),
    id uuid not null default gen_random_uuid()
);

create function server_lifetime() returns uuid language plpgsql as $$
declare
    lifetime uuid;
begin
    select id into lifetime from server_lifetime;
    if not found then
        insert into server_lifetime default values on conflict do nothing;
        select id into strict lifetime from server_lifetime;
    end if;
    return lifetime;
end $$;

-- A transaction that records an event commits without its own flush, on connections
-- that say so: the service's (`db::durable_by_chain`), whose answers wait for the chain
-- and check the lifetime. The CLI's connections do not: their writes stay durable at
-- commit, as do writes that record no event.
create function audit_pending_durable_by_chain() returns trigger language plpgsql as $$
begin
    if current_setting('stockpile.durable_by', true) = 'chain' then
        perform set_config('synchronous_commit', 'off', true);
    end if;
    return null;
end $$;

create trigger audit_pending_durable_by_chain after insert on audit_pending
    for each statement execute function audit_pending_durable_by_chain();
