-- Audit events join the hash chain at commit, not when they are written.
--
-- The chain is a single row (audit_chain_head), so whoever advances it holds that row
-- lock until commit and every writer waits in line. Appending from the application
-- meant holding it across a round trip to the service (the event insert, then COMMIT),
-- and that wait, not CPU, capped write throughput. Now a transaction writes its events
-- to audit_pending (no lock), and a deferred constraint trigger moves each one into
-- audit_events when COMMIT runs: it advances the head, computes the hash in the
-- database and deletes the pending row, all inside COMMIT. The head is then locked only
-- for that and the WAL flush. Events are still written in the same transaction as the
-- change they record; a rollback leaves neither. audit_events stays insert-only.
--
-- `canon` is the event's canonical JSON up to the value of `seq` (which sorts last),
-- made by src/audit/mod.rs, so that hash = sha256(prev_hash || canon || seq || '}') is
-- exactly what `stockpile audit verify` recomputes.

alter table audit_chain_head add column prev_hash text;
update audit_chain_head
   set prev_hash = coalesce((select prev_hash from audit_events order by seq desc limit 1), repeat('0', 64));
alter table audit_chain_head alter column prev_hash set not null;

create table audit_pending (
    id bigint generated always as identity primary key,
    at timestamptz not null,
    actor_id uuid not null,
    actor_username text not null,
    action text not null,
    entity_kind text not null,
    entity_id text not null,
    request_id text,
    idempotency_key text,
    before jsonb,
    after jsonb,
    canon text not null
);

-- enable_seqscan off: the pending table is nearly always empty, so a plan made when it
-- had one page would scan it sequentially, and keep doing so as it fills with dead rows
-- between vacuums; the primary key is always the right path.
create function audit_chain_pending() returns trigger language plpgsql
set enable_seqscan = off as $$
declare
    head record;
begin
    update audit_chain_head
       set prev_hash = hash,
           seq = seq + 1,
           hash = encode(sha256(convert_to(hash || new.canon || (seq + 1)::text || '}', 'UTF8')), 'hex')
     where id
    returning seq, prev_hash, hash into strict head;
    insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind, entity_id,
                              request_id, idempotency_key, before, after, prev_hash, hash)
    values (head.seq, new.at, new.actor_id, new.actor_username, new.action, new.entity_kind,
            new.entity_id, new.request_id, new.idempotency_key, new.before, new.after,
            head.prev_hash, head.hash);
    delete from audit_pending where id = new.id;
    return null;
end $$;

create constraint trigger audit_pending_chain after insert on audit_pending
    deferrable initially deferred
    for each row execute function audit_chain_pending();
