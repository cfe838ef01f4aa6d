//! SQL for lots and the ledger. Every balance change is an inserted `stock_movements`
//! row; the database trigger applies it to the lot.

use chrono::NaiveDate;
use sqlx::PgConnection;

pub use super::levels::ReserveLevel;
use super::movement::LotOp;
pub use super::{ItemPolicy, LockedLot};
use super::{Lot, LotStatus, MovementKind, PickCandidate, Source};
use crate::ids::{ItemId, LotId, UserId, WarehouseId};

/// Filters for listing lots.
#[derive(Debug, Default)]
pub struct LotQuery<'a> {
    /// Only this warehouse.
    pub warehouse: Option<WarehouseId>,
    /// Only this item.
    pub item: Option<ItemId>,
    /// Only this category and its sub-categories.
    pub category: Option<&'a str>,
    /// Only this status.
    pub status: Option<LotStatus>,
    /// Only lots expiring between `today` and this day (inclusive).
    pub expiring_by: Option<NaiveDate>,
    /// `Some(true)`: only expired lots; `Some(false)`: only unexpired (or non-expiring).
    pub expired: Option<bool>,
    /// The deployment's today.
    pub today: NaiveDate,
    /// Keyset: lots after this id.
    pub after: Option<LotId>,
    /// Page size (plus one, to detect a next page).
    pub limit: i64,
}

/// Lots matching `q`, in id order.
pub async fn list_lots(conn: &mut PgConnection, q: &LotQuery<'_>) -> Result<Vec<Lot>, sqlx::Error> {
    sqlx::query_as!(
        Lot,
        r#"select l.id as "id: LotId", l.item_id as "item_id: ItemId", i.sku, i.name_zh as item_name_zh,
                  i.name_en as item_name_en, i.unit_zh, i.category_code,
                  l.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  l.lot_code, l.expires_on, l.on_hand, l.reserved, l.on_hand - l.reserved as "available!",
                  l.status as "status: LotStatus", l.received_on, l.source, l.donor
             from stock_lots l
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
            where ($1::uuid is null or l.warehouse_id = $1)
              and ($2::uuid is null or l.item_id = $2)
              and ($3::text is null or i.category_code = $3 or i.category_code like $3 || '-%')
              and ($4::text is null or l.status = $4)
              and ($5::date is null or (l.expires_on between $7 and $5))
              and ($6::boolean is null or ($6 and l.expires_on < $7) or (not $6 and (l.expires_on is null or l.expires_on >= $7)))
              and ($8::uuid is null or l.id > $8)
            order by l.id
            limit $9"#,
        q.warehouse as Option<WarehouseId>,
        q.item as Option<ItemId>,
        q.category,
        q.status.map(LotStatus::as_str),
        q.expiring_by,
        q.expired,
        q.today,
        q.after as Option<LotId>,
        q.limit
    )
    .fetch_all(conn)
    .await
}

/// One lot.
pub async fn lot(conn: &mut PgConnection, id: LotId) -> Result<Option<Lot>, sqlx::Error> {
    sqlx::query_as!(
        Lot,
        r#"select l.id as "id: LotId", l.item_id as "item_id: ItemId", i.sku, i.name_zh as item_name_zh,
                  i.name_en as item_name_en, i.unit_zh, i.category_code,
                  l.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  l.lot_code, l.expires_on, l.on_hand, l.reserved, l.on_hand - l.reserved as "available!",
                  l.status as "status: LotStatus", l.received_on, l.source, l.donor
             from stock_lots l
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
            where l.id = $1"#,
        id as LotId
    )
    .fetch_optional(conn)
    .await
}

