-- pgbench: the work of benches/load/issue.sql in two statements, each its own transaction,
-- as benches/load/bare_server.rs runs it on POST /issue-two-statements/{n}: read the lot;
-- then lock it, check that its on-hand balance is still what was read, and append the
-- ledger row and the audit event only if it is. Variables as for issue.sql.
select l.id as lot_id, i.sku, l.warehouse_id, l.lot_code, l.expires_on, l.on_hand, l.reserved, l.status
  from stock_lots l join items i on i.id = l.item_id
 where l.id = any(array[(select id from stock_lots where item_id = :item and warehouse_id = :wh_id
                                                     and lot_code = 'PGB-' || :client_id)])
 order by l.id \gset
with locked as (
    select id from stock_lots where id = any(array[:lot_id]::uuid[]) order by id for update),
unchanged as (
    select count(*) = 1 as ok
      from stock_lots l join locked using (id)
      join unnest(array[:lot_id]::uuid[], array[:on_hand]::bigint[]) as s(id, on_hand) on s.id = l.id
     where l.on_hand = s.on_hand),
moved as (
    insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                 actor_id, request_id, idempotency_key)
    select lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id, actor_id, request_id, idempotency_key
      from unnest(array[:lot_id]::uuid[], array['issue'], array[-1]::bigint[], array[0]::bigint[],
                  array['load test'], array[null]::text[], array['issue'], array[gen_random_uuid()],
                  array[:actor_id::uuid], array[gen_random_uuid()::text], array[null]::text[])
           with ordinality as t(lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                actor_id, request_id, idempotency_key, ord)
     where (select ok from unchanged)
     order by ord
    returning id, on_hand_after),
event as (
    insert into audit_pending (canon, at, actor_id, actor_username, action, entity_kind,
                               entity_id, request_id, idempotency_key, before, after)
    select :canon, now(), :actor_id::uuid, 'bench-clerk', 'stock.issue', 'issue', gen_random_uuid()::text,
           gen_random_uuid()::text, null, null,
           jsonb_build_object('warehouse', 'JM-JH-RC', 'lines', jsonb_build_array(jsonb_build_object(
                  'lot_id', :lot_id::text, 'qty', -1, 'reason', 'load test', 'on_hand', :on_hand - 1)))
     where (select ok from unchanged))
select (select ok from unchanged) as ok, (select on_hand_after from moved) as on_hand;
