-- Compaction moves each cell's short-dated cut-off to the deployment's today, given by
-- the service, instead of PostgreSQL's `current_date`.
--
-- The service's dates are the deployment's calendar (`--tz`, Asia/Shanghai by default),
-- and it asks a cell's short-dated stock before today + the item's minimum remaining
-- days. Compaction moved the cut-off to `current_date` + those days, and `current_date` is
-- the session's time zone's (UTC on a default cluster). For eight hours a day, 00:00 to
-- 08:00 in Shanghai, the two dates differed by one, so every read of every cell probed
-- its lots for the day between: still exact (stock_cell_moved adds or takes away that
-- day), but at 500 warehouses it took a plan's cell statement from about 5 to 8 ms, in
-- the hours a typhoon that made landfall at night is dispatched.
--
-- Same body as migration 210, with `p_today` for `current_date`. The one-argument form
-- goes, so no caller can move the cut-off to another calendar's day.
drop function stock_cells_compact();

create function stock_cells_compact(p_today date) returns bigint language plpgsql as $$
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
               p_today + greatest(i.min_remaining_days, 0) as short_to
          from stock_cells c join items i on i.id = c.item_id
         where c.short_before <> p_today + greatest(i.min_remaining_days, 0)
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
