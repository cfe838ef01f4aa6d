//! HTTP handlers for allocation requests: plan and reserve, preview, replan, dispatch,
//! deliver, cancel, and reads. Each parses, calls one use case in `cases`, and answers;
//! [`Http`] is the HTTP side of a command (its Idempotency-Key and its status).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::{Postgres, Transaction};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::Priority;
use super::cases::{self, Answer, DeliverCmd, DemandCmd, RequestQuery};
use super::request::{Received, RequestStatus};
pub use super::views::{
    LineView, PickView, PreviewView, RequestSummary, RequestView, ShipmentLineView, ShipmentView,
};
use crate::app::AppState;
use crate::audit;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query, idempotency};
use crate::ids::{IncidentId, LotId, RequestId, ShipmentId};

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_request))
        .routes(routes!(preview_allocation))
        .routes(routes!(list_requests))
        .routes(routes!(get_request))
        .routes(routes!(dispatch_request))
        .routes(routes!(cancel_request))
        .routes(routes!(replan_request))
        .routes(routes!(get_shipment))
        .routes(routes!(deliver_shipment))
}

/// One requested line.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// Item SKU.
    pub sku: String,
    /// Quantity in the item's base unit (> 0).
    pub qty: i64,
}

/// Body of `POST /api/v1/incidents/{id}/requests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// critical, high or normal. Only critical may draw below reserve levels.
    pub priority: Priority,
    /// When the supplies must arrive; picks arriving later are marked `late`.
    pub needed_by: Option<DateTime<Utc>>,
    /// What is needed; lines of the same SKU are merged.
    pub lines: Vec<LineBody>,
    /// Let warehouses inside the affected area supply (default false).
    #[serde(default)]
    pub include_affected_warehouses: bool,
}

/// Body of `POST /api/v1/allocation/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The incident.
    pub incident_id: IncidentId,
    /// critical, high or normal.
    pub priority: Priority,
    /// When the supplies must arrive.
    pub needed_by: Option<DateTime<Utc>>,
    /// What is needed.
    pub lines: Vec<LineBody>,
    /// Let warehouses inside the affected area supply.
    #[serde(default)]
    pub include_affected_warehouses: bool,
}

fn demand_cmd(
    lines: &[LineBody],
    priority: Priority,
    needed_by: Option<DateTime<Utc>>,
    include_affected: bool,
) -> DemandCmd {
    DemandCmd {
        lines: lines.iter().map(|l| (l.sku.clone(), l.qty)).collect(),
        priority,
        needed_by,
        include_affected,
    }
}

/// Filters for `GET /api/v1/requests`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestFilter {
    /// Incident id.
    pub incident: Option<IncidentId>,
    /// reserved, partially_reserved, unfilled, dispatched or cancelled.
    pub status: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What arrived of one lot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    /// The lot.
    pub lot_id: LotId,
    /// Quantity received, from 0 to the quantity shipped.
    pub received_qty: i64,
}

/// Body of `POST /api/v1/shipments/{id}/deliver`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverShipment {
    /// Lots that did not arrive in full; lots not listed arrived as shipped.
    #[serde(default)]
    pub lines: Vec<ReceivedLine>,
    /// What happened (damage, shortages …), at most 1000 characters; required when less
    /// arrived than was shipped.
    pub note: Option<String>,
}

/// The HTTP side of a command: its Idempotency-Key, claimed in the command's
/// transaction with the answer stored beside the effect, and the status it answers with.
pub struct Http<'a> {
    actor: &'a Actor,
    origin: &'a Origin,
    fingerprint: String,
    status: StatusCode,
}

impl<'a> Http<'a> {
    /// Answers `status` to the request with `fingerprint`.
    pub fn new(
        actor: &'a Actor,
        origin: &'a Origin,
        fingerprint: String,
        status: StatusCode,
    ) -> Self {
        Http {
            actor,
            origin,
            fingerprint,
            status,
        }
    }
}

impl<T: Serialize + Send + Sync> Answer<T> for Http<'_> {
    type Out = Response;

    async fn claim(&mut self, conn: &mut PgConnection) -> AppResult<Option<Response>> {
        crate::audit::http::claim_key(conn, self.actor, self.origin, &self.fingerprint).await
    }

    async fn finish(
        self,
        tx: Transaction<'_, Postgres>,
        change: Option<audit::Change<'_>>,
        outcome: T,
    ) -> AppResult<Response> {
        match change {
            Some(change) => {
                crate::audit::http::finish_command(
                    tx,
                    self.actor,
                    self.origin,
                    change,
                    self.status,
                    outcome,
                )
                .await
            }
            None => {
                idempotency::finish_recorded(
                    tx,
                    self.actor.id,
                    self.origin.idempotency_key.as_deref(),
                    self.status,
                    outcome,
                )
                .await
            }
        }
    }

    fn done(self, outcome: T) -> Response {
        (self.status, Json(outcome)).into_response()
    }
}

