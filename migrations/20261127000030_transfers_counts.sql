-- Transfers between warehouses and blind cycle counts. Stock moves only through
-- stock_movements; these tables record what was sent, received and counted.

create table transfers (
    id uuid primary key,
    from_warehouse_id uuid not null references warehouses (id),
    to_warehouse_id uuid not null references warehouses (id),
    status text not null default 'in_transit'
        constraint transfers_status check (status in ('in_transit', 'received', 'cancelled')),
    note text,
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    closed_by uuid references users (id),
    closed_at timestamptz,
    close_note text,
    constraint transfers_distinct_warehouses check (from_warehouse_id <> to_warehouse_id),
    constraint transfers_closed_consistent check ((status = 'in_transit') = (closed_at is null))
);
create index transfers_from_idx on transfers (from_warehouse_id, status);
create index transfers_to_idx on transfers (to_warehouse_id, status);
create index transfers_status_idx on transfers (status);

-- One line per source lot. received_qty and the destination lot are set on receipt;
-- the difference between qty and received_qty is the loss in transit, explained by
-- discrepancy_reason.
create table transfer_lines (
    transfer_id uuid not null references transfers (id),
    line_no integer not null,
    lot_id uuid not null references stock_lots (id),
    qty bigint not null constraint transfer_lines_qty_positive check (qty > 0),
    received_qty bigint
        constraint transfer_lines_received_range check (received_qty between 0 and qty),
    discrepancy_reason text
        constraint transfer_lines_discrepancy_reason check (discrepancy_reason in ('short', 'damaged', 'other')),
    dest_lot_id uuid references stock_lots (id),
    constraint transfer_lines_pkey primary key (transfer_id, line_no),
    constraint transfer_lines_lot_key unique (transfer_id, lot_id),
    constraint transfer_lines_reason_when_short check (
        received_qty is null or received_qty = qty or discrepancy_reason is not null)
);
create index transfer_lines_lot_idx on transfer_lines (lot_id);

-- A count snapshots expected quantities per lot, and the ledger high-water mark (the
-- largest stock_movements.id committed when the snapshot was taken): movements above it
-- happened while counting and are added on top of the counted quantity at posting.
create table counts (
    id uuid primary key,
    warehouse_id uuid not null references warehouses (id),
    status text not null default 'open'
        constraint counts_status check (status in ('open', 'posted')),
    skus text[],
    snapshot_movement_id bigint not null
        constraint counts_snapshot_nonneg check (snapshot_movement_id >= 0),
    opened_by uuid not null references users (id),
    opened_at timestamptz not null default now(),
    posted_by uuid references users (id),
    posted_at timestamptz,
    constraint counts_posted_consistent check ((status = 'posted') = (posted_at is not null))
);
create index counts_warehouse_idx on counts (warehouse_id, status);

create table count_lines (
    count_id uuid not null references counts (id),
    lot_id uuid not null references stock_lots (id),
    expected_qty bigint not null constraint count_lines_expected_nonneg check (expected_qty >= 0),
    counted_qty bigint constraint count_lines_counted_nonneg check (counted_qty >= 0),
    counted_by uuid references users (id),
    counted_at timestamptz,
    -- Σ movements after the snapshot, and the booked adjustment, set at posting.
    moved_after bigint,
    adjustment bigint,
    open boolean not null default true,
    constraint count_lines_pkey primary key (count_id, lot_id)
);
-- A lot is in at most one open count: two overlapping counts would each book the same
-- variance.
create unique index count_lines_open_lot_key on count_lines (lot_id) where open;
