-- stock_cells_compact() ran its two steps as two statements, each with its own snapshot
-- (READ COMMITTED): step 1 folds the pending changes it deletes, step 2 moves each cell's
-- short-dated cut-off and adds the lots between the old and the new cut-off, read live.
-- A lot change committed between the two was then counted twice: in the kept figure
-- (step 2 read the lot after it) and again as a pending change (step 1 never folded it),
-- and a reader saw more short-dated stock than there is. With reserve floors measured on
-- usable stock, that could hold a cell's good stock back.
--
-- The kept figure must be the FOLDED available stock of the lots before the cut-off. So
-- step 2 now adds the lots between the two dates as folded: read live, less the changes
-- still pending for them, in the same snapshot (one statement). Readers are unchanged.

-- Σ (on_hand − reserved) of a cell's pending changes for lots expiring on or after
-- `p_from` and before `p_to` (0 when p_to <= p_from).
create function stock_cell_pending_between(p_item uuid, p_warehouse uuid, p_from date, p_to date)
returns bigint language sql stable as $$
    select coalesce(sum(d.on_hand - d.reserved), 0)::bigint
      from stock_cell_changes d
     where d.item_id = p_item and d.warehouse_id = p_warehouse
       and d.expires_on >= p_from and d.expires_on < p_to
$$;

create or replace function stock_cells_compact() returns bigint language plpgsql as $$
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

    -- One statement, one snapshot: the live lots between the two cut-offs less what of
    -- them is still pending is exactly what the kept figure lacks.
    with target as (
        select c.item_id, c.warehouse_id, c.short_before,
               current_date + greatest(i.min_remaining_days, 0) as short_to
          from stock_cells c join items i on i.id = c.item_id
         where c.short_before <> current_date + greatest(i.min_remaining_days, 0)
         order by c.item_id, c.warehouse_id
           for update of c)
    update stock_cells c
       set short_available = c.short_available
               + (stock_cell_between(t.item_id, t.warehouse_id, t.short_before, t.short_to)
                  - stock_cell_pending_between(t.item_id, t.warehouse_id, t.short_before, t.short_to))
               - (stock_cell_between(t.item_id, t.warehouse_id, t.short_to, t.short_before)
                  - stock_cell_pending_between(t.item_id, t.warehouse_id, t.short_to, t.short_before)),
           short_before = t.short_to
      from target t
     where c.item_id = t.item_id and c.warehouse_id = t.warehouse_id;
    return folded;
end $$;