/// One ledger row to append.
#[derive(Debug, Clone)]
pub struct Movement<'a> {
    /// The lot.
    pub lot: LotId,
    /// Kind (`receipt`, `issue`, …; see the `stock_movements_kind` constraint).
    pub kind: &'a str,
    /// Signed change of on hand.
    pub qty: i64,
    /// Signed change of reserved.
    pub reserved_delta: i64,
    /// Reason code.
    pub reason: Option<&'a str>,
    /// Free-text note.
    pub note: Option<&'a str>,
    /// What the movement belongs to (`transfer`, `request`, `count`, …).
    pub ref_kind: Option<&'a str>,
    /// Its id.
    pub ref_id: Option<uuid::Uuid>,
    /// Who.
    pub actor: UserId,
    /// Request id.
    pub request_id: Option<&'a str>,
    /// Idempotency key.
    pub idempotency_key: Option<&'a str>,
}

/// Balances after a movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// The ledger row id.
    pub movement_id: i64,
    /// On hand after.
    pub on_hand: i64,
    /// Reserved after.
    pub reserved: i64,
}

/// Appends a ledger row; the trigger applies it to the lot and fails the statement if a
/// balance would leave its allowed range. Lock the lot first (`for update`, id order).
pub async fn insert_movement(
    conn: &mut PgConnection,
    m: &Movement<'_>,
) -> Result<Balance, sqlx::Error> {
    let row = sqlx::query!(
        "insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                      actor_id, request_id, idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning id, on_hand_after, reserved_after",
        m.lot as LotId,
        m.kind,
        m.qty,
        m.reserved_delta,
        m.reason,
        m.note,
        m.ref_kind,
        m.ref_id,
        m.actor as UserId,
        m.request_id,
        m.idempotency_key
    )
    .fetch_one(conn)
    .await?;
    Ok(Balance {
        movement_id: row.id,
        on_hand: row.on_hand_after,
        reserved: row.reserved_after,
    })
}

/// Appends several ledger rows in one statement, in order, and returns their balances in
/// the same order. Same contract as [`insert_movement`] (lock the lots first, in id order);
/// one round trip however many lines a request has.
pub async fn insert_movements(
    conn: &mut PgConnection,
    ms: &[Movement<'_>],
) -> Result<Vec<Balance>, sqlx::Error> {
    if ms.is_empty() {
        return Ok(vec![]);
    }
    let lots: Vec<uuid::Uuid> = ms.iter().map(|m| m.lot.0).collect();
    let kinds: Vec<&str> = ms.iter().map(|m| m.kind).collect();
    let qtys: Vec<i64> = ms.iter().map(|m| m.qty).collect();
    let rds: Vec<i64> = ms.iter().map(|m| m.reserved_delta).collect();
    let reasons: Vec<Option<&str>> = ms.iter().map(|m| m.reason).collect();
    let notes: Vec<Option<&str>> = ms.iter().map(|m| m.note).collect();
    let ref_kinds: Vec<Option<&str>> = ms.iter().map(|m| m.ref_kind).collect();
    let ref_ids: Vec<Option<uuid::Uuid>> = ms.iter().map(|m| m.ref_id).collect();
    let actors: Vec<uuid::Uuid> = ms.iter().map(|m| m.actor.0).collect();
    let request_ids: Vec<Option<&str>> = ms.iter().map(|m| m.request_id).collect();
    let keys: Vec<Option<&str>> = ms.iter().map(|m| m.idempotency_key).collect();
    // Identity values are drawn in the order the rows are inserted, and the select feeds
    // them in input order, so sorting the returned rows by id restores the input order.
    let mut rows = sqlx::query!(
        r#"insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                      actor_id, request_id, idempotency_key)
         select lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id, actor_id, request_id, idempotency_key
           from unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                       $8::uuid[], $9::uuid[], $10::text[], $11::text[])
                with ordinality as t(lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                     actor_id, request_id, idempotency_key, ord)
          order by ord
         returning id, on_hand_after, reserved_after"#,
        &lots,
        &kinds as &[&str],
        &qtys,
        &rds,
        &reasons as &[Option<&str>],
        &notes as &[Option<&str>],
        &ref_kinds as &[Option<&str>],
        &ref_ids as &[Option<uuid::Uuid>],
        &actors,
        &request_ids as &[Option<&str>],
        &keys as &[Option<&str>],
    )
    .fetch_all(conn)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows
        .into_iter()
        .map(|r| Balance {
            movement_id: r.id,
            on_hand: r.on_hand_after,
            reserved: r.reserved_after,
        })
        .collect())
}

