-- A cell's short-dated stock before two dates, as an inlinable set-returning SQL
-- function, so that a plan over many cells reads it in its own statement rather than
-- through two function calls per cell.
--
-- `allocation::db::planner_cells` asks, for every cell that holds the item, its short-dated
-- stock on arrival and today: two `stock_cell_short()` calls per cell. PL/pgSQL keeps its
-- plans (migration 240), but each call still runs three statements through SPI, about
-- 16 µs; at 500 warehouses that was 16 of the 18 ms the statement took, and allocation
-- cost grew with the network's warehouses far more than with its lots. PostgreSQL
-- inlines a `stable`, non-strict SQL function that returns a set when it is called in
-- FROM (`left join lateral stock_cell_short_rows(...) on true`): its subqueries become
-- part of the caller's plan, run per cell as index probes. Both dates share the probes
-- of the cell's kept row and of its changes, and a date equal to the cell's cut-off
-- (today's, for every cell compaction has moved today) needs no probe of its lots.
--
-- The arithmetic is written once, here, and replaces stock_cell_short() (migration
-- 240), with the same sum. tests/api/differential_stock_cells.rs proves the totals equal
-- the planner's.
-- The lots of a cell between its cut-off `p_cut` and `p_before`, available stock added
-- (cut-off earlier) or taken away (cut-off later); none, and no probe, when the two
-- dates are equal (or `p_before` is null).
create function stock_cell_moved(p_item uuid, p_warehouse uuid, p_cut date, p_before date)
returns table (moved bigint) language sql stable as $$
    select coalesce(sum(case when l.expires_on < p_before then l.on_hand - l.reserved
                             else -(l.on_hand - l.reserved) end), 0)::bigint
      from stock_lots l
     where p_before <> p_cut
       and l.item_id = p_item and l.warehouse_id = p_warehouse
       and l.status = 'available' and l.on_hand > l.reserved
       and l.expires_on >= least(p_cut, p_before) and l.expires_on < greatest(p_cut, p_before)
$$;

-- A cell's short-dated stock before `p_before` and before `p_also_before`: the kept
-- figure before the cell's cut-off, its uncompacted changes before it, and the lots
-- between (stock_cell_moved). The planner's statement asks both (arrival, today); the
-- reservation statement passes one date twice.
create function stock_cell_short_rows(p_item uuid, p_warehouse uuid, p_before date, p_also_before date)
returns table (short bigint, also_short bigint) language sql stable as $$
    select (c.kept + ch.changes + m.moved)::bigint, (c.kept + ch.changes + n.moved)::bigint
      from (select coalesce(s.short_available, 0) as kept,
                   coalesce(s.short_before, '-infinity'::date) as cut
              from (select) one
              left join stock_cells s on s.item_id = p_item and s.warehouse_id = p_warehouse) c
     -- Joined, not a scalar subquery of `c`: both sums read the one probe.
     cross join lateral (select coalesce(sum(d.on_hand - d.reserved), 0) as changes
                           from stock_cell_changes d
                          where d.item_id = p_item and d.warehouse_id = p_warehouse
                            and d.expires_on < c.cut) ch
     cross join lateral stock_cell_moved(p_item, p_warehouse, c.cut, p_before) m
     cross join lateral stock_cell_moved(p_item, p_warehouse, c.cut, p_also_before) n
$$;

-- Its one other caller, the reservation statement, reads the new function the same
-- way, so the scalar one goes.
drop function stock_cell_short(uuid, uuid, date);
