-- A retired item is neither received nor requested, enforced where rows are written
-- (issue 19). The services check `items.status` first against their item caches, to name
-- the offending line; but a cache learns of a retirement only after it commits, so a
-- receipt or request already past that check could still land after the retirement.
--
-- Here each writing transaction reads the status of the items it receives or requests
-- with a share lock on their rows, held until it commits:
-- - a retirement (any update of the item row, and the `for update` that `catalog`'s
--   retire takes first) waits for every receipt and request in flight on that item, so
--   they commit first;
-- - a receipt or request that comes after a retirement has taken its lock waits for it,
--   then reads `retired` (under read committed, a locking read sees the newest committed
--   row) and is refused, writing nothing.
-- So no receipt or request of an item commits after the retirement of that item.
-- Issues, transfers, adjustments and write-offs of its stock are not receipts and stay
-- allowed.
--
-- Refusals name the constraint `*_item_active` and carry the SKU in DETAIL, so that the
-- service can point at the line that named it.

-- Statement-level, over the rows inserted: one locking read per statement whatever its
-- size (an opening-stock import inserts 100,000 receipt rows in one), items in id order.
create function stock_movements_item_active() returns trigger language plpgsql as $$
declare
    item record;
begin
    -- No filter on the status here: the lock must be taken on every row, and a filter
    -- would be checked against the row as it was before a retirement in progress
    -- (taking no lock on it) rather than against the row the lock returns.
    for item in
        select i.sku, i.status
          from items i
         where i.id in (select l.item_id
                          from inserted m join stock_lots l on l.id = m.lot_id
                         where m.kind = 'receipt')
         order by i.id
           for share
    loop
        if item.status = 'retired' then
            raise exception 'item % is retired: it is no longer received (reactivate it first)', item.sku
                using errcode = 'check_violation', constraint = 'stock_movements_item_active',
                      detail = item.sku;
        end if;
    end loop;
    return null;
end $$;

create trigger stock_movements_item_active after insert on stock_movements
    referencing new table as inserted
    for each statement execute function stock_movements_item_active();
alter table stock_movements enable always trigger stock_movements_item_active;

-- Per row: a request has few lines, and lines that an upsert updates (a replan adding to
-- `reserved`) are not new requests of the item and must not be refused.
create function allocation_request_lines_item_active() returns trigger language plpgsql as $$
declare
    item_status text;
begin
    select status into item_status from items where id = new.item_id for share;
    if item_status = 'retired' then
        raise exception 'item % is retired: it can no longer be requested', new.sku
            using errcode = 'check_violation', constraint = 'allocation_request_lines_item_active',
                  detail = new.sku;
    end if;
    return null;
end $$;

create trigger allocation_request_lines_item_active after insert on allocation_request_lines
    for each row execute function allocation_request_lines_item_active();
alter table allocation_request_lines enable always trigger allocation_request_lines_item_active;