/// A fresh Idempotency-Key that a one-statement command claims together with its
/// effect ([`apply_checked_movements`], [`receive_into_existing_lots`]), storing its
/// answer in the same statement, so that a keyed request needs no transaction of its
/// own. The statement writes nothing when the user's key is already on record (a retry,
/// or a key older than 24 hours to be claimed again); nor when a concurrent request
/// with the same key claims it first (its claim then fails on the key's primary key and
/// rolls the whole statement back). The caller then takes the long way, which claims
/// the key in a transaction (`http::idempotency::begin`) and replays what is stored.
/// The stored answer is built in SQL from the rows written, field by field as
/// `OperationResponse` and `ReceiptResponse` serialise; the API tests check that a
/// retry's replay equals the first answer, field for field.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    /// The request's fingerprint (`http::Command::fingerprint`).
    pub fingerprint: &'a str,
    /// The status the command answers with, stored for retries.
    pub status: i16,
    /// The warehouse code the answer names.
    pub warehouse: &'a str,
}

/// Whether `e` is the failed claim of a key that a concurrent request claimed first.
fn key_taken(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.constraint()) == Some("idempotency_keys_pkey")
}

/// Issue or adjustment lines for [`apply_checked_movements`]: parallel slices, one entry
/// per line, in request order.
#[derive(Debug, Clone)]
pub struct CheckedMovements<'a> {
    /// The warehouse every lot must be in.
    pub warehouse: WarehouseId,
    /// Each line's lot.
    pub lots: &'a [uuid::Uuid],
    /// Each line's signed change of on hand.
    pub deltas: &'a [i64],
    /// Each line's reason.
    pub reasons: &'a [&'a str],
    /// Each line's note.
    pub notes: &'a [Option<&'a str>],
    /// Issue or adjustment: the ledger kind and reference kind, and for an issue the
    /// lots must be available (not quarantined) and not expired on `today`.
    pub op: LotOp,
    /// The operation id, the ledger rows' `ref_id`.
    pub ref_id: uuid::Uuid,
    /// Who does it.
    pub actor: UserId,
    /// The request id.
    pub request_id: Option<&'a str>,
    /// The request's Idempotency-Key, kept on the ledger rows.
    pub idempotency_key: Option<&'a str>,
    /// Claim `idempotency_key` (which must be set) with the effect, and store the answer.
    pub claim: Option<KeyClaim<'a>>,
    /// Today in the deployment's time zone.
    pub today: NaiveDate,
}

/// A ledger row written by [`apply_checked_movements`], with its lot.
#[derive(Debug, Clone)]
pub struct AppliedMovement {
    /// Ledger row.
    pub movement_id: i64,
    /// Lot.
    pub lot_id: LotId,
    /// Item SKU.
    pub sku: String,
    /// Lot code.
    pub lot_code: String,
    /// On hand after this row.
    pub on_hand: i64,
    /// Reserved after this row.
    pub reserved: i64,
}

