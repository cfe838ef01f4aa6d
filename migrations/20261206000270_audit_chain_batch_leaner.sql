-- The chain batch, with less work per call. At 8 clients the machine is CPU-bound (both
-- cores ~95 % busy, chained or not), so what a batch costs in CPU is what the chain
-- costs in writes/s; and a batch then chains only two or three events, so its fixed
-- cost dominates (benches/load/chain_ratio.sh; docs/performance.md). Two changes, same
-- hash, same order, same locking as `audit_chain_tickets`:
--
-- - the pending rows are deleted and inserted into audit_events by one statement (a
--   data-modifying CTE): one executor run, and no second look-up of each pending row;
-- - the function's statements use generic plans (`plan_cache_mode`): their parameters
--   are arrays and a limit, whose values never change the best plan, so planning them
--   again on every call was pure cost.
--
-- Measured with pgbench, one client, synchronous_commit off (the CPU alone), batches of
-- three events: 0.39 ms a call against 0.47 ms before.
create or replace function audit_chain_batch(max_events integer, announce boolean default false,
                                             out chained integer, out tickets bigint[])
language plpgsql
set enable_seqscan = off
set plan_cache_mode = force_generic_plan as $$
declare
    head_seq bigint;
    head_hash text;
    last_prev text;
    ids bigint[] := '{}';
    seqs bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
    pending record;
begin
    chained := 0;
    tickets := '{}';
    if not exists (select from audit_pending) then
        return;
    end if;
    select seq, hash into strict head_seq, head_hash from audit_chain_head where id for update;
    for pending in select id, canon, ticket from audit_pending order by id limit max_events loop
        last_prev := head_hash;
        head_seq := head_seq + 1;
        head_hash := encode(sha256(convert_to(last_prev || pending.canon || head_seq::text || '}', 'UTF8')), 'hex');
        ids := ids || pending.id;
        seqs := seqs || head_seq;
        prevs := prevs || last_prev;
        hashes := hashes || head_hash;
        if pending.ticket is not null then
            tickets := tickets || pending.ticket;
        end if;
    end loop;
    chained := cardinality(ids);
    if chained = 0 then
        return;
    end if;
    with moved as (
        delete from audit_pending where id = any (ids) returning *
    )
    insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind, entity_id,
                              request_id, idempotency_key, before, after, prev_hash, hash, xact_id)
    select b.seq, p.at, p.actor_id, p.actor_username, p.action, p.entity_kind, p.entity_id,
           p.request_id, p.idempotency_key, p.before, p.after, b.prev_hash, b.hash, p.xact_id
      from unnest(ids, seqs, prevs, hashes) as b (id, seq, prev_hash, hash)
      join moved p on p.id = b.id
     order by b.seq;
    update audit_chain_head set seq = head_seq, prev_hash = last_prev, hash = head_hash where id;
    if announce then
        perform pg_notify('stockpile_audit_chain', head_seq::text);
    end if;
end $$;
