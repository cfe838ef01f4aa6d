-- pgbench: the SQL work of one POST /api/v1/warehouses/{code}/issues (one line of one
-- unit, no Idempotency-Key), as the service does it in steady state: the one statement
-- of stock::db::apply_checked_movements (src/stock/db.rs), which locks the lot, checks
-- the line, and appends the ledger row and the audit event (which joins the chain at
-- commit, src/audit/db.rs) only if it passes. No bearer-token or warehouse lookup: the
-- service answers them from its session cache (src/auth/cache.rs) and its warehouse ids
-- (src/warehouses/ids.rs) after their first use. Each client has its own lot
-- PGB-<client_id> (made by stock_ops.sh), like the HTTP load clients; the service is
-- given the lot's id, so finding it here is the one extra step. Run with -M prepared
-- (sqlx prepares its statements too). Variables: -D actor_id=<uuid of bench-clerk> -D
-- item=<uuid of TENT-12M2-SGL> -D wh_id=<uuid of JM-JH-RC> -D canon=<a canonical event
-- JSON head, as long as the service's>
with line as (
    select * from unnest(array[(select id from stock_lots where item_id = :item and warehouse_id = :wh_id
                                                            and lot_code = 'PGB-' || :client_id)],
                         array[-1]::bigint[], array['load test'], array[null]::text[])
           with ordinality as t(lot_id, delta, reason, note, ord)),
locked as (
    select l.id, l.warehouse_id, l.lot_code, l.expires_on, l.on_hand, l.reserved, l.status, i.sku
      from stock_lots l join items i on i.id = l.item_id
     where l.id = any(array(select lot_id from line))
     order by l.id
       for update of l),
checked as (
    select k.id, k.warehouse_id, k.expires_on, k.reserved, k.status, line.delta,
           k.on_hand + sum(line.delta) over (partition by line.lot_id order by line.ord) as after
      from line left join locked k on k.id = line.lot_id),
verdict as (
    select coalesce(bool_and(c.id is not null and c.warehouse_id = :wh_id
                             and c.status = 'available'
                             and (c.expires_on is null or c.expires_on >= current_date)
                             and (c.delta >= 0 or c.after - c.reserved >= 0)
                             and c.after <= 9223372036854775807), false) as ok
      from checked c),
moved as (
    insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                 actor_id, request_id, idempotency_key)
    select lot_id, 'issue', delta, 0, reason, note, 'issue', gen_random_uuid(), :actor_id::uuid,
           gen_random_uuid()::text, null
      from line
     where (select ok from verdict)
     order by ord
    returning id, lot_id, on_hand_after, reserved_after),
event as (
    insert into audit_pending (canon, at, actor_id, actor_username, action, entity_kind,
                               entity_id, request_id, idempotency_key, before, after)
    select :canon, now(), :actor_id::uuid, 'bench-clerk', 'stock.issue', 'issue', gen_random_uuid()::text,
           gen_random_uuid()::text, null, null,
           jsonb_build_object('warehouse', 'JM-JH-RC', 'lines', jsonb_build_array(jsonb_build_object(
                  'lot_id', (select lot_id from line)::text, 'qty', -1, 'reason', 'load test')))
     where (select ok from verdict))
select m.id as movement_id, m.lot_id, k.sku, k.lot_code, m.on_hand_after as on_hand, m.reserved_after as reserved
  from moved m join locked k on k.id = m.lot_id
 order by m.id;