/// An issue or adjustment in one statement, when every line passes the rules: locks the
/// lines' lots in id order, checks each line against them (lot in `warehouse`; for an
/// issue, available and not expired; no decrease beyond what is available, counting the
/// lines before it on the same lot; no overflow), and only if all pass appends the ledger
/// rows and `event` to the audit trail. Run outside a transaction it is its own: one
/// round trip, and the lots stay locked only inside PostgreSQL. With `claim` it also
/// claims the request's Idempotency-Key and stores the answer ([`KeyClaim`]). Run
/// inside the transaction that claimed an Idempotency-Key, it is the effect of that
/// request.
///
/// Returns the rows written, in line order, or nothing when some line failed; the
/// caller then runs the operation the long way, which says exactly what is wrong. The
/// rules are `stock::movement::check`; the differential test in
/// `tests/api/differential_stock.rs` proves this statement accepts exactly what they
/// accept, with the same balances.
pub async fn apply_checked_movements(
    conn: &mut PgConnection,
    m: &CheckedMovements<'_>,
    event: &crate::audit::Event,
) -> Result<Vec<AppliedMovement>, sqlx::Error> {
    sqlx::query_as!(
        AppliedMovement,
        r#"with line as (
             select * from unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[])
                    with ordinality as t(lot_id, delta, reason, note, ord)),
         locked as (
             select l.id, l.warehouse_id, l.lot_code, l.expires_on, l.on_hand, l.reserved, l.status, i.sku
               from stock_lots l join items i on i.id = l.item_id
              where l.id = any($1)
              order by l.id
                for update of l),
         checked as (
             select k.id, k.warehouse_id, k.expires_on, k.reserved, k.status, line.delta,
                    -- numeric: a running total cannot overflow here, only be compared.
                    k.on_hand + sum(line.delta) over (partition by line.lot_id order by line.ord) as after
               from line left join locked k on k.id = line.lot_id),
         verdict as (
             select coalesce(bool_and(c.id is not null and c.warehouse_id = $5
                                      and (not $6 or (c.status = 'available'
                                                      and (c.expires_on is null or c.expires_on >= $7)))
                                      and (c.delta >= 0 or c.after - c.reserved >= 0)
                                      and c.after <= 9223372036854775807), false) as ok
               from checked c),
         go as (
             -- The rules, and a key to claim that is not on record yet.
             select v.ok and ($14::text is null
                              or not exists (select from idempotency_keys where user_id = $10 and key = $13)) as ok
               from verdict v),
         moved as (
             insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                          actor_id, request_id, idempotency_key)
             select lot_id, $8, delta, 0, reason, note, $8, $9, $10, $11, $13
               from line
              where (select ok from go)
              order by ord
             returning id, lot_id, qty, on_hand_after, reserved_after),
         event as (
             insert into audit_pending (event)
             select $12
              where (select ok from go)),
         -- The answer (`stock::movement::OperationResponse`) stored for retries.
         claim as (
             insert into idempotency_keys (user_id, key, request_hash, response_status, response_body)
             select $10, $13, $14, $16,
                    jsonb_build_object('id', $9::uuid, 'warehouse', $15::text, 'lines', jsonb_agg(
                        jsonb_build_object('lot_id', m.lot_id, 'sku', k.sku, 'lot_code', k.lot_code,
                                           'qty', m.qty, 'movement_id', m.id, 'on_hand', m.on_hand_after,
                                           'reserved', m.reserved_after,
                                           'available', m.on_hand_after - m.reserved_after)
                        order by m.id))
               from moved m join locked k on k.id = m.lot_id
              where $14::text is not null
             having count(*) > 0)
         select m.id as movement_id, m.lot_id as "lot_id: LotId", k.sku, k.lot_code,
                m.on_hand_after as on_hand, m.reserved_after as reserved
           from moved m join locked k on k.id = m.lot_id
          order by m.id"#,
        m.lots,
        m.deltas,
        m.reasons as &[&str],
        m.notes as &[Option<&str>],
        m.warehouse as WarehouseId,
        m.op == LotOp::Issue,
        m.today,
        m.op.kind().as_str(),
        m.ref_id,
        m.actor as UserId,
        m.request_id,
        event.pending_json(),
        m.idempotency_key,
        m.claim.map(|c| c.fingerprint),
        m.claim.map(|c| c.warehouse),
        m.claim.map(|c| c.status),
    )
    .fetch_all(conn)
    .await
    .or_else(|e| if key_taken(&e) { Ok(Vec::new()) } else { Err(e) })
}

