-- A cell's state (its totals and its short-dated stock) in one function, read in time
-- linear in the cells asked and the pending changes of their items, whatever PostgreSQL
-- guesses of the size of the change queue.
--
-- stock_cells_short() (migration 320) found the pending changes of the cells asked with
-- a semi-join of stock_cell_changes to the asked cells (`(item_id, warehouse_id) in
-- (select * from unnest(...))`). The queue is emptied every second and vacuumed (and
-- truncated to no pages) after every 1,000 changes; a prepared statement planned right
-- after a vacuum sees an empty table, and keeps that plan until the next vacuum: a
-- nested loop, which scans every asked cell for every pending change. Under a stream of
-- requests over 500 warehouses, each drawing 28 small lots, the planner's cell statement
-- climbed from 3 ms to 15 ms between two vacuums (390 changes × 486 cells = 189,150 rows
-- compared in 16 ms, logged by auto_explain). The reservation statement's own read of the
-- cell totals used the same semi-join, against its few cells.
--
-- Here the asked cells (each with its kept row) and the pending changes of their items
-- are never joined to each other: they are one list, partitioned by cell, and each asked
-- row adds its cell's pending changes (a window sum). Sorting that list is the work,
-- linear in its length (up to a log), whatever the plan. A cell asked twice is answered
-- twice. (Grouping the list by cell instead needs an array per cell for the asks of it,
-- and array_agg keeps a memory context per group: at 500 cells the hash aggregate
-- spilled to disk.) Each change finds its cell's cut-off by key (an index probe per
-- change, or a hash of the items' cells).
--
-- It also gives the "kept + pending" totals one home. They were written twice: in
-- allocation::db::planner_cells (on hand, reserved, quarantined, for the plan and its
-- explanation) and in the reservation statement (available, for the reserve floor).
-- Both now read this function, as they read stock_cells_short() before, which goes.
-- tests/api/differential_stock_cells.rs proves its totals and short-dated stock equal
-- the planner's rule (`planner::cell_stock`) on random lots, changes and compactions.
--
-- Per cell asked (`n`, its position in the arrays): the cell's on hand, reserved and
-- quarantined totals (planner::Tally: on hand and reserved over its lots not in
-- quarantine, quarantined = on hand of its quarantined lots), and the available stock of
-- its lots not in quarantine expiring before `p_before` and before `p_also_before`
-- (nothing for a null date). A cell without a kept row is left out: it never held a lot
-- (stock_cells_track() adds the row with the cell's first lot, and no row is deleted).
create function stock_cells_state(p_item uuid[], p_warehouse uuid[], p_before date[],
                                  p_also_before date[])
returns table (n bigint, on_hand bigint, reserved bigint, quarantined bigint,
               short bigint, also_short bigint)
language sql stable as $$
    select w.n, w.on_hand::bigint, w.reserved::bigint, w.quarantined::bigint,
           (w.short + m.moved)::bigint, (w.short + o.moved)::bigint
      from (select x.n, x.item_id, x.warehouse_id, x.before, x.also_before, x.cut,
                   x.kept_on_hand + sum(x.on_hand) over cell as on_hand,
                   x.kept_reserved + sum(x.reserved) over cell as reserved,
                   x.kept_quarantined + sum(x.quarantined) over cell as quarantined,
                   x.kept_short + sum(x.short) over cell as short
              from (-- The cells asked that have a kept row (by key: a probe per cell, or
                    -- one hash of the items' cells; stock_cells is not a queue, and its
                    -- statistics hold). p_item names an item per cell: each item once.
                    select a.item_id, a.warehouse_id, a.n, a.before, a.also_before,
                           s.short_before as cut, s.on_hand as kept_on_hand,
                           s.reserved as kept_reserved, s.quarantined as kept_quarantined,
                           s.short_available as kept_short,
                           0::bigint as on_hand, 0::bigint as reserved, 0::bigint as quarantined,
                           0::bigint as short
                      from unnest(p_item, p_warehouse, p_before, p_also_before) with ordinality
                                as a(item_id, warehouse_id, before, also_before, n)
                      join stock_cells s
                             on s.item_id = a.item_id and s.warehouse_id = a.warehouse_id
                            and s.item_id = any(array(select distinct unnest(p_item)))
                    union all
                    -- The pending changes of the items' cells; the part before the cell's
                    -- cut-off is short-dated, as the kept figure is.
                    select d.item_id, d.warehouse_id, null, null, null, null, null, null, null, null,
                           d.on_hand, d.reserved, d.quarantined,
                           case when d.expires_on < c.short_before then d.on_hand - d.reserved
                                else 0 end
                      from stock_cell_changes d
                      left join stock_cells c
                             on c.item_id = d.item_id and c.warehouse_id = d.warehouse_id
                            and c.item_id = any(array(select distinct unnest(p_item)))
                     where d.item_id = any(array(select distinct unnest(p_item)))) x
            window cell as (partition by x.item_id, x.warehouse_id)) w
     -- The lots between the cut-off and each date asked (none, and no probe, when the
     -- date is the cut-off).
     cross join lateral stock_cell_moved(w.item_id, w.warehouse_id, w.cut, w.before) m
     cross join lateral stock_cell_moved(w.item_id, w.warehouse_id, w.cut, w.also_before) o
     -- Not pushed into the window's subquery (n is not what it partitions by).
     where w.n is not null
$$;

drop function stock_cells_short(uuid[], uuid[], date[], date[]);
