//! HTTP handlers for cycle counts: open, record, post, show.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Count, Counted, check_counted, db, posting};
use crate::app::AppState;
use crate::audit;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::http::{Command, Json, Path};
use crate::ids::{CountId, ItemId, LotId};
use crate::stock::db::{Movement, insert_movement};

/// Count routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_count))
        .routes(routes!(get_count))
        .routes(routes!(record_count_lines))
        .routes(routes!(post_count))
        .routes(routes!(cancel_count))
}

/// `POST /api/v1/warehouses/{code}/counts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCount {
    /// Count only these SKUs; absent: the whole warehouse.
    pub skus: Option<Vec<String>>,
}

/// One counted lot in `PUT /api/v1/counts/{id}/lines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountedLine {
    /// A lot in the count.
    pub lot_id: LotId,
    /// Units on the shelf, zero or more.
    pub counted_qty: i64,
}

/// `POST /api/v1/counts/{id}/post`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCount {
    /// Note carried on the adjustments.
    pub note: Option<String>,
}

/// What `actor` may see of `count`: clerks (and dispatchers) count blind.
fn view_for(actor: &Actor, count: Count) -> Count {
    if matches!(actor.role, Role::Admin | Role::Auditor | Role::System) {
        count
    } else {
        count.blind()
    }
}

/// The count as `actor` may see it, as the answer to a command.
async fn view(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    id: CountId,
) -> AppResult<serde_json::Value> {
    let count = db::get(tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("count {id} vanished"))?;
    Ok(serde_json::to_value(view_for(actor, count)).map_err(anyhow::Error::from)?)
}

/// `POST /api/v1/counts/{id}/cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelCount {
    /// Why the count will not be finished (1–200 characters).
    pub reason: String,
}

/// The 409 for changing a count that is no longer open.
fn closed_conflict(status: &str) -> AppError {
    let detail = if status == "cancelled" {
        "the count was cancelled; open a new one"
    } else {
        "the count is already posted"
    };
    AppError::Conflict {
        detail: detail.into(),
        errors: vec![],
        extra: Some(json!({ "count_status": status })),
    }
}