/// Receipt lines for [`receive_into_existing_lots`]: parallel slices, one entry per
/// line, in request order.
#[derive(Debug, Clone)]
pub struct ExistingLotReceipt<'a> {
    /// The receiving warehouse.
    pub warehouse: WarehouseId,
    /// Each line's item.
    pub items: &'a [uuid::Uuid],
    /// Each line's lot code.
    pub lot_codes: &'a [String],
    /// Each line's expiry, which must be the lot's.
    pub expires_on: &'a [Option<NaiveDate>],
    /// Each line's quantity, > 0.
    pub qtys: &'a [i64],
    /// Each line's source (the ledger row's reason).
    pub sources: &'a [&'a str],
    /// Each line's note.
    pub notes: &'a [Option<&'a str>],
    /// The receipt id, the ledger rows' `ref_id`.
    pub ref_id: uuid::Uuid,
    /// Who receives.
    pub actor: UserId,
    /// The request id.
    pub request_id: Option<&'a str>,
    /// The request's Idempotency-Key, kept on the ledger rows.
    pub idempotency_key: Option<&'a str>,
    /// Claim `idempotency_key` (which must be set) with the effect, and store the answer.
    pub claim: Option<KeyClaim<'a>>,
}

/// A ledger row written by [`receive_into_existing_lots`].
#[derive(Debug, Clone)]
pub struct ReceivedMovement {
    /// Ledger row.
    pub movement_id: i64,
    /// Lot.
    pub lot_id: LotId,
    /// On hand after this row.
    pub on_hand: i64,
    /// Reserved after this row.
    pub reserved: i64,
}

/// A receipt into lots already on record, in one statement, when every line fits its
/// lot: locks the lines' lots of `warehouse` by (item, lot code) in id order, and only
/// if each line's lot exists, is available (not quarantined), has the line's expiry and
/// cannot overflow, appends the ledger rows and `event`. Outside a transaction it is its
/// own, and with `claim` also claims the request's Idempotency-Key and stores the answer
/// ([`KeyClaim`]); inside the transaction that claimed an Idempotency-Key, it is that
/// request's effect. Returns the rows written, in line order, or nothing when some line does not
/// fit; the caller then receives the long way (`stock::cases::receive`), which creates
/// lots and explains refusals. The rule is `stock::receipt::into_existing_lots`; the
/// differential test in `tests/api/differential_stock.rs` proves this statement accepts
/// exactly what it accepts, with the same balances.
pub async fn receive_into_existing_lots(
    conn: &mut PgConnection,
    r: &ExistingLotReceipt<'_>,
    event: &crate::audit::Event,
) -> Result<Vec<ReceivedMovement>, sqlx::Error> {
    sqlx::query_as!(
        ReceivedMovement,
        r#"with line as (
             select * from unnest($1::uuid[], $2::text[], $3::date[], $4::bigint[], $5::text[], $6::text[])
                    with ordinality as t(item_id, lot_code, expires_on, qty, source, note, ord)),
         locked as (
             select l.id, l.item_id, l.lot_code, l.expires_on, l.on_hand, l.status
               from stock_lots l
              where l.warehouse_id = $7
                and (l.item_id, l.lot_code) in (select item_id, lot_code from line)
              order by l.id
                for update),
         checked as (
             select k.id, k.status, k.expires_on is not distinct from line.expires_on as same_expiry,
                    -- numeric: a running total cannot overflow here, only be compared.
                    k.on_hand + sum(line.qty) over (partition by line.item_id, line.lot_code order by line.ord) as after
               from line left join locked k on k.item_id = line.item_id and k.lot_code = line.lot_code),
         verdict as (
             select coalesce(bool_and(c.id is not null and c.status = 'available' and c.same_expiry
                                      and c.after <= 9223372036854775807), false) as ok
               from checked c),
         go as (
             -- The rules, and a key to claim that is not on record yet.
             select v.ok and ($13::text is null
                              or not exists (select from idempotency_keys where user_id = $9 and key = $12)) as ok
               from verdict v),
         moved as (
             insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                          actor_id, request_id, idempotency_key)
             select k.id, 'receipt', line.qty, 0, line.source, line.note, 'receipt', $8, $9, $10, $12
               from line join locked k on k.item_id = line.item_id and k.lot_code = line.lot_code
              where (select ok from go)
              order by line.ord
             returning id, lot_id, qty, on_hand_after, reserved_after),
         event as (
             insert into audit_pending (event)
             select $11
              where (select ok from go)),
         -- The answer (`stock::receipt::ReceiptResponse`) stored for retries.
         claim as (
             insert into idempotency_keys (user_id, key, request_hash, response_status, response_body)
             select $9, $12, $13, $15,
                    jsonb_build_object('id', $8::uuid, 'warehouse', $14::text, 'lines', jsonb_agg(
                        jsonb_build_object('lot_id', m.lot_id, 'sku', i.sku, 'lot_code', k.lot_code,
                                           'expires_on', k.expires_on, 'qty', m.qty, 'created', false,
                                           'status', 'available', 'movement_id', m.id,
                                           'on_hand', m.on_hand_after, 'reserved', m.reserved_after)
                        order by m.id))
               from moved m join locked k on k.id = m.lot_id join items i on i.id = k.item_id
              where $13::text is not null
             having count(*) > 0)
         select id as movement_id, lot_id as "lot_id: LotId", on_hand_after as on_hand,
                reserved_after as reserved
           from moved
          order by id"#,
        r.items,
        r.lot_codes,
        r.expires_on as &[Option<NaiveDate>],
        r.qtys,
        r.sources as &[&str],
        r.notes as &[Option<&str>],
        r.warehouse as WarehouseId,
        r.ref_id,
        r.actor as UserId,
        r.request_id,
        event.pending_json(),
        r.idempotency_key,
        r.claim.map(|c| c.fingerprint),
        r.claim.map(|c| c.warehouse),
        r.claim.map(|c| c.status),
    )
    .fetch_all(conn)
    .await
    .or_else(|e| if key_taken(&e) { Ok(Vec::new()) } else { Err(e) })
}

