-- Experiment (issue 21 §2), NOT SAFE: measured, then refused by the fault matrix.
--
-- A transaction that records an audit event commits without waiting for its WAL flush;
-- its answer waits for a chain batch that commits synchronously after it, and WAL is
-- flushed in order, so in the normal case the batch's flush makes the writer durable
-- before the answer. At 8 clients it lifted receipts from 0.54–0.65 to 0.78–0.83 of
-- unchained, and issues from 0.58–0.63 to 0.69–0.80 (docs/performance.md).
--
-- The fault matrix (benches/faults/run.sh) then lost 1 acknowledged issue after a
-- kill -9 of the postmaster and 2 after a failover: a waiter is released by *a batch
-- that started after its commit*, and after a crash the next such batch runs on the
-- restarted server, where the unflushed commit no longer exists. Safe needs the waiter
-- to prove its batch ran in the same server lifetime as its commit (for example the
-- chainer's connection generation, captured before the handler runs), and writers of
-- a process whose chainer does not lead to stay durable. Apply with
-- BENCH_SQL=benches/load/experiments/async_until_chained.sql benches/load/stock_ops.sh.
create function audit_pending_async() returns trigger language plpgsql as $$
begin
    perform set_config('synchronous_commit', 'off', true);
    return null;
end $$;
create trigger audit_pending_async after insert on audit_pending
    for each statement execute function audit_pending_async();