/// Ask for supplies for an incident: plans and reserves in one go.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/requests", tag = "allocation", request_body = CreateRequest,
    params(("id" = String, Path, description = "Incident id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 201, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(incident_id): Path<IncidentId>,
    cmd: Command<CreateRequest>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let b = &cmd.body;
    crate::http::date_field("/needed_by", b.needed_by)?;
    let demand = demand_cmd(
        &b.lines,
        b.priority,
        b.needed_by,
        b.include_affected_warehouses,
    );
    let answer = Http::new(
        &actor,
        &origin,
        cmd.fingerprint.clone(),
        StatusCode::CREATED,
    );
    let mut conn = state.writes.acquire().await?;
    let now = Utc::now();
    cases::create_request(
        &state,
        &mut conn,
        &actor,
        &origin,
        incident_id,
        demand,
        now,
        answer,
    )
    .await
}

/// What a request would get now, reserving nothing.
#[utoipa::path(post, path = "/api/v1/allocation/preview", tag = "allocation", request_body = PreviewRequest,
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = PreviewView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn preview_allocation(
    State(state): State<AppState>,
    actor: Actor,
    Json(b): Json<PreviewRequest>,
) -> AppResult<Json<PreviewView>> {
    actor.require(&[Role::Dispatcher])?;
    let demand = demand_cmd(
        &b.lines,
        b.priority,
        b.needed_by,
        b.include_affected_warehouses,
    );
    let mut conn = state.pool.acquire().await?;
    let preview = cases::preview(&state, &mut conn, b.incident_id, demand, Utc::now()).await?;
    Ok(Json(preview))
}

/// List allocation requests, oldest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "allocation", params(RequestFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<RequestSummary>), (status = 400, body = Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<RequestFilter>,
) -> AppResult<Json<Page<RequestSummary>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<RequestId> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    let status = filter
        .status
        .as_deref()
        .map(|s| {
            RequestStatus::parse(s)
                .ok_or_else(|| AppError::bad_request("status", format!("unknown status `{s}`")))
        })
        .transpose()?;
    let q = RequestQuery {
        incident: filter.incident,
        status,
        after,
        limit: limit + 1,
    };
    let mut conn = state.reads.acquire().await?;
    let rows = cases::list_requests(&mut conn, q).await?;
    Ok(Json(pagination::page(rows, limit, |r| r.id)))
}

/// One allocation request with its lines, picks and shipments.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = [])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<RequestId>,
) -> AppResult<Json<RequestView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(cases::get_request(&mut conn, id).await?))
}

/// One shipment with its lines: what left which warehouse, and, once delivered, what
/// arrived. For the depot or team receiving it, who may hold only the shipment id.
#[utoipa::path(get, path = "/api/v1/shipments/{id}", tag = "allocation",
    params(("id" = String, Path, description = "Shipment id")),
    security(("bearer" = [])),
    responses((status = 200, body = ShipmentView), (status = 404, body = Problem)))]
pub async fn get_shipment(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<ShipmentId>,
) -> AppResult<Json<ShipmentView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(cases::get_shipment(&mut conn, id).await?))
}

/// Issue the reserved stock: one shipment per source warehouse, in one transaction.
#[utoipa::path(post, path = "/api/v1/requests/{id}/dispatch", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn dispatch_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let fingerprint = format!("POST /api/v1/requests/{id}/dispatch");
    let answer = Http::new(&actor, &origin, fingerprint, StatusCode::OK);
    let mut conn = state.writes.acquire().await?;
    cases::dispatch(&mut conn, &actor, &origin, id, answer).await
}

/// Release a request's reservations. Only before dispatch.
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let fingerprint = format!("POST /api/v1/requests/{id}/cancel");
    let answer = Http::new(&actor, &origin, fingerprint, StatusCode::OK);
    let mut conn = state.writes.acquire().await?;
    cases::cancel(&mut conn, &actor, &origin, id, answer).await
}

/// Try to fill a request's shortfall from the stock available now.
#[utoipa::path(post, path = "/api/v1/requests/{id}/replan", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn replan_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let fingerprint = format!("POST /api/v1/requests/{id}/replan");
    let answer = Http::new(&actor, &origin, fingerprint, StatusCode::OK);
    let mut conn = state.writes.acquire().await?;
    cases::replan(&state, &mut conn, &actor, &origin, id, Utc::now(), answer).await
}

/// Confirm what arrived, with discrepancies.
#[utoipa::path(post, path = "/api/v1/shipments/{id}/deliver", tag = "allocation", request_body = DeliverShipment,
    params(("id" = String, Path, description = "Shipment id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = ShipmentView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn deliver_shipment(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<ShipmentId>,
    cmd: Command<DeliverShipment>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let Command { body, fingerprint } = cmd;
    let delivery = DeliverCmd {
        lines: body
            .lines
            .iter()
            .map(|l| Received {
                lot: l.lot_id,
                qty: l.received_qty,
            })
            .collect(),
        note: body.note,
    };
    let answer = Http::new(&actor, &origin, fingerprint, StatusCode::OK);
    let mut conn = state.writes.acquire().await?;
    cases::deliver(&mut conn, id, delivery, answer).await
}