/// Locks the lots with these ids (`for update`, in id order, so that concurrent operations
/// never deadlock on each other) and returns them; ids that do not exist are left out.
pub async fn lock_lots(
    conn: &mut PgConnection,
    ids: &[LotId],
) -> Result<Vec<LockedLot>, sqlx::Error> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
    sqlx::query_as!(
        LockedLot,
        r#"select l.id as "id: LotId", l.item_id as "item_id: ItemId", i.sku,
                  l.warehouse_id as "warehouse_id: WarehouseId", l.lot_code, l.expires_on,
                  l.on_hand, l.reserved, l.status as "status: LotStatus"
             from stock_lots l join items i on i.id = l.item_id
            where l.id = any($1)
            order by l.id
              for update of l"#,
        &ids
    )
    .fetch_all(conn)
    .await
}

/// Locks the lots of `warehouse` identified by (item, lot code) pairs, in id order.
pub async fn lock_lots_by_code(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
    items: &[ItemId],
    lot_codes: &[String],
) -> Result<Vec<LockedLot>, sqlx::Error> {
    let items: Vec<uuid::Uuid> = items.iter().map(|i| i.0).collect();
    sqlx::query_as!(
        LockedLot,
        r#"select l.id as "id: LotId", l.item_id as "item_id: ItemId", i.sku,
                  l.warehouse_id as "warehouse_id: WarehouseId", l.lot_code, l.expires_on,
                  l.on_hand, l.reserved, l.status as "status: LotStatus"
             from stock_lots l join items i on i.id = l.item_id
            where l.warehouse_id = $1
              and (l.item_id, l.lot_code) in (select * from unnest($2::uuid[], $3::text[]))
            order by l.id
              for update of l"#,
        warehouse as WarehouseId,
        &items,
        lot_codes
    )
    .fetch_all(conn)
    .await
}

/// A lot to create on receipt.
#[derive(Debug, Clone)]
pub struct ReceivedLot {
    /// New id.
    pub id: LotId,
    /// Item.
    pub item: ItemId,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// Production date.
    pub produced_on: Option<NaiveDate>,
    /// Status to create it with.
    pub status: LotStatus,
    /// Where it came from.
    pub source: Source,
    /// Supplier or donor name.
    pub donor: Option<String>,
}

