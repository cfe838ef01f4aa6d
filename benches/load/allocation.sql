-- pgbench: the SQL work of one POST /api/v1/incidents/{id}/requests (one line of one unit,
-- priority high, no Idempotency-Key), statement for statement as the service does it in
-- steady state (the bearer token comes from the service's session cache, the requested
-- items from its item cache (src/stock/item_cache.rs), the road network is parsed once
-- per process): the one read the plan needs (the incident, network version and closures,
-- warehouses, reserve levels and lots, in one statement), then the one statement of
-- allocation::db::insert_request_if_available (src/allocation/db.rs), which locks the
-- (warehouse, item) cell, re-checks the pick and the reserve level, and writes the
-- request with its line, pick and reserve ledger row and its audit event (chained at
-- commit) only if the plan still holds. pgbench's arrays are built in the statement, so
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
select 0 as part, w.id as warehouse_id, w.code, w.status, w.lat, w.lon, w.handling_minutes,
       null::uuid as lot_id, null::text as sku, null::text as lot_code, null::date as expires_on,
       null::int8 as qty, null::int8 as reserved, null::jsonb as closures, null::jsonb as area
  from warehouses w
union all
select 1, r.warehouse_id, null, null, null, null, null, null, i.sku, null, null, r.min_qty, null, null, null
  from reserve_levels r join items i on i.id = r.item_id
 where r.item_id = any(array[:item_id]::uuid[])
union all
select 2, l.warehouse_id, null, l.status, null, null, null, l.id, i.sku, l.lot_code, l.expires_on,
       l.on_hand, l.reserved, null, null
  from stock_lots l join items i on i.id = l.item_id
 where l.item_id = any(array[:item_id]::uuid[]) and l.on_hand > 0
union all
select 3, null, null, inc.status, inc.lat, inc.lon, null, null, null, null, null,
       (select max(id) from road_networks), null,
       coalesce((select jsonb_agg(jsonb_build_object('edge_ids', edge_ids, 'area', area) order by id)
                   from road_closures
                  where starts_at <= now() and (ends_at is null or ends_at > now())),
                '[]'::jsonb),
       inc.affected_area
  from (select) as one left join incidents inc on inc.id = :incident
 order by 1, 3, 8;
with ids as (
    select gen_random_uuid() as rid
), pick as (
    select id as lot_id from stock_lots
     where warehouse_id = :wh and item_id = :item_id and status = 'available' and on_hand - reserved > 0
     order by expires_on nulls last, lot_code limit 1
), locked as (
    select l.id, l.warehouse_id, l.item_id, l.on_hand, l.reserved, l.status, coalesce(lv.min_qty, 0) as level
      from stock_lots l
      left join reserve_levels lv on lv.warehouse_id = l.warehouse_id and lv.item_id = l.item_id
     where (l.warehouse_id, l.item_id) in (select * from unnest(array[:wh]::uuid[], array[:item_id]::uuid[]))
     order by l.id
       for update of l
), verdict as (
    select not exists (
               select 1 from unnest(array[(select lot_id from pick)]::uuid[], array[1]::int8[]) as w(lot_id, qty)
                 left join locked k on k.id = w.lot_id
                where k.id is null or k.status <> 'available' or greatest(k.on_hand - k.reserved, 0) < w.qty)
           and (not true or not exists (
               select 1 from unnest(array[:wh]::uuid[], array[:item_id]::uuid[], array[1]::int8[]) as c(warehouse_id, item_id, taken)
                where (select coalesce(sum(greatest(k.on_hand - k.reserved, 0)) filter (where k.status = 'available'), 0)
                         from locked k
                        where k.warehouse_id = c.warehouse_id and k.item_id = c.item_id) - c.taken
                      < (select greatest(coalesce(max(k.level), 0), 0)
                           from locked k
                          where k.warehouse_id = c.warehouse_id and k.item_id = c.item_id)))
           as ok
), r as (
    insert into allocation_requests (id, incident_id, priority, needed_by, include_affected_warehouses, status, created_by)
    select rid, :incident, 'high', null, false, 'reserved', :actor_id from ids where (select ok from verdict)
    returning id, created_at, updated_at
), l as (
    insert into allocation_request_lines (request_id, line_no, item_id, sku, requested, reserved, explanation)
    select rid, 0, :item_id, :sku, 1, 1, (:explanation)::jsonb from ids where (select ok from verdict)
), p as (
    insert into allocation_picks (request_id, line_no, lot_id, warehouse_id, qty, eta_minutes, distance_km, late)
    select rid, 0, pick.lot_id, :wh, 1, 33.5, 3.4, false from ids, pick where (select ok from verdict)
), m as (
    insert into stock_movements (lot_id, kind, qty, reserved_delta, ref_kind, ref_id,
                                 actor_id, request_id, idempotency_key)
    select lot_id, 'reserve', 0, qty, 'allocation_request', (select rid from ids), :actor_id,
           gen_random_uuid()::text, null
      from unnest(array[(select lot_id from pick)]::uuid[], array[1]::int8[]) with ordinality as t(lot_id, qty, n)
     where (select ok from verdict)
     order by n
), event as (
    insert into audit_pending (canon, at, actor_id, actor_username, action, entity_kind,
                               entity_id, request_id, idempotency_key, before, after)
    select :canon, now(), (:actor_id)::uuid, 'bench-dispatcher', 'allocation.request', 'allocation_request', rid::text,
           gen_random_uuid()::text, null, null,
           jsonb_build_object('id', rid::text, 'incident_id', (:incident)::text, 'priority', 'high', 'status', 'reserved',
                              'lines', jsonb_build_array(jsonb_build_object('sku', (:sku)::text, 'requested', 1, 'reserved', 1,
                                  'picks', jsonb_build_array(jsonb_build_object('warehouse_code', 'JM-XH-01',
                                      'lot_id', (select lot_id from pick)::text, 'qty', 1)))),
                              'shipments', '[]'::jsonb)
      from ids
     where (select ok from verdict)
)
select created_at, updated_at from r;
