-- Ledger triggers fire even with `session_replication_role = replica`, the switch a
-- superuser (or a logical-replication apply worker) uses to skip ordinary triggers: the
-- ledger stays append-only and balances keep moving only through it. (A superuser can
-- still drop the triggers; that is a schema change, and it shows in the DDL log.)
alter table stock_movements enable always trigger stock_movements_apply;
alter table stock_movements enable always trigger stock_movements_append_only;
alter table stock_movements enable always trigger stock_movements_no_truncate;
alter table stock_lots enable always trigger stock_lots_guard_balance;
