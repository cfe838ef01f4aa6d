-- pgbench: the SQL work of one POST /api/v1/incidents/{id}/requests (one line of one unit,
-- priority high, no Idempotency-Key), statement for statement as the service does it in
-- steady state (the bearer token comes from the service's session cache, the requested
-- items from its item cache (src/stock/item_cache.rs), the road network is parsed once
-- per process): the three reads the plan needs (allocation::db::planner_places: the
-- incident, network version and closures, warehouses and reserve levels, as one row of
-- typed arrays; planner_cells: every cell's totals; planner_lots: the lots of the cells
-- drawn from), then the one statement of
-- allocation::db::write_plan_if_available (src/allocation/db.rs), which takes its inputs
-- in parameter order, locks the (warehouse, item) cell's row and the picked lot, re-checks the pick and the
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
       lv.qty as level_qty
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
              where r.item_id = any(array[:item_id]::uuid[])) lv;
-- allocation::db::planner_cells, every warehouse arriving today.
with
pairs as (
    select w.id as warehouse_id, (:item_id)::uuid as item_id, (:sku)::text as sku, true as arrives,
           current_date as required, row_number() over (order by w.code) as n
      from warehouses w),
totals as (
    select item_id, warehouse_id, sum(on_hand)::int8 as on_hand, sum(reserved)::int8 as reserved,
           sum(quarantined)::int8 as quarantined
      from (select item_id, warehouse_id, on_hand, reserved, quarantined
              from stock_cells where item_id = any(array[:item_id]::uuid[])
            union all
            select item_id, warehouse_id, on_hand, reserved, quarantined
              from stock_cell_changes where item_id = any(array[:item_id]::uuid[])) t
     group by item_id, warehouse_id),
held as (
    select p.n, p.warehouse_id, p.item_id, p.sku, p.arrives,
           coalesce(p.required, 'infinity') as required, t.on_hand, t.reserved, t.quarantined,
           coalesce(s.short_before, '-infinity') as cut, coalesce(s.short_available, 0) as cut_short
      from pairs p
      join totals t on t.item_id = p.item_id and t.warehouse_id = p.warehouse_id
      left join stock_cells s on s.item_id = p.item_id and s.warehouse_id = p.warehouse_id
     where t.on_hand + t.quarantined > 0),
-- Short-dated stock before `required`: the cell's kept figure before its own
-- cut-off, the changes not folded yet before it, and the pickable lots between
-- the two dates (added when the cut-off is earlier, taken off when later).
cells as (
    select h.n, h.warehouse_id, h.sku, h.on_hand, h.reserved, h.quarantined,
           case when not h.arrives then 0 else
               h.cut_short
               + coalesce((select sum(d.on_hand - d.reserved) from stock_cell_changes d
                            where d.item_id = h.item_id and d.warehouse_id = h.warehouse_id
                              and d.expires_on < h.cut), 0)
               + coalesce((select sum(case when l.expires_on < h.required
                                           then l.on_hand - l.reserved
                                           else l.reserved - l.on_hand end)
                             from stock_lots l
                            where l.item_id = h.item_id and l.warehouse_id = h.warehouse_id
                              and l.status = 'available' and l.on_hand > l.reserved
                              and l.expires_on >= least(h.cut, h.required)
                              and l.expires_on < greatest(h.cut, h.required)), 0)
           end::int8 as short
      from held h)
select coalesce(array_agg(warehouse_id order by n), '{}'), coalesce(array_agg(sku order by n), '{}'),
       coalesce(array_agg(on_hand + quarantined order by n), '{}'), coalesce(array_agg(quarantined order by n), '{}'),
       coalesce(array_agg(on_hand - reserved order by n), '{}'), coalesce(array_agg(reserved order by n), '{}'),
       coalesce(array_agg(short order by n), '{}')
  from cells;
-- allocation::db::planner_lots: the depot's lots for a draw of one unit.
select coalesce(array_agg(id order by k), '{}'), coalesce(array_agg(lot_code order by k), '{}'),
       coalesce(array_agg(expires_on order by k), '{}'), coalesce(array_agg(on_hand order by k), '{}'),
       coalesce(array_agg(reserved order by k), '{}')
  from stock_fefo_lots(:item_id, :wh, current_date, 1) with ordinality as l(id, lot_code, expires_on, on_hand, reserved, k);
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
                         array[1]::int8[], array[1]::int8[], array[(:explanation)::text]::text[])
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
cell_rows as (
    select s.item_id, s.warehouse_id, s.version
      from stock_cells s
     where (select levels_apply from rule)
       and (s.warehouse_id, s.item_id) in (select warehouse_id, item_id from cell_takes)
     order by s.item_id, s.warehouse_id
       for update),
cell_seen as (
    select s.item_id, s.warehouse_id, s.version
      from stock_cells s
     where (s.warehouse_id, s.item_id) in (select warehouse_id, item_id from cell_takes)),
-- Lock the plan's lots, in id order, and re-check the plan on them.
locked as (
    select l.id, l.warehouse_id, l.item_id, l.on_hand, l.reserved,
           l.status = 'quarantined' as quarantined,
           greatest(l.on_hand - l.reserved, 0) as available
      from stock_lots l
     where l.id in (select lot_id from new_reservations)
       and (l.warehouse_id, l.item_id) in (select warehouse_id, item_id from cell_takes)
       and (select count(*) from cell_rows) >= 0
     order by l.id
       for update of l),
-- Each cell's available stock (Σ available of its non-quarantined lots) from the
-- totals the database keeps, as of this statement's snapshot: with the cell
-- locked and its version unmoved, no reservation drew from it since.
cells as (
    select c.taken, coalesce(t.available, 0) as available,
           greatest(coalesce(lv.min_qty, 0), 0) as level
      from cell_takes c
      left join lateral (
           select sum(x.on_hand - x.reserved) as available
             from (select s.on_hand, s.reserved from stock_cells s
                    where s.item_id = c.item_id and s.warehouse_id = c.warehouse_id
                   union all
                   select d.on_hand, d.reserved from stock_cell_changes d
                    where d.item_id = c.item_id and d.warehouse_id = c.warehouse_id) x) t on true
      left join reserve_levels lv on lv.warehouse_id = c.warehouse_id and lv.item_id = c.item_id),
verdict as (
    select not exists (select 1
                         from new_reservations w left join locked k on k.id = w.lot_id
                        where k.id is null or k.quarantined or k.available < w.qty)
           and (not (select levels_apply from rule)
                or (not exists (select 1 from cells where available - taken < level)
                    and (select count(*) from cell_rows)
                        = (select count(*) from (select distinct warehouse_id, item_id from cell_takes) d)
                    and not exists (select 1 from cell_rows r
                                      join cell_seen s on s.item_id = r.item_id
                                                      and s.warehouse_id = r.warehouse_id
                                     where s.version <> r.version)))
           as ok),
bump as (
    update stock_cells s set version = s.version + 1
      from cell_rows r
     where s.item_id = r.item_id and s.warehouse_id = r.warehouse_id
       and (select ok from verdict)),
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
    select (select id from new_request), line_no, item_id, sku, requested, reserved, explanation::json
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