/// Open a blind count over a warehouse, or some of its SKUs: snapshots the expected
/// quantity of every lot in scope.
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/counts", tag = "counts",
    request_body = CreateCount,
    params(("code" = String, Path, description = "Warehouse code"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create_count(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<CreateCount>,
) -> AppResult<Response> {
    let req = cmd.body;
    let mut tx = state.writes.begin().await?;
    let wh = state.warehouse_ids.in_path(&mut tx, &code).await?;
    actor.require_warehouse(wh.id, &wh.code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let items: Option<Vec<ItemId>> = match &req.skus {
        None => None,
        Some(skus) if skus.is_empty() => {
            return Err(AppError::invalid(
                "/skus",
                "name at least one SKU, or leave skus out to count the whole warehouse",
            ));
        }
        Some(skus) => {
            let mut ids = Vec::with_capacity(skus.len());
            for (i, sku) in skus.iter().enumerate() {
                let item = crate::catalog::db::item_by_sku(&mut tx, sku)
                    .await?
                    .ok_or_else(|| {
                        AppError::invalid(format!("/skus/{i}"), format!("unknown SKU `{sku}`"))
                    })?;
                ids.push(item.id);
            }
            Some(ids)
        }
    };
    let lots = db::lock_scope(&mut tx, wh.id, items.as_deref()).await?;
    if lots.is_empty() {
        let detail = format!("warehouse {} has no lots in this scope to count", wh.code);
        return Err(match req.skus {
            Some(_) => AppError::invalid("/skus", detail),
            None => AppError::Validation {
                detail,
                errors: vec![],
            },
        });
    }
    // Read after the locks: every movement on these lots so far is committed and below
    // the mark, and none can be added until this transaction ends.
    let hwm = db::high_water_mark(&mut tx).await?;
    let id = CountId::new();
    db::insert_count(
        &mut tx,
        id,
        wh.id,
        req.skus.as_deref(),
        hwm,
        actor.id,
        &lots,
    )
    .await
    .map_err(
        |e| match e.as_database_error().and_then(|d| d.constraint()) {
            Some("count_lines_open_lot_key") => AppError::Conflict {
                detail: "some of these lots are already in an open count; post it first".into(),
                errors: vec![],
                extra: None,
            },
            _ => e.into(),
        },
    )?;
    let change = audit::Change {
        action: "count.open",
        entity_kind: "count",
        entity_id: id.to_string(),
        before: None,
        after: Some(json!({
            "warehouse": wh.code, "skus": req.skus, "lots": lots.len(), "snapshot_movement_id": hwm
        })),
    };
    let body = view(&mut tx, &actor, id).await?;
    let res =
        crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::CREATED, body)
            .await?;
    tracing::info!(count.id = %id, "count opened");
    Ok(res)
}

/// Record counted quantities (a later entry for the same lot replaces the earlier one).
#[utoipa::path(put, path = "/api/v1/counts/{id}/lines", tag = "counts",
    request_body = Vec<CountedLine>,
    params(("id" = String, Path, description = "Count id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn record_count_lines(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<CountId>,
    cmd: Command<Vec<CountedLine>>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let c = db::lock_count(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no count with id {id}")))?;
    actor.require_warehouse(c.warehouse_id, &c.warehouse_code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    if c.status != "open" {
        return Err(closed_conflict(&c.status));
    }
    let scope: HashSet<LotId> = db::scope(&mut tx, id).await?.into_iter().collect();
    let lines: Vec<Counted> = cmd
        .body
        .iter()
        .map(|l| Counted {
            lot: l.lot_id,
            qty: l.counted_qty,
        })
        .collect();
    check_counted(&lines, &scope)?;
    for l in &lines {
        db::set_counted(&mut tx, id, l.lot, l.qty, actor.id).await?;
    }
    let change = audit::Change {
        action: "count.record",
        entity_kind: "count",
        entity_id: id.to_string(),
        before: None,
        after: Some(json!({
            "lines": lines.iter().map(|l| json!({ "lot_id": l.lot, "counted_qty": l.qty })).collect::<Vec<_>>()
        })),
    };
    let body = view(&mut tx, &actor, id).await?;
    let res = crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::OK, body)
        .await?;
    Ok(res)
}

/// Post a count: in one transaction, book each counted lot to its counted quantity plus
/// what moved on it since the snapshot (`count_adjustment`). Uncounted lots are left
/// as they are.
#[utoipa::path(post, path = "/api/v1/counts/{id}/post", tag = "counts",
    request_body = PostCount,
    params(("id" = String, Path, description = "Count id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn post_count(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<CountId>,
    cmd: Command<PostCount>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let c = db::lock_count(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no count with id {id}")))?;
    actor.require_warehouse(c.warehouse_id, &c.warehouse_code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    if c.status != "open" {
        return Err(closed_conflict(&c.status));
    }
    let lines = db::lock_counted(&mut tx, id, c.snapshot_movement_id).await?;
    let note = cmd.body.note.as_deref();
    let mut booked = Vec::new();
    for l in &lines {
        let p = posting(l.counted_qty, l.moved_after, l.on_hand).ok_or_else(|| {
            AppError::Validation {
                detail: format!("lot {}: quantities overflow", l.lot_code),
                errors: vec![],
            }
        })?;
        if p.target < l.reserved {
            return Err(AppError::Conflict {
                detail: format!(
                    "lot {} would hold {} after the count, below the {} reserved for allocations; \
                     release or re-count first",
                    l.lot_code, p.target, l.reserved
                ),
                errors: vec![],
                extra: Some(
                    json!({ "lot_id": l.lot_id, "reserved": l.reserved, "target": p.target }),
                ),
            });
        }
        if p.delta != 0 {
            insert_movement(
                &mut tx,
                &Movement {
                    lot: l.lot_id,
                    kind: "count_adjustment",
                    qty: p.delta,
                    reserved_delta: 0,
                    reason: Some("count_correction"),
                    note,
                    ref_kind: Some("count"),
                    ref_id: Some(id.0),
                    actor: actor.id,
                    request_id: origin.request_id.as_deref(),
                    idempotency_key: origin.idempotency_key.as_deref(),
                },
            )
            .await?;
            booked.push(json!({ "lot_id": l.lot_id, "qty": p.delta, "on_hand_after": p.target }));
        }
        db::set_posted_line(&mut tx, id, l.lot_id, l.moved_after, p.delta).await?;
    }
    db::close(&mut tx, id, actor.id).await?;
    let change = audit::Change {
        action: "count.post",
        entity_kind: "count",
        entity_id: id.to_string(),
        before: Some(json!({ "status": "open" })),
        after: Some(
            json!({ "status": "posted", "counted_lots": lines.len(), "adjustments": booked }),
        ),
    };
    let body = view(&mut tx, &actor, id).await?;
    let res = crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::OK, body)
        .await?;
    tracing::info!(count.id = %id, adjustments = booked.len(), "count posted");
    Ok(res)
}

/// Cancel an open count that will not be finished: books nothing, and frees its lots for
/// a new count.
#[utoipa::path(post, path = "/api/v1/counts/{id}/cancel", tag = "counts",
    request_body = CancelCount,
    params(("id" = String, Path, description = "Count id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn cancel_count(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<CountId>,
    cmd: Command<CancelCount>,
) -> AppResult<Response> {
    let reason = cmd.body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::invalid(
            "/reason",
            "give the reason the count will not be finished, 1–200 characters",
        ));
    }
    let mut tx = state.writes.begin().await?;
    let c = db::lock_count(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no count with id {id}")))?;
    actor.require_warehouse(c.warehouse_id, &c.warehouse_code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    if c.status != "open" {
        return Err(closed_conflict(&c.status));
    }
    db::cancel(&mut tx, id, actor.id, reason).await?;
    let change = audit::Change {
        action: "count.cancel",
        entity_kind: "count",
        entity_id: id.to_string(),
        before: Some(json!({ "status": "open" })),
        after: Some(json!({ "status": "cancelled", "reason": reason })),
    };
    let body = view(&mut tx, &actor, id).await?;
    let res = crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::OK, body)
        .await?;
    Ok(res)
}

/// A count with its lines. Clerks count blind: expected quantities and variances are
/// shown only to admins and auditors.
#[utoipa::path(get, path = "/api/v1/counts/{id}", tag = "counts",
    params(("id" = String, Path, description = "Count id")),
    security(("bearer" = [])),
    responses((status = 200, body = Count), (status = 404, body = crate::error::Problem)))]
pub async fn get_count(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<CountId>,
) -> AppResult<Json<Count>> {
    let mut conn = state.pool.acquire().await?;
    let count = db::get(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no count with id {id}")))?;
    Ok(Json(view_for(&actor, count)))
}