/// Creates empty lots in `warehouse`, skipping any whose (item, lot code) a concurrent
/// request created first; returns the ids actually inserted.
pub async fn insert_received_lots(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
    received_on: NaiveDate,
    lots: &[ReceivedLot],
) -> Result<Vec<LotId>, sqlx::Error> {
    let ids: Vec<uuid::Uuid> = lots.iter().map(|l| l.id.0).collect();
    let items: Vec<uuid::Uuid> = lots.iter().map(|l| l.item.0).collect();
    let codes: Vec<&str> = lots.iter().map(|l| l.lot_code.as_str()).collect();
    let expiries: Vec<Option<NaiveDate>> = lots.iter().map(|l| l.expires_on).collect();
    let produced: Vec<Option<NaiveDate>> = lots.iter().map(|l| l.produced_on).collect();
    let statuses: Vec<&str> = lots.iter().map(|l| l.status.as_str()).collect();
    let sources: Vec<&str> = lots.iter().map(|l| l.source.as_str()).collect();
    let donors: Vec<Option<&str>> = lots.iter().map(|l| l.donor.as_deref()).collect();
    sqlx::query_scalar!(
        r#"insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, produced_on, status,
                                 received_on, source, donor)
         select id, item_id, $9, lot_code, expires_on, produced_on, status, $10, source, donor
           from unnest($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::date[], $6::text[], $7::text[], $8::text[])
                as t(id, item_id, lot_code, expires_on, produced_on, status, source, donor)
          order by id
         on conflict (item_id, warehouse_id, lot_code) do nothing
         returning id as "id: LotId""#,
        &ids,
        &items,
        &codes as &[&str],
        &expiries as &[Option<NaiveDate>],
        &produced as &[Option<NaiveDate>],
        &statuses as &[&str],
        &sources as &[&str],
        &donors as &[Option<&str>],
        warehouse as WarehouseId,
        received_on
    )
    .fetch_all(conn)
    .await
}

