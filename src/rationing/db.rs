//! SQL for rationing rounds: the incidents a round names, the operation's open shortfalls
//! and their locks, every lot of the round's items, and the round's own row.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::allocation::Priority;
use crate::allocation::plan::SnapshotLot;
use crate::ids::{IncidentId, ItemId, LotId, OperationId, RequestId, RoundId, UserId, WarehouseId};
use crate::incidents::IncidentStatus;

/// An incident as a round needs it.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    /// Id.
    pub id: IncidentId,
    /// Name: breaks ties between incidents (then the id).
    pub name: String,
    /// Open or closed.
    pub status: IncidentStatus,
    /// Its operation, if any.
    pub operation_id: Option<OperationId>,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// The affected area (a validated GeoJSON Polygon), if any.
    pub affected_area: Option<Value>,
    /// Hours within which the first batch must arrive.
    pub delivery_target_hours: i32,
}

/// The incidents with these ids (those that exist).
pub async fn incidents(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query_as!(
        IncidentRow,
        r#"select id as "id: IncidentId", name, status as "status: IncidentStatus",
                  operation_id as "operation_id: OperationId", lat, lon, affected_area,
                  delivery_target_hours
             from incidents where id = any($1) order by id"#,
        ids
    )
    .fetch_all(conn)
    .await
}

/// Locks the operation's open requests that lack something (status `partially_reserved`
/// or `unfilled`), in id order: before any cell or lot, as a replan locks its request.
/// Returns their ids.
pub async fn lock_open_requests(
    conn: &mut PgConnection,
    operation: OperationId,
) -> Result<Vec<RequestId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select r.id as "id: RequestId"
             from allocation_requests r join incidents i on i.id = r.incident_id
            where i.operation_id = $1 and r.status in ('partially_reserved', 'unfilled')
            order by r.id
              for update of r"#,
        operation as OperationId
    )
    .fetch_all(conn)
    .await
}

/// A stored request line that lacks something, with its request's terms.
#[derive(Debug, Clone)]
pub struct OpenLineRow {
    /// The request.
    pub request_id: RequestId,
    /// Its incident.
    pub incident_id: IncidentId,
    /// Its priority.
    pub priority: Priority,
    /// Its deadline.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether warehouses inside the affected area may supply it.
    pub include_affected_warehouses: bool,
    /// The line.
    pub line_no: i32,
    /// The item.
    pub item_id: ItemId,
    /// Its SKU.
    pub sku: String,
    /// Requested − reserved (> 0).
    pub lacking: i64,
}

/// The unfilled lines of the operation's open requests, by request creation, then line.
pub async fn open_lines(
    conn: &mut PgConnection,
    operation: OperationId,
) -> Result<Vec<OpenLineRow>, sqlx::Error> {
    sqlx::query_as!(
        OpenLineRow,
        r#"select r.id as "request_id: RequestId", r.incident_id as "incident_id: IncidentId",
                  r.priority as "priority: Priority", r.needed_by, r.include_affected_warehouses,
                  l.line_no, l.item_id as "item_id: ItemId", l.sku,
                  l.requested - l.reserved as "lacking!"
             from allocation_requests r
             join incidents i on i.id = r.incident_id
             join allocation_request_lines l on l.request_id = r.id
            where i.operation_id = $1 and r.status in ('partially_reserved', 'unfilled')
              and l.requested > l.reserved
            order by r.created_at, r.id, l.line_no"#,
        operation as OperationId
    )
    .fetch_all(conn)
    .await
}

/// Every lot of these items that holds stock, as the planner reads lots. Its cost follows
/// the items' lots; a round reads them once for all its incidents.
pub async fn lots(
    conn: &mut PgConnection,
    items: &[Uuid],
) -> Result<Vec<SnapshotLot>, sqlx::Error> {
    sqlx::query_as!(
        SnapshotLot,
        r#"select l.id as "id: LotId", l.warehouse_id as "warehouse_id: WarehouseId", i.sku,
                  l.lot_code, l.expires_on, l.on_hand, l.reserved,
                  l.status = 'quarantined' as "quarantined!"
             from stock_lots l join items i on i.id = l.item_id
            where l.item_id = any($1) and l.on_hand > 0"#,
        items
    )
    .fetch_all(conn)
    .await
}

/// Stores a committed round.
pub async fn insert_round(
    conn: &mut PgConnection,
    id: RoundId,
    operation: OperationId,
    actor: UserId,
    replanned: bool,
    demands: &Value,
    summary: &Value,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into rationing_rounds (id, operation_id, created_by, replanned, demands, summary)
         values ($1, $2, $3, $4, $5, $6) returning created_at",
        id as RoundId,
        operation as OperationId,
        actor as UserId,
        replanned,
        demands,
        summary
    )
    .fetch_one(conn)
    .await
}

/// Links the round's new requests to it.
pub async fn link_requests(
    conn: &mut PgConnection,
    round: RoundId,
    requests: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update allocation_requests set round_id = $1 where id = any($2)",
        round as RoundId,
        requests
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored round.
#[derive(Debug, Clone)]
pub struct RoundRow {
    /// Id.
    pub id: RoundId,
    /// Its operation.
    pub operation_id: OperationId,
    /// Who committed it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Whether it planned again on stock that changed since its preview.
    pub replanned: bool,
    /// The demands, as merged lines.
    pub demands: Value,
    /// What each item's tiers got, the totals and the nearest-first baseline's.
    pub summary: Value,
    /// The requests it created.
    pub requests: Vec<RequestId>,
}

/// The rounds of an operation, newest first.
pub async fn rounds(
    conn: &mut PgConnection,
    operation: OperationId,
) -> Result<Vec<RoundRow>, sqlx::Error> {
    sqlx::query_as!(
        RoundRow,
        r#"select r.id as "id: RoundId", r.operation_id as "operation_id: OperationId",
                  r.created_by as "created_by: UserId", r.created_at, r.replanned, r.demands, r.summary,
                  coalesce((select array_agg(a.id order by a.id) from allocation_requests a
                             where a.round_id = r.id), '{}') as "requests!: Vec<RequestId>"
             from rationing_rounds r where r.operation_id = $1
            order by r.created_at desc, r.id desc"#,
        operation as OperationId
    )
    .fetch_all(conn)
    .await
}
