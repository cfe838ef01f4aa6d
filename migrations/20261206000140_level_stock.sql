-- Reserve floors count usable stock only (crates/core/src/rules.rs, `level_stock`): a
-- lot counts toward its cell's reserve level when it is not quarantined and is still
-- usable for the item's minimum remaining days from today. Expired and short-dated
-- stock on the shelf is no reserve, and must not let ordinary requests draw good stock
-- below the true level.
--
-- stock_cell_short(item, warehouse, before) is the available stock of a cell's
-- non-quarantined lots expiring before `before`, read as the planner reads short-dated
-- stock (migration stock_cells, section 4): the kept figure before the cell's own
-- cut-off, the changes not folded yet before it, and the lots between the two dates.
-- With `before` = today + the item's minimum remaining days it is the stock that does
-- not count toward the level; with arrival + the same days, the stock too short-dated
-- to send. A cell without a stock_cells row holds nothing and gives 0.
create function stock_cell_short(p_item uuid, p_warehouse uuid, p_before date)
returns bigint language sql stable as $$
    select (coalesce(c.short_available, 0)
            + coalesce((select sum(d.on_hand - d.reserved) from stock_cell_changes d
                         where d.item_id = p_item and d.warehouse_id = p_warehouse
                           and d.expires_on < c.cut), 0)
            + stock_cell_between(p_item, p_warehouse, c.cut, p_before)
            - stock_cell_between(p_item, p_warehouse, p_before, c.cut))::bigint
      from (select coalesce((select s.short_before from stock_cells s
                              where s.item_id = p_item and s.warehouse_id = p_warehouse),
                            '-infinity'::date) as cut,
                   (select s.short_available from stock_cells s
                     where s.item_id = p_item and s.warehouse_id = p_warehouse) as short_available) c
$$;