/// Sets a lot's status (balances are untouched, so no ledger row).
pub async fn set_status(
    conn: &mut PgConnection,
    lot: LotId,
    status: LotStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update stock_lots set status = $2, updated_at = now() where id = $1",
        lot as LotId,
        status.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The items named by any of `skus` or `gtins`, in one round trip.
pub async fn items_by_sku_or_gtin(
    conn: &mut PgConnection,
    skus: &[String],
    gtins: &[String],
) -> Result<Vec<ItemPolicy>, sqlx::Error> {
    sqlx::query_as!(
        ItemPolicy,
        r#"select i.id as "id: ItemId", i.sku,
                  array(select g.gtin from item_gtins g where g.item_id = i.id order by g.gtin) as "gtins!",
                  i.shelf_life_days, i.min_remaining_days, i.status = 'retired' as "retired!"
             from items i
            where i.sku = any($1) or i.id in (select item_id from item_gtins where gtin = any($2))"#,
        skus,
        gtins
    )
    .fetch_all(conn)
    .await
}

/// Lots of one item in one warehouse that may be picked: available status, unexpired on
/// `today`, something available.
pub async fn pick_candidates(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
    item: ItemId,
    today: NaiveDate,
) -> Result<Vec<PickCandidate>, sqlx::Error> {
    sqlx::query_as!(
        PickCandidate,
        r#"select id as "lot: LotId", expires_on, received_on, on_hand - reserved as "available!"
             from stock_lots
            where warehouse_id = $1 and item_id = $2 and status = 'available'
              and (expires_on is null or expires_on >= $3) and on_hand - reserved > 0"#,
        warehouse as WarehouseId,
        item as ItemId,
        today
    )
    .fetch_all(conn)
    .await
}

/// One ledger row as shown on a stock card or in the movement log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MovementRow {
    /// Ledger row id (ascending in time).
    pub id: i64,
    /// The lot.
    pub lot_id: LotId,
    /// Item SKU.
    pub sku: String,
    /// Warehouse code.
    pub warehouse_code: String,
    /// Lot code.
    pub lot_code: String,
    /// Kind (`receipt`, `issue`, `adjustment`, …).
    #[schema(value_type = String)]
    pub kind: MovementKind,
    /// Change of on hand.
    pub qty: i64,
    /// Change of reserved.
    pub reserved_delta: i64,
    /// On hand after.
    pub on_hand_after: i64,
    /// Reserved after.
    pub reserved_after: i64,
    /// Reason.
    pub reason: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// What it belongs to (`receipt`, `issue`, `transfer`, …).
    pub ref_kind: Option<String>,
    /// Its id.
    pub ref_id: Option<uuid::Uuid>,
    /// Who.
    pub actor: String,
    /// Request id.
    pub request_id: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Filters for the movement log.
#[derive(Debug, Default)]
pub struct MovementQuery {
    /// Only this warehouse.
    pub warehouse: Option<WarehouseId>,
    /// Only this item.
    pub item: Option<ItemId>,
    /// Only this lot.
    pub lot: Option<LotId>,
    /// Only this kind.
    pub kind: Option<MovementKind>,
    /// At or after.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Before.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Keyset: rows after this id.
    pub after: Option<i64>,
    /// Page size plus one.
    pub limit: i64,
}

/// Ledger rows matching `q`, in id order.
pub async fn list_movements(
    conn: &mut PgConnection,
    q: &MovementQuery,
) -> Result<Vec<MovementRow>, sqlx::Error> {
    sqlx::query_as!(
        MovementRow,
        r#"select m.id, m.lot_id as "lot_id: LotId", i.sku, w.code as warehouse_code, l.lot_code, m.kind as "kind: MovementKind",
                  m.qty, m.reserved_delta, m.on_hand_after, m.reserved_after, m.reason, m.note,
                  m.ref_kind, m.ref_id, u.username as actor, m.request_id, m.idempotency_key, m.created_at
             from stock_movements m
             join stock_lots l on l.id = m.lot_id
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
             join users u on u.id = m.actor_id
            where ($1::uuid is null or l.warehouse_id = $1)
              and ($2::uuid is null or l.item_id = $2)
              and ($3::uuid is null or m.lot_id = $3)
              and ($4::text is null or m.kind = $4)
              and ($5::timestamptz is null or m.created_at >= $5)
              and ($6::timestamptz is null or m.created_at < $6)
              and ($7::bigint is null or m.id > $7)
            order by m.id
            limit $8"#,
        q.warehouse as Option<WarehouseId>,
        q.item as Option<ItemId>,
        q.lot as Option<LotId>,
        q.kind.map(MovementKind::as_str),
        q.from,
        q.to,
        q.after,
        q.limit
    )
    .fetch_all(conn)
    .await
}

/// A warehouse's reserve levels, by SKU.
pub async fn reserve_levels(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
) -> Result<Vec<ReserveLevel>, sqlx::Error> {
    sqlx::query_as!(
        ReserveLevel,
        "select i.sku, r.min_qty from reserve_levels r join items i on i.id = r.item_id
          where r.warehouse_id = $1 order by i.sku",
        warehouse as WarehouseId
    )
    .fetch_all(conn)
    .await
}

/// Upserts levels (`min_qty > 0`) and deletes those set to 0, in one statement.
pub async fn set_reserve_levels(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
    items: &[ItemId],
    min_qtys: &[i64],
) -> Result<(), sqlx::Error> {
    let items: Vec<uuid::Uuid> = items.iter().map(|i| i.0).collect();
    sqlx::query!(
        "with input as (select * from unnest($2::uuid[], $3::bigint[]) as t(item_id, min_qty)),
              del as (delete from reserve_levels r using input
                       where r.warehouse_id = $1 and r.item_id = input.item_id and input.min_qty = 0)
         insert into reserve_levels (warehouse_id, item_id, min_qty)
         select $1, item_id, min_qty from input where min_qty > 0
         on conflict (warehouse_id, item_id) do update set min_qty = excluded.min_qty, updated_at = now()",
        warehouse as WarehouseId,
        &items,
        min_qtys
    )
    .execute(conn)
    .await?;
    Ok(())
}
