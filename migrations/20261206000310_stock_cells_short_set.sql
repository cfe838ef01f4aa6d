-- The short-dated stock of many cells in one set-based read: each pending change is
-- matched to its cell's cut-off once, instead of every cell scanning the pending changes.
--
-- stock_cell_short_rows() (migration 280) is inlined per cell. Its pending-change probe
-- is a subquery on stock_cell_changes per cell. That table is a queue, emptied by
-- compaction every second, so its statistics nearly always say "empty" and PostgreSQL
-- plans a sequential scan of it per cell. While requests reserve stock, the changes
-- between two compactions number in the hundreds, and a plan over 500 cells then read
-- 500 × that many rows: the cell statement of a request took 9 ms where a preview on a
-- quiet network took 3.
--
-- stock_cells_short() takes the cells as arrays and reads the pending changes of their
-- items once, each joined to its own cell's kept row for the cut-off. Whatever plan
-- PostgreSQL picks, the work is cells + changes, not their product. The lots between a
-- cell's cut-off and a date asked are still index probes per cell (stock_cell_moved),
-- and none when the date is the cut-off. Like migration 280's function it is a
-- `stable`, non-strict SQL function returning a set, so it is inlined into the caller.
--
-- The arithmetic stays in one place: both callers (allocation::db::planner_cells and the
-- reservation statement) use this function, and stock_cell_short_rows() goes.
-- tests/api/differential_stock_cells.rs proves the totals equal the planner's rule.
create function stock_cells_short(p_item uuid[], p_warehouse uuid[], p_before date[],
                                  p_also_before date[])
returns table (n bigint, short bigint, also_short bigint) language sql stable as $$
    -- Pending changes before their cell's cut-off, per cell, in one pass. Materialized:
    -- the row estimates of an array argument are guesses, and a nested loop over this
    -- as a subquery would run it once per cell.
    with pending as materialized (
        select d.item_id, d.warehouse_id, sum(d.on_hand - d.reserved) as changes
          from stock_cell_changes d
          join stock_cells c on c.item_id = d.item_id and c.warehouse_id = d.warehouse_id
         where d.item_id = any(p_item) and c.item_id = any(p_item)
           and d.expires_on < c.short_before
         group by d.item_id, d.warehouse_id)
    select a.n,
           (coalesce(s.short_available, 0) + coalesce(ch.changes, 0) + m.moved)::bigint,
           (coalesce(s.short_available, 0) + coalesce(ch.changes, 0) + o.moved)::bigint
      from unnest(p_item, p_warehouse, p_before, p_also_before) with ordinality
                as a(item_id, warehouse_id, before, also_before, n)
      left join stock_cells s on s.item_id = a.item_id and s.warehouse_id = a.warehouse_id
      left join pending ch on ch.item_id = a.item_id and ch.warehouse_id = a.warehouse_id
     cross join lateral stock_cell_moved(a.item_id, a.warehouse_id,
                                         coalesce(s.short_before, '-infinity'::date), a.before) m
     cross join lateral stock_cell_moved(a.item_id, a.warehouse_id,
                                         coalesce(s.short_before, '-infinity'::date), a.also_before) o
$$;

drop function stock_cell_short_rows(uuid, uuid, date, date);
