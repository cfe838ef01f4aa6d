-- pgbench: the SQL work of one POST /api/v1/incidents/{id}/requests (one line of one unit,
-- priority high, no Idempotency-Key), statement for statement as the service does it in
-- steady state (the bearer token comes from the service's session cache, the requested
-- items from its item cache (src/stock/item_cache.rs), the road network is parsed once
-- per process): the one read the plan needs (allocation::db::planner_snapshot: the
-- incident, network version and closures, warehouses, reserve levels and lots, as one
-- row of typed arrays), then the one statement of
-- allocation::db::write_plan_if_available (src/allocation/db.rs), which takes its inputs
-- in parameter order, locks the (warehouse, item) cell, re-checks the pick and the
-- reserve level, and writes the request with its line, pick and reserve ledger row and
-- its audit event (one jsonb value, expanded by a trigger and chained at commit) only if
-- the plan still holds. pgbench's arrays are built in the statement, so
-- their generic plans are chosen without the `plan_cache_mode` of the service's write
-- connections (src/db/mod.rs, WritePool). What the service computes in Rust, the plan,
-- pgbench cannot; it draws from JM-XH-01 (the nearest depot, where
-- benches/load/allocation.sh puts a bulk lot of every SKU), first expiry first, chosen
-- inside the statement, and stores an explanation as long as the service's.
-- A template: benches/load/allocation.sh writes one script per bench SKU with :item_id
-- and :sku replaced by that item's id and SKU (as the service knows them from its cache,
-- with no statement), and pgbench picks among the scripts at random.
-- Run with -M prepared (sqlx prepares its statements too). Variables: -D actor_id, -D
-- incident, -D wh (JM-XH-01's id), -D explanation (a stored line explanation), -D canon
-- (a canonical event JSON head as long as the service's).
select inc.status as incident_status, inc.lat as incident_lat,
       inc.lon as incident_lon, inc.affected_area as incident_area,
       (select max(id) from road_networks) as network_version,
       coalesce((select jsonb_agg(jsonb_build_object('edge_ids', edge_ids, 'area', area) order by id)
                   from road_closures
                  where starts_at <= now() and (ends_at is null or ends_at > now())),
                '[]'::jsonb) as closures,
       w.id as warehouse_id, w.code as warehouse_code,
       w.active as warehouse_active, w.lat as warehouse_lat, w.lon as warehouse_lon,
       w.handling_minutes as warehouse_handling_minutes,
       lv.warehouse_id as level_warehouse_id, lv.sku as level_sku,
       lv.qty as level_qty,
       l.id as lot_id, l.warehouse_id as lot_warehouse_id,
       l.sku as lot_sku, l.lot_code as lot_code,
       l.expires_on as lot_expires_on, l.on_hand as lot_on_hand,
       l.reserved as lot_reserved, l.quarantined as lot_quarantined
  from (select) as one
  left join incidents inc on inc.id = :incident
 cross join (select coalesce(array_agg(id), '{}') as id, coalesce(array_agg(code), '{}') as code,
                    coalesce(array_agg(status = 'active'), '{}') as active,
                    coalesce(array_agg(lat), '{}') as lat, coalesce(array_agg(lon), '{}') as lon,
                    coalesce(array_agg(handling_minutes), '{}') as handling_minutes
               from (select * from warehouses order by code) w) w
 cross join (select coalesce(array_agg(r.warehouse_id), '{}') as warehouse_id,
                    coalesce(array_agg(i.sku), '{}') as sku, coalesce(array_agg(r.min_qty), '{}') as qty
               from reserve_levels r join items i on i.id = r.item_id
              where r.item_id = any(array[:item_id]::uuid[])) lv
 cross join (select coalesce(array_agg(id), '{}') as id,
                    coalesce(array_agg(warehouse_id), '{}') as warehouse_id,
                    coalesce(array_agg(sku), '{}') as sku, coalesce(array_agg(lot_code), '{}') as lot_code,
                    coalesce(array_agg(expires_on), '{}') as expires_on,
                    coalesce(array_agg(on_hand), '{}') as on_hand,
                    coalesce(array_agg(reserved), '{}') as reserved,
                    coalesce(array_agg(quarantined), '{}') as quarantined
               from (select l.id, l.warehouse_id, i.sku, l.lot_code, l.expires_on, l.on_hand,
                            l.reserved, l.status = 'quarantined' as quarantined
                       from stock_lots l join items i on i.id = l.item_id
                      where l.item_id = any(array[:item_id]::uuid[]) and l.on_hand > 0
                      order by l.id) l) l;
with
-- What the service computes in Rust and binds: the ids, the pick, the event.
ids as (
    select gen_random_uuid() as rid, gen_random_uuid()::text as http_request_id
), pick as (
    select id as lot_id from stock_lots
     where warehouse_id = :wh and item_id = :item_id and status = 'available' and on_hand - reserved > 0
     order by expires_on nulls last, lot_code limit 1
),
-- The inputs, in the service's parameter order.
new_request as (
    select rid as id, (:incident)::uuid as incident_id, 'high'::text as priority,
           null::timestamptz as needed_by, false as include_affected_warehouses,
           'reserved'::text as status, (:actor_id)::uuid as created_by
      from ids),
ledger as (
    select (:actor_id)::uuid as actor_id, http_request_id as request_id, null::text as idempotency_key
      from ids),
new_lines as (
    select * from unnest(array[0]::int4[], array[:item_id]::uuid[], array[:sku]::text[],
                         array[1]::int8[], array[1]::int8[], array[(:explanation)::jsonb]::jsonb[])
               as t(line_no, item_id, sku, requested, reserved, explanation)),
new_picks as (
    select * from unnest(array[0]::int4[], array[(select lot_id from pick)]::uuid[], array[:wh]::uuid[],
                         array[1]::int8[], array[33.5]::float8[], array[3.4]::float8[], array[false]::bool[])
               with ordinality as t(line_no, lot_id, warehouse_id, qty, eta_minutes, distance_km, late, n)),
new_reservations as (
    select * from unnest(array[(select lot_id from pick)]::uuid[], array[1]::int8[])
               with ordinality as t(lot_id, qty, n)),
cell_takes as (
    select * from unnest(array[:wh]::uuid[], array[:item_id]::uuid[], array[1]::int8[])
               as t(warehouse_id, item_id, taken)),
rule as (select true as levels_apply),
new_event as (
    select jsonb_build_object(
               'at', now(), 'actor_id', (:actor_id)::uuid, 'actor_username', 'bench-dispatcher',
               'action', 'allocation.request', 'entity_kind', 'allocation_request', 'entity_id', rid::text,
               'request_id', http_request_id, 'idempotency_key', null, 'before', null,
               'after', jsonb_build_object('id', rid::text, 'incident_id', (:incident)::text, 'priority', 'high',
                                           'status', 'reserved',
                                           'lines', jsonb_build_array(jsonb_build_object(
                                               'sku', (:sku)::text, 'requested', 1, 'reserved', 1,
                                               'picks', jsonb_build_array(jsonb_build_object(
                                                   'warehouse_code', 'JM-XH-01',
                                                   'lot_id', (select lot_id from pick)::text, 'qty', 1)))),
                                           'shipments', '[]'::jsonb),
               'canon', (:canon)::text) as event
      from ids),

-- The statement itself, as in src/allocation/db.rs.
locked as (
    select l.id, l.warehouse_id, l.item_id, l.on_hand, l.reserved,
           l.status = 'quarantined' as quarantined,
           greatest(l.on_hand - l.reserved, 0) as available,
           coalesce(lv.min_qty, 0) as level
      from stock_lots l
      left join reserve_levels lv on lv.warehouse_id = l.warehouse_id and lv.item_id = l.item_id
     where (l.warehouse_id, l.item_id) in (select warehouse_id, item_id from cell_takes)
     order by l.id
       for update of l),
cells as (
    select c.taken,
           coalesce(sum(k.available) filter (where not k.quarantined), 0) as available,
           greatest(coalesce(max(k.level), 0), 0) as level
      from cell_takes c
      left join locked k on k.warehouse_id = c.warehouse_id and k.item_id = c.item_id
     group by c.warehouse_id, c.item_id, c.taken),
verdict as (
    select not exists (select 1
                         from new_reservations w left join locked k on k.id = w.lot_id
                        where k.id is null or k.quarantined or k.available < w.qty)
           and (not (select levels_apply from rule)
                or not exists (select 1 from cells where available - taken < level))
           as ok),
request as (
    insert into allocation_requests (id, incident_id, priority, needed_by,
                                     include_affected_warehouses, status, created_by)
    select id, incident_id, priority, needed_by, include_affected_warehouses, status, created_by
      from new_request
     where (select ok from verdict)
        on conflict (id) do update set status = excluded.status, updated_at = now()
    returning created_at, updated_at),
lines as (
    insert into allocation_request_lines (request_id, line_no, item_id, sku, requested,
                                          reserved, explanation)
    select (select id from new_request), line_no, item_id, sku, requested, reserved, explanation
      from new_lines
     where (select ok from verdict)
        on conflict (request_id, line_no) do update
       set reserved = allocation_request_lines.reserved + excluded.reserved,
           explanation = excluded.explanation),
picks as (
    insert into allocation_picks (request_id, line_no, lot_id, warehouse_id, qty, eta_minutes,
                                  distance_km, late)
    select (select id from new_request), line_no, lot_id, warehouse_id, qty, eta_minutes,
           distance_km, late
      from new_picks
     where (select ok from verdict)
     order by n),
reservations as (
    insert into stock_movements (lot_id, kind, qty, reserved_delta, ref_kind, ref_id,
                                 actor_id, request_id, idempotency_key)
    select w.lot_id, 'reserve', 0, w.qty, 'allocation_request', (select id from new_request),
           g.actor_id, g.request_id, g.idempotency_key
      from new_reservations w, ledger g
     where (select ok from verdict)
     order by w.n),
event as (
    insert into audit_pending (event)
    select event from new_event where event is not null and (select ok from verdict))
select created_at, updated_at from request;
