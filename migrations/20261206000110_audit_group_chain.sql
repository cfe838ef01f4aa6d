-- Audit events join the hash chain in batches, after commit, not one by one inside it.
--
-- With the deferred trigger of `audit_chain_at_commit`, every writing transaction locked
-- the chain's single head row from its COMMIT until its WAL flush was done, so writes
-- went through one at a time, a flush each: about 1,700 writes/s whatever the number of
-- clients, against 3,000 with the chain switched off. Now a transaction appends its
-- events to audit_pending and commits without touching the head. One chainer at a time
-- (src/audit/chain.rs: a task in each `serve` process, elected by an advisory lock; the
-- CLI calls it itself) calls audit_chain_batch, which chains every committed pending
-- event in one transaction: one head lock and one flush for the whole batch. The service
-- answers a write only once its events are chained, so what it acknowledges is in the
-- chain, as before; a crash between a commit and its chaining leaves the events pending,
-- and the next batch chains them.
--
-- The hash is the same as before: sha256(prev_hash || canon || seq || '}'), where `canon`
-- is the event's canonical JSON up to the value of `seq` (src/audit/mod.rs), so
-- `stockpile audit verify` recomputes it unchanged. The chain order is the order of the
-- pending rows' ids, taken in batches whose order the head lock fixes.

drop trigger audit_pending_chain on audit_pending;
drop function audit_chain_pending();

-- The transaction that wrote the event, carried over to audit_events.xact_id when it is
-- chained (in another transaction), so the ledger link of `audit verify` still holds.
alter table audit_pending add column xact_id xid8 not null default pg_current_xact_id();

-- A pending event names a real user, or the writer's commit fails, as it did when the
-- event was chained inside it; a row the chain could not take would stop the chain.
alter table audit_pending add constraint audit_pending_actor_fk
    foreign key (actor_id) references users (id);

-- Chains up to `max_events` pending events, oldest id first, and returns how many. Fewer
-- than `max_events`: every event committed before the call is now chained. Concurrent
-- calls queue on the head row, and each reads the pending rows only once it holds it, so
-- it never sees a row another call chained (no `for update` needed on them: writers
-- never change a pending row, and only a holder of the head deletes one). With
-- `announce`, the batch is announced on channel stockpile_audit_chain for requests of
-- other processes that wait on it.
--
-- enable_seqscan off: the pending table is nearly always empty, so a plan made when it
-- had one page would scan it sequentially, and keep doing so as it fills with dead rows
-- between vacuums; the primary key is always the right path.
create function audit_chain_batch(max_events integer, announce boolean default false)
returns integer language plpgsql
set enable_seqscan = off as $$
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
    if not exists (select from audit_pending) then
        return 0;
    end if;
    select seq, hash into strict head_seq, head_hash from audit_chain_head where id for update;
    for pending in select id, canon from audit_pending order by id limit max_events loop
        last_prev := head_hash;
        head_seq := head_seq + 1;
        head_hash := encode(sha256(convert_to(last_prev || pending.canon || head_seq::text || '}', 'UTF8')), 'hex');
        ids := ids || pending.id;
        seqs := seqs || head_seq;
        prevs := prevs || last_prev;
        hashes := hashes || head_hash;
    end loop;
    if cardinality(ids) = 0 then
        return 0;
    end if;
    insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind, entity_id,
                              request_id, idempotency_key, before, after, prev_hash, hash, xact_id)
    select b.seq, p.at, p.actor_id, p.actor_username, p.action, p.entity_kind, p.entity_id,
           p.request_id, p.idempotency_key, p.before, p.after, b.prev_hash, b.hash, p.xact_id
      from unnest(ids, seqs, prevs, hashes) as b (id, seq, prev_hash, hash)
      join audit_pending p on p.id = b.id
     order by b.seq;
    delete from audit_pending where id = any (ids);
    update audit_chain_head set seq = head_seq, prev_hash = last_prev, hash = head_hash where id;
    if announce then
        perform pg_notify('stockpile_audit_chain', head_seq::text);
    end if;
    return cardinality(ids);
end $$;
