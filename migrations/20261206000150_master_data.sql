-- Master data managed in the running system (issue 19): items with several GTINs that can
-- be retired, warehouses whose resupply parents never form a cycle, and bulk imports that
-- are idempotent by file.

-- A retired item is neither received nor requested; its lots stay and can still be
-- issued, transferred and written off.
alter table items add column status text not null default 'active'
    constraint items_status check (status in ('active', 'retired'));

-- Every GTIN of every item (GTIN-14), unique across items. `items.gtin` stays the item's
-- primary GTIN, the first it lists, and is always one of its rows here (the trigger
-- below), so everything that reads `items.gtin` keeps its meaning.
create table item_gtins (
    gtin text constraint item_gtins_pkey primary key
        constraint item_gtins_format check (gtin ~ '^[0-9]{14}$'),
    item_id uuid not null references items (id),
    created_at timestamptz not null default now()
);
create index item_gtins_item_idx on item_gtins (item_id);
insert into item_gtins (gtin, item_id) select gtin, id from items where gtin is not null;

create function items_primary_gtin() returns trigger language plpgsql as $$
begin
    insert into item_gtins (gtin, item_id) values (new.gtin, new.id) on conflict (gtin) do nothing;
    if not exists (select from item_gtins where gtin = new.gtin and item_id = new.id) then
        raise exception 'GTIN % belongs to another item', new.gtin
            using errcode = 'unique_violation', constraint = 'item_gtins_pkey';
    end if;
    return null;
end $$;

create trigger items_primary_gtin after insert or update of gtin on items
    for each row when (new.gtin is not null) execute function items_primary_gtin();
alter table items enable always trigger items_primary_gtin;

-- GTIN changes reach the per-process item caches like item changes (catalog_notify).
create trigger item_gtins_notify after insert or update or delete or truncate on item_gtins
    for each statement execute function notify_catalog_change();
alter table item_gtins enable always trigger item_gtins_notify;

-- A warehouse's resupply chain (`parent_id`) never comes back to it. Changes to parents
-- take one lock, so two concurrent changes cannot each close half of a cycle.
create function warehouses_parent_acyclic() returns trigger language plpgsql as $$
declare
    cur uuid := new.parent_id;
    steps integer := 0;
begin
    perform pg_advisory_xact_lock(hashtext('warehouses_parent_acyclic'));
    while cur is not null and steps < 100000 loop
        if cur = new.id then
            raise exception 'warehouse % would resupply itself through its parents', new.code
                using errcode = 'check_violation', constraint = 'warehouses_parent_acyclic';
        end if;
        select parent_id into cur from warehouses where id = cur;
        steps := steps + 1;
    end loop;
    return new;
end $$;

create trigger warehouses_parent_acyclic before insert or update of parent_id on warehouses
    for each row when (new.parent_id is not null) execute function warehouses_parent_acyclic();
alter table warehouses enable always trigger warehouses_parent_acyclic;

-- One row per imported file: the same file (kind and SHA-256 of its bytes) imported
-- again replays this report instead of writing twice.
create table imports (
    id uuid primary key,
    kind text not null
        constraint imports_kind check (kind in ('opening_stock', 'items', 'warehouses', 'reserve_levels')),
    sha256 text not null constraint imports_sha256_format check (sha256 ~ '^[0-9a-f]{64}$'),
    rows integer not null,
    report jsonb not null,
    actor_id uuid not null references users (id),
    created_at timestamptz not null default now(),
    constraint imports_file_key unique (kind, sha256)
);
