-- pgbench: the SQL work of one POST /api/v1/warehouses/{code}/receipts (one line into an
-- existing lot, no Idempotency-Key), as the service does it in steady state: the one
-- statement of stock::db::receive_into_existing_lots (src/stock/db.rs), which locks the
-- lot, checks the line against it, and appends the ledger row and the audit event
-- (which joins the chain at commit, src/audit/db.rs) only if it fits. No bearer-token,
-- warehouse or item lookup: the service answers them from its session cache
-- (src/auth/cache.rs), its warehouse ids (src/warehouses/ids.rs) and its item cache
-- (src/stock/item_cache.rs) after their first use. Each client has its own lot
-- PGB-<client_id> (made by stock_ops.sh), like the HTTP load clients; the lot already
-- exists (as in the HTTP scenario). Run with -M prepared (sqlx prepares its statements
-- too). Variables: -D actor_id=<uuid of bench-clerk> -D item=<uuid of TENT-12M2-SGL>
-- -D wh_id=<uuid of JM-JH-RC> -D canon=<a canonical event JSON head, as long as the
-- service's>
with line as (
    select * from unnest(array[:item]::uuid[], array['PGB-' || :client_id], array[null]::date[],
                         array[1]::bigint[], array['supplier'], array[null]::text[])
           with ordinality as t(item_id, lot_code, expires_on, qty, source, note, ord)),
locked as (
    select l.id, l.item_id, l.lot_code, l.expires_on, l.on_hand, l.status
      from stock_lots l
     where l.warehouse_id = :wh_id
       and (l.item_id, l.lot_code) in (select item_id, lot_code from line)
     order by l.id
       for update),
checked as (
    select k.id, k.status, k.expires_on is not distinct from line.expires_on as same_expiry,
           k.on_hand + sum(line.qty) over (partition by line.item_id, line.lot_code order by line.ord) as after
      from line left join locked k on k.item_id = line.item_id and k.lot_code = line.lot_code),
verdict as (
    select coalesce(bool_and(c.id is not null and c.status = 'available' and c.same_expiry
                             and c.after <= 9223372036854775807), false) as ok
      from checked c),
moved as (
    insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                 actor_id, request_id, idempotency_key)
    select k.id, 'receipt', line.qty, 0, line.source, line.note, 'receipt', gen_random_uuid(),
           :actor_id::uuid, gen_random_uuid()::text, null
      from line join locked k on k.item_id = line.item_id and k.lot_code = line.lot_code
     where (select ok from verdict)
     order by line.ord
    returning id, lot_id, on_hand_after, reserved_after),
event as (
    insert into audit_pending (canon, at, actor_id, actor_username, action, entity_kind,
                               entity_id, request_id, idempotency_key, before, after)
    select :canon, now(), :actor_id::uuid, 'bench-clerk', 'stock.receipt', 'receipt', gen_random_uuid()::text,
           gen_random_uuid()::text, null, null,
           jsonb_build_object('warehouse', 'JM-JH-RC', 'lines', jsonb_build_array(jsonb_build_object(
                  'sku', 'TENT-12M2-SGL', 'lot_code', 'PGB-' || :client_id, 'qty', 1, 'created', false,
                  'status', 'available')))
     where (select ok from verdict))
select id as movement_id, lot_id, on_hand_after as on_hand, reserved_after as reserved
  from moved
 order by id;
