-- Every change to the catalogue's items announces itself, so that each service process
-- can cache what receipts need of items (src/stock/item_cache.rs) and still apply a
-- changed shelf-life policy at once. A statement trigger: one notification per
-- statement, and PostgreSQL folds identical notifications of one transaction into one,
-- delivered at commit.
create function notify_catalog_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('stockpile_catalog', tg_table_name);
    return null;
end $$;

create trigger items_notify after insert or update or delete or truncate on items
    for each statement execute function notify_catalog_change();
alter table items enable always trigger items_notify;
