-- The shape of a reserve network beyond the demo: which warehouse resupplies which,
-- agreement stock at partner stores, and reserve targets above the floor.
--
-- * `warehouses.parent_id`: the warehouse that resupplies this one first (a community
--   point's district depot, a district depot's city depot or the reserve centre).
--   Replenishment draws from the parent before any other source. Optional: the centre
--   has none, and a network without a hierarchy replenishes from the nearest stock.
-- * tier `agreement`: capacity held at a partner store under an annual agreement
--   (协议储备), not owned lots (reserve-policy.md, "Agreement reserve").
-- * `reserve_levels.target_qty`: the quantity replenishment refills a cell to when it
--   has fallen below its level (`min_qty`). Null: refill to the level itself.
alter table warehouses
    add column parent_id uuid references warehouses (id),
    add constraint warehouses_parent_not_self check (parent_id <> id),
    drop constraint warehouses_tier,
    add constraint warehouses_tier
        check (tier in ('regional_centre', 'city', 'district', 'community', 'agreement'));

create index warehouses_parent_idx on warehouses (parent_id) where parent_id is not null;

alter table reserve_levels
    add column target_qty bigint,
    add constraint reserve_levels_target_at_least_level
        check (target_qty is null or target_qty >= min_qty);
