-- pgbench: the SQL work of one POST /api/v1/warehouses/{code}/receipts (one line into an
-- existing lot), as the service does it in steady state: one transaction that locks the
-- lot, appends the ledger row and the audit event, which joins the chain at commit
-- (src/audit/db.rs). No bearer-token, warehouse or item lookup: the service answers them
-- from its session cache (src/auth/cache.rs), its warehouse ids (src/warehouses/ids.rs)
-- and its item cache (src/stock/item_cache.rs) after their first use. Each client has
-- its own lot PGB-<client_id> (made by stock_ops.sh), like the HTTP load clients; the
-- lot already exists (as in the HTTP scenario). Run with -M prepared (sqlx prepares its
-- statements too). Variables: -D actor_id=<uuid of bench-clerk> -D item=<uuid of
-- TENT-12M2-SGL> -D wh_id=<uuid of JM-JH-RC> -D canon=<a canonical event JSON head, as
-- long as the service's>
begin;
select l.id as lot_id, i.sku, l.warehouse_id, l.lot_code, l.expires_on, l.on_hand, l.reserved, l.status
  from stock_lots l join items i on i.id = l.item_id
 where l.warehouse_id = :wh_id
   and (l.item_id, l.lot_code) in (select * from unnest(array[:item]::uuid[], array['PGB-' || :client_id]))
 order by l.id
   for update of l \gset
insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                             actor_id, request_id, idempotency_key)
select lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id, actor_id, request_id, idempotency_key
  from unnest(array[:lot_id]::uuid[], array['receipt'], array[1]::bigint[], array[0]::bigint[],
              array['supplier'], array[null]::text[], array['receipt'], array[gen_random_uuid()],
              array[:actor_id::uuid], array[gen_random_uuid()::text], array[null]::text[])
       with ordinality as t(lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                            actor_id, request_id, idempotency_key, ord)
 order by ord
returning id, on_hand_after, reserved_after;
insert into audit_pending (canon, at, actor_id, actor_username, action, entity_kind,
                           entity_id, request_id, idempotency_key, before, after)
values (:canon, now(), :actor_id::uuid, 'bench-clerk', 'stock.receipt', 'receipt', gen_random_uuid()::text,
        gen_random_uuid()::text, null, null,
        jsonb_build_object('warehouse', 'JM-JH-RC', 'lines', jsonb_build_array(jsonb_build_object(
                  'lot_id', :lot_id::text, 'qty', 1, 'sku', 'TENT-12M2-SGL', 'created', false, 'status', 'available', 'on_hand', 0))));
commit;
