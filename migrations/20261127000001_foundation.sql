-- Stockpile foundation schema: catalogue, warehouses, lots, the append-only ledger,
-- users, and the audit chain. Constraint names are stable: the service maps them to
-- HTTP errors by name (src/error.rs).

create table categories (
    code text primary key,
    parent_code text references categories (code),
    name_zh text not null,
    name_en text not null
);

create table items (
    id uuid primary key,
    sku text not null constraint items_sku_key unique
        constraint items_sku_format check (sku ~ '^[A-Z0-9][A-Z0-9-]{1,39}$'),
    name_zh text not null,
    name_en text not null,
    category_code text not null references categories (code),
    unit_zh text not null,
    unit_en text not null,
    spec text,
    gtin text constraint items_gtin_key unique
        constraint items_gtin_format check (gtin ~ '^[0-9]{14}$'),
    -- null: the item does not expire (tents, folding beds)
    shelf_life_days integer constraint items_shelf_life_positive check (shelf_life_days > 0),
    min_remaining_days integer not null default 0
        constraint items_min_remaining_nonneg check (min_remaining_days >= 0),
    alert_days integer not null default 0
        constraint items_alert_days_nonneg check (alert_days >= 0),
    storage_class text not null default 'ambient'
        constraint items_storage_class check (storage_class in ('ambient', 'cool', 'frozen')),
    -- Sphere-derived planning norm: {qty, per_persons, per_days|null, basis}
    need_norm jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table warehouses (
    id uuid primary key,
    code text not null constraint warehouses_code_key unique
        constraint warehouses_code_format check (code ~ '^[A-Z0-9][A-Z0-9-]{1,39}$'),
    name_zh text not null,
    name_en text not null,
    lat double precision not null constraint warehouses_lat_range check (lat between -90 and 90),
    lon double precision not null constraint warehouses_lon_range check (lon between -180 and 180),
    city text not null,
    district text,
    tier text not null
        constraint warehouses_tier check (tier in ('regional_centre', 'city', 'district', 'community')),
    status text not null default 'active'
        constraint warehouses_status check (status in ('active', 'inactive')),
    handling_minutes integer not null default 30
        constraint warehouses_handling_nonneg check (handling_minutes >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table users (
    id uuid primary key,
    username text not null constraint users_username_key unique
        constraint users_username_format check (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name text not null,
    role text not null
        constraint users_role check (role in ('admin', 'clerk', 'dispatcher', 'auditor', 'system')),
    password_hash text,
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- The built-in actor for work no person did: migrations, demo seeding, expiry sweeps.
-- It has no password and can never sign in.
insert into users (id, username, display_name, role, password_hash, active)
values ('00000000-0000-0000-0000-000000000001', 'system', 'Stockpile system', 'system', null, false);

create table user_warehouses (
    user_id uuid not null references users (id) on delete cascade,
    warehouse_id uuid not null references warehouses (id),
    primary key (user_id, warehouse_id)
);

create table stock_lots (
    id uuid primary key,
    item_id uuid not null references items (id),
    warehouse_id uuid not null references warehouses (id),
    lot_code text not null constraint stock_lots_lot_code_format check (length(lot_code) between 1 and 40),
    expires_on date,
    on_hand bigint not null default 0 constraint stock_lots_on_hand_nonneg check (on_hand >= 0),
    reserved bigint not null default 0
        constraint stock_lots_reserved_range check (reserved >= 0 and reserved <= on_hand),
    status text not null default 'available'
        constraint stock_lots_status check (status in ('available', 'quarantined')),
    received_on date not null,
    source text not null default 'supplier',
    donor text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint stock_lots_identity_key unique (item_id, warehouse_id, lot_code)
);
create index stock_lots_warehouse_item_idx on stock_lots (warehouse_id, item_id);
create index stock_lots_item_idx on stock_lots (item_id);
create index stock_lots_expires_idx on stock_lots (expires_on);

-- The append-only stock ledger. Balances on stock_lots move ONLY through rows here:
-- the before-insert trigger applies each row's deltas to its lot, so a lot's balance is
-- always the sum of its movements, and a delta that would make it negative fails
-- the lot's check constraints and with them the whole statement.
create table stock_movements (
    id bigint generated always as identity primary key,
    lot_id uuid not null references stock_lots (id),
    kind text not null constraint stock_movements_kind check (kind in (
        'receipt', 'issue', 'transfer_out', 'transfer_in', 'transfer_return',
        'adjustment', 'count_adjustment', 'reserve', 'release', 'dispatch', 'seed')),
    qty bigint not null,
    reserved_delta bigint not null default 0,
    on_hand_after bigint not null default 0,
    reserved_after bigint not null default 0,
    reason text,
    note text,
    ref_kind text,
    ref_id uuid,
    actor_id uuid not null references users (id),
    request_id text,
    idempotency_key text,
    created_at timestamptz not null default now(),
    constraint stock_movements_nonzero check (qty <> 0 or reserved_delta <> 0)
);
create index stock_movements_lot_idx on stock_movements (lot_id, id);
create index stock_movements_created_idx on stock_movements (created_at, id);

create function stock_movements_apply() returns trigger language plpgsql as $$
begin
    update stock_lots
       set on_hand = on_hand + new.qty,
           reserved = reserved + new.reserved_delta,
           updated_at = now()
     where id = new.lot_id
    returning on_hand, reserved into new.on_hand_after, new.reserved_after;
    if not found then
        raise exception 'lot % does not exist', new.lot_id using errcode = 'foreign_key_violation';
    end if;
    return new;
end $$;

create trigger stock_movements_apply before insert on stock_movements
    for each row execute function stock_movements_apply();

create function forbid_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end $$;

create trigger stock_movements_append_only before update or delete on stock_movements
    for each row execute function forbid_change();
create trigger stock_movements_no_truncate before truncate on stock_movements
    for each statement execute function forbid_change();

-- Balances may only be changed by the ledger trigger above (trigger depth 2).
create function stock_lots_guard_balance() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        if new.on_hand <> 0 or new.reserved <> 0 then
            raise exception 'a lot starts empty; stock arrives through stock_movements'
                using errcode = 'check_violation';
        end if;
    elsif (new.on_hand <> old.on_hand or new.reserved <> old.reserved) and pg_trigger_depth() < 2 then
        raise exception 'lot balances change only through stock_movements'
            using errcode = 'check_violation';
    end if;
    return new;
end $$;

create trigger stock_lots_guard_balance before insert or update on stock_lots
    for each row execute function stock_lots_guard_balance();

-- Minimum stock per warehouse and item that ordinary (non-critical) allocation must not touch.
create table reserve_levels (
    warehouse_id uuid not null references warehouses (id),
    item_id uuid not null references items (id),
    min_qty bigint not null constraint reserve_levels_min_nonneg check (min_qty >= 0),
    updated_at timestamptz not null default now(),
    primary key (warehouse_id, item_id)
);

-- Idempotency: the first request with a key stores its response; retries replay it.
-- The row is written in the same transaction as the effect, so a failed request
-- leaves no key behind and a concurrent retry waits on the unique index.
create table idempotency_keys (
    user_id uuid not null references users (id),
    key text not null,
    request_hash text not null,
    response_status smallint not null default 0,
    response_body jsonb,
    created_at timestamptz not null default now(),
    primary key (user_id, key)
);
create index idempotency_keys_created_idx on idempotency_keys (created_at);

-- Tamper-evident audit chain. seq is gapless because audit_chain_head is locked and
-- advanced in the same transaction as every event.
create table audit_chain_head (
    id boolean primary key default true constraint audit_chain_head_single check (id),
    seq bigint not null,
    hash text not null
);
insert into audit_chain_head (id, seq, hash) values (true, 0, repeat('0', 64));

create table audit_events (
    seq bigint primary key,
    at timestamptz not null,
    actor_id uuid not null references users (id),
    actor_username text not null,
    action text not null,
    entity_kind text not null,
    entity_id text not null,
    request_id text,
    idempotency_key text,
    before jsonb,
    after jsonb,
    prev_hash text not null,
    hash text not null
);
create index audit_events_at_idx on audit_events (at);
create index audit_events_entity_idx on audit_events (entity_kind, entity_id);
create index audit_events_actor_idx on audit_events (actor_id);

create trigger audit_events_append_only before update or delete on audit_events
    for each row execute function forbid_change();
create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function forbid_change();
