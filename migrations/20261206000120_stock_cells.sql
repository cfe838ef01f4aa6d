-- What the allocation planner reads per (warehouse, item) cell, kept so that a plan costs
-- the same whether an item has a hundred lots in the network or a hundred thousand.
--
-- 1. Cell totals. The planner's explanation of a warehouse it passed over states the
--    cell's totals (held, quarantined, available, reserved for others), and its reserve
--    floor is measured against the cell's available stock. Summing them from the lots
--    costs one row per lot. Instead, a trigger on stock_lots appends each lot change's
--    effect on its cell's totals to stock_cell_changes (an insert, so writers to one
--    cell never wait for each other), and stock_cells_compact() folds the appended
--    changes into stock_cells (the serving process calls it every second). A cell's
--    totals are its stock_cells row plus its pending changes; one statement sees both
--    consistently, before or after a compaction.
--
-- 2. Lots that can still be picked. stock_lots_pickable_idx holds only lots that are not
--    quarantined and have stock not yet promised, in first-expiry-first-out order per
--    cell, so the planner reads each cell's usable lots in FEFO order and stops as soon
--    as they cover the demand (stock_fefo_lots), and sums short-dated stock without
--    visiting empty or quarantined lots.
--
-- 3. A lock per cell. A reservation that must keep a cell's reserve floor locks the
--    cell's row instead of every lot of the cell, so that it costs the same however many
--    lots the cell holds (see `version`).
--
-- 4. Short-dated stock. A cell's stock expiring before a date the lots must still be
--    usable on (arrival + the item's minimum remaining days) is also explained. Each
--    stock_cells row keeps `short_available`, the available stock of its lots expiring
--    before its own date `short_before`; compaction moves that date to today + the
--    item's minimum remaining days, reading only the lots in between. A reader that
--    needs the figure before another date adds or subtracts the few lots between the
--    two dates (allocation::db::planner_cells), so the cost follows days, not lots.
--
-- The totals follow the planner's definitions (crates/core/src/planner, `Tally`):
-- held = on_hand + quarantined, available = on_hand − reserved, reserved for others =
-- reserved, where on_hand and reserved are over the cell's non-quarantined lots and
-- quarantined is the on_hand of its quarantined lots (their reservations count nowhere).

-- No foreign keys: a row exists because a lot of that item and warehouse does, and the
-- lots have them. (Keys here would also put the table in every truncate cascade from
-- items or warehouses, where the compaction's locks could deadlock with the truncate.)
create table stock_cells (
    item_id uuid not null,
    warehouse_id uuid not null,
    on_hand bigint not null default 0,
    reserved bigint not null default 0,
    quarantined bigint not null default 0,
    short_before date not null default '-infinity',
    short_available bigint not null default 0,
    -- Bumped by every reservation that checks the cell's reserve floor, under the row's
    -- lock (allocation::db::write_plan_if_available): a reservation that finds it moved
    -- since its snapshot knows another one drew from the cell meanwhile, and replans.
    version bigint not null default 0,
    primary key (item_id, warehouse_id)
);

create table stock_cell_changes (
    id bigint generated always as identity primary key,
    item_id uuid not null,
    warehouse_id uuid not null,
    expires_on date,
    on_hand bigint not null,
    reserved bigint not null,
    quarantined bigint not null
);
create index stock_cell_changes_cell_idx on stock_cell_changes (item_id, warehouse_id);

create function stock_cells_track() returns trigger language plpgsql as $$
declare
    d_on_hand bigint := 0;
    d_reserved bigint := 0;
    d_quarantined bigint := 0;
begin
    if tg_op in ('UPDATE', 'DELETE') then
        if old.status = 'quarantined' then
            d_quarantined := d_quarantined - old.on_hand;
        else
            d_on_hand := d_on_hand - old.on_hand;
            d_reserved := d_reserved - old.reserved;
        end if;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        if new.status = 'quarantined' then
            d_quarantined := d_quarantined + new.on_hand;
        else
            d_on_hand := d_on_hand + new.on_hand;
            d_reserved := d_reserved + new.reserved;
        end if;
    end if;
    if tg_op = 'UPDATE' and (new.item_id, new.warehouse_id, new.expires_on)
                             is distinct from (old.item_id, old.warehouse_id, old.expires_on) then
        raise exception 'a lot never changes its item, warehouse or expiry';
    end if;
    if tg_op = 'INSERT' then
        -- Every cell with a lot has its row from the start: reservations lock it.
        insert into stock_cells (item_id, warehouse_id) values (new.item_id, new.warehouse_id)
            on conflict do nothing;
    end if;
    if d_on_hand <> 0 or d_reserved <> 0 or d_quarantined <> 0 then
        insert into stock_cell_changes (item_id, warehouse_id, expires_on, on_hand, reserved, quarantined)
        values (coalesce(new.item_id, old.item_id), coalesce(new.warehouse_id, old.warehouse_id),
                coalesce(new.expires_on, old.expires_on), d_on_hand, d_reserved, d_quarantined);
    end if;
    return null;
end $$;

create trigger stock_cells_track after insert or update of on_hand, reserved, status, expires_on,
    item_id, warehouse_id or delete
    on stock_lots for each row execute function stock_cells_track();
-- Like the ledger triggers: the totals follow the lots even under session_replication_role = replica.
alter table stock_lots enable always trigger stock_cells_track;

create index stock_lots_pickable_idx on stock_lots (item_id, warehouse_id, expires_on, lot_code collate "C", id)
    where status = 'available' and on_hand > reserved;

-- Σ available of a cell's non-quarantined lots expiring on or after `p_from` and before
-- `p_to` (0 when p_to <= p_from): the lots between two short-dated cut-off dates.
create function stock_cell_between(p_item uuid, p_warehouse uuid, p_from date, p_to date)
returns bigint language sql stable as $$
    select coalesce(sum(l.on_hand - l.reserved), 0)::bigint
      from stock_lots l
     where l.item_id = p_item and l.warehouse_id = p_warehouse
       and l.status = 'available' and l.on_hand > l.reserved
       and l.expires_on >= p_from and l.expires_on < p_to
$$;

-- Folds every committed change into stock_cells, then moves each cell's short-dated
-- cut-off to today + the item's minimum remaining days, in one transaction; returns how
-- many changes it folded. One compaction at a time (a second caller returns 0 at once),
-- so two never lock cells in different orders.
create function stock_cells_compact() returns bigint language plpgsql as $$
declare
    folded bigint;
begin
    if not pg_try_advisory_xact_lock(hashtext('stock_cells_compact')) then
        return 0;
    end if;
    with gone as (
        delete from stock_cell_changes
        returning item_id, warehouse_id, expires_on, on_hand, reserved, quarantined),
    summed as (
        select g.item_id, g.warehouse_id, sum(g.on_hand) as on_hand, sum(g.reserved) as reserved,
               sum(g.quarantined) as quarantined,
               coalesce(sum(g.on_hand - g.reserved)
                            filter (where g.expires_on < coalesce(c.short_before, '-infinity')), 0) as short,
               count(*) as n
          from gone g
          left join stock_cells c on c.item_id = g.item_id and c.warehouse_id = g.warehouse_id
         group by g.item_id, g.warehouse_id),
    merged as (
        insert into stock_cells (item_id, warehouse_id, on_hand, reserved, quarantined, short_available)
        select item_id, warehouse_id, on_hand, reserved, quarantined, short from summed
         order by item_id, warehouse_id
            on conflict (item_id, warehouse_id) do update
           set on_hand = stock_cells.on_hand + excluded.on_hand,
               reserved = stock_cells.reserved + excluded.reserved,
               quarantined = stock_cells.quarantined + excluded.quarantined,
               short_available = stock_cells.short_available + excluded.short_available)
    select coalesce(sum(n), 0) into folded from summed;

    with target as (
        select c.item_id, c.warehouse_id, c.short_before,
               current_date + greatest(i.min_remaining_days, 0) as short_to
          from stock_cells c join items i on i.id = c.item_id
         where c.short_before <> current_date + greatest(i.min_remaining_days, 0)
         order by c.item_id, c.warehouse_id
           for update of c)
    update stock_cells c
       set short_available = c.short_available
               + stock_cell_between(t.item_id, t.warehouse_id, t.short_before, t.short_to)
               - stock_cell_between(t.item_id, t.warehouse_id, t.short_to, t.short_before),
           short_before = t.short_to
      from target t
     where c.item_id = t.item_id and c.warehouse_id = t.warehouse_id;
    return folded;
end $$;

-- The totals as they stand, with every cut-off at -infinity; the first compaction moves
-- the cut-offs (and the service compacts at start).
insert into stock_cells (item_id, warehouse_id, on_hand, reserved, quarantined)
select item_id, warehouse_id,
       coalesce(sum(on_hand) filter (where status <> 'quarantined'), 0),
       coalesce(sum(reserved) filter (where status <> 'quarantined'), 0),
       coalesce(sum(on_hand) filter (where status = 'quarantined'), 0)
  from stock_lots group by item_id, warehouse_id;

-- A cell's lots that are usable on arrival (not quarantined, with stock not yet promised,
-- and either never expiring or expiring on or after `required`; with `required` null,
-- only lots that never expire), in FEFO order (earliest expiry first, no expiry last,
-- then lot code, then id), up to and including the first lot at which their available
-- stock covers `demand`. The pure statement of this cut, and the property test that
-- planning on it gives the plan planning on every lot gives, are in
-- crates/core/src/planner (`CellStock`); tests/api/differential_allocation.rs proves
-- this function returns what that statement does.
create function stock_fefo_lots(p_item uuid, p_warehouse uuid, p_required date, p_demand bigint)
returns table (id uuid, lot_code text, expires_on date, on_hand bigint, reserved bigint)
language plpgsql stable as $$
declare
    covered bigint := 0;
    lot record;
begin
    if p_demand <= 0 then
        return;
    end if;
    -- Two scans of the index, so that each starts where its lots start: the dated lots
    -- from `required` on, then the lots that never expire (which sort last).
    for lot in
        select l.id, l.lot_code, l.expires_on, l.on_hand, l.reserved
          from stock_lots l
         where l.item_id = p_item and l.warehouse_id = p_warehouse
           and l.status = 'available' and l.on_hand > l.reserved
           and l.expires_on >= p_required
         order by l.expires_on, l.lot_code collate "C", l.id
    loop
        id := lot.id; lot_code := lot.lot_code; expires_on := lot.expires_on;
        on_hand := lot.on_hand; reserved := lot.reserved;
        return next;
        covered := covered + (lot.on_hand - lot.reserved);
        if covered >= p_demand then
            return;
        end if;
    end loop;
    for lot in
        select l.id, l.lot_code, l.expires_on, l.on_hand, l.reserved
          from stock_lots l
         where l.item_id = p_item and l.warehouse_id = p_warehouse
           and l.status = 'available' and l.on_hand > l.reserved
           and l.expires_on is null
         order by l.lot_code collate "C", l.id
    loop
        id := lot.id; lot_code := lot.lot_code; expires_on := lot.expires_on;
        on_hand := lot.on_hand; reserved := lot.reserved;
        return next;
        covered := covered + (lot.on_hand - lot.reserved);
        exit when covered >= p_demand;
    end loop;
end $$;
