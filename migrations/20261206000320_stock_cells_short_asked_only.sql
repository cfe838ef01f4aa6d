-- stock_cells_short() (migration 310) read the pending changes of every cell of the
-- items asked, each joined to its cell's kept row found by the items alone: all 500
-- cells of an item at 500 warehouses, even when one cell was asked. The reservation
-- statement asks for the cells a plan draws from, and when those were many small
-- cells (28 for a 5,000-unit request over lots of 50-305 units) it paid that 28 times:
-- a request over 100 such lots took 18-19 ms against 12 ms before migration 310.
--
-- Now only the changes of the cells asked are read, each joined to its own cell's row
-- by key, and the reservation statement asks once for all its cells (one call with
-- arrays, as the planner's statement does). Same arithmetic: the kept figure before the
-- cell's cut-off, the pending changes before it, and the lots between the cut-off and
-- the dates asked.
create or replace function stock_cells_short(p_item uuid[], p_warehouse uuid[], p_before date[],
                                             p_also_before date[])
returns table (n bigint, short bigint, also_short bigint) language sql stable as $$
    -- Pending changes of the cells asked before their cell's cut-off, per cell, in one
    -- pass. Materialized: the row estimates of an array argument are guesses, and a
    -- nested loop over this as a subquery would run it once per cell.
    with pending as materialized (
        select d.item_id, d.warehouse_id, sum(d.on_hand - d.reserved) as changes
          from stock_cell_changes d
          join stock_cells c on c.item_id = d.item_id and c.warehouse_id = d.warehouse_id
         where d.item_id = any(p_item)
           and (d.item_id, d.warehouse_id) in (select * from unnest(p_item, p_warehouse))
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
