-- Every ledger row and every audit event remembers the transaction that wrote it. An
-- audit event is written in the same transaction as the change it records, so a ledger
-- movement whose transaction has no audit event was written behind the audit trail's
-- back: `stockpile audit verify` reports it.
alter table stock_movements add column xact_id xid8 not null default pg_current_xact_id();
alter table audit_events add column xact_id xid8 not null default pg_current_xact_id();
create index stock_movements_xact_idx on stock_movements (xact_id);
create index audit_events_xact_idx on audit_events (xact_id);
