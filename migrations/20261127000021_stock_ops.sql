-- Clerk stock operations: the production date a receipt may carry, and an index for the
-- movement log's per-kind filter.
alter table stock_lots add column produced_on date;
alter table stock_lots add constraint stock_lots_produced_before_expiry
    check (produced_on is null or expires_on is null or produced_on <= expires_on);
create index stock_movements_kind_idx on stock_movements (kind, id);
