//! HTTP handlers for the audit trail: chain verification and the event query, both for
//! auditors and admins only; the extractor of a command's origin; and the layer that
//! holds back a write's answer until its audit events are chained.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::db::{self, EventQuery, StoredEvent};
use super::{Change, Origin, Verification};
use crate::app::AppState;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Json, Query, idempotency};

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_audit))
        .routes(routes!(list_audit_events))
}

/// Who may read the audit trail.
pub const READERS: &[Role] = &[Role::Auditor, Role::Admin];

/// Recompute the audit chain and check that every ledger movement is named by exactly
/// one event. A broken chain is still a 200: the body says where and why.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, body = Verification), (status = 403, body = crate::error::Problem)))]
pub async fn verify_audit(
    State(state): State<AppState>,
    actor: Actor,
) -> AppResult<Json<Verification>> {
    actor.require(READERS)?;
    Ok(Json(db::verify(&state.reads).await?))
}

/// Filters for `GET /api/v1/audit/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events at or before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Username of the actor.
    pub actor: Option<String>,
    /// Entity kind (`lot`), or kind and id (`lot:0193…`).
    pub entity: Option<String>,
    /// Action (`stock.receipt`), or a prefix ending in `.` (`stock.`).
    pub action: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Checks that `from` and `to` are instants the database can compare (a 400) and that
/// `from` is not after `to` (a 422).
pub fn check_window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> AppResult<()> {
    crate::http::instant_param("from", from)?;
    crate::http::instant_param("to", to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(AppError::invalid("from", "`from` must not be after `to`"));
    }
    Ok(())
}

impl EventFilter {
    /// The database query for this filter (without paging).
    pub fn to_query(&self) -> AppResult<EventQuery> {
        check_window(self.from, self.to)?;
        let (entity_kind, entity_id) = match self.entity.as_deref() {
            None => (None, None),
            Some("") => return Err(AppError::bad_request("entity", "entity must not be empty")),
            Some(e) => match e.split_once(':') {
                Some((k, id)) => (Some(k.to_owned()), Some(id.to_owned())),
                None => (Some(e.to_owned()), None),
            },
        };
        Ok(EventQuery {
            from: self.from,
            to: self.to,
            actor: self.actor.clone(),
            entity_kind,
            entity_id,
            action: self.action.clone(),
            ..EventQuery::default()
        })
    }
}

/// Audit events in chain order, filtered, with a cursor on `seq`.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(EventFilter),
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, body = Page<StoredEvent>), (status = 400, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    actor: Actor,
    Query(filter): Query<EventFilter>,
) -> AppResult<Json<Page<StoredEvent>>> {
    actor.require(READERS)?;
    let limit = pagination::limit(filter.limit)?;
    let mut q = filter.to_query()?;
    q.after_seq = filter
        .cursor
        .as_deref()
        .map(pagination::decode::<i64>)
        .transpose()?;
    q.limit = Some(limit + 1);
    let mut conn = state.reads.acquire().await?;
    let rows = db::list_events(&mut conn, &q).await?;
    Ok(Json(pagination::page(rows, limit, |e| e.seq)))
}

/// The origin of an HTTP request: its `x-request-id` and its `Idempotency-Key` (1 to 200
/// visible ASCII characters, else a 400 naming the header).
impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(&crate::http::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(v) => {
                let key = v.to_str().unwrap_or("");
                if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(AppError::bad_request(
                        "Idempotency-Key",
                        "Idempotency-Key must be 1 to 200 visible ASCII characters",
                    ));
                }
                Some(key.to_owned())
            }
        };
        Ok(Origin {
            request_id,
            idempotency_key,
        })
    }
}

/// Ends a command, in the order every mutating handler keeps: records `change` in the
/// audit trail and stores the answer for retries with the same key (one statement, see
/// `http::idempotency::finish_command`), commits, and answers `status` with `body`.
pub async fn finish_command<B: Serialize + Sync>(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &Actor,
    origin: &Origin,
    change: Change<'_>,
    status: StatusCode,
    body: B,
) -> AppResult<Response> {
    let event = db::pending_event(actor, origin, change).pending_json();
    idempotency::finish_command(
        tx,
        actor.id,
        origin.idempotency_key.as_deref(),
        event,
        status,
        body,
    )
    .await
}

/// Starts a command: claims the request's `Idempotency-Key` for `actor` in the command's
/// transaction, or returns the stored answer of the same request made before (see
/// `http::idempotency::begin`). `None`: go ahead.
pub async fn claim_key(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    origin: &Origin,
    fingerprint: &str,
) -> AppResult<Option<Response>> {
    idempotency::begin(
        conn,
        actor.id,
        origin.idempotency_key.as_deref(),
        fingerprint,
    )
    .await
}

/// Answers a command: the replayed answer, or the command's answer, recorded (with its
/// audit event) and committed.
pub async fn respond(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &Actor,
    origin: &Origin,
    outcome: super::Outcome<Response>,
    status: StatusCode,
) -> AppResult<Response> {
    match outcome {
        std::ops::ControlFlow::Break(replay) => Ok(replay),
        std::ops::ControlFlow::Continue(done) => {
            finish_command(tx, actor, origin, done.change, status, done.answer).await
        }
    }
}

/// Holds back the answer of a write until its audit events are in the chain, so that no
/// change is acknowledged before it is in the verified trail (`audit::chain`). It waits
/// on every successful answer to a request that is not safe by its method (a command,
/// or a replay of one's stored answer, whose event another request may have committed
/// moments ago), and on every answer whose handler recorded an event, whatever its
/// status (an export; a refused sign-in, which records the refusal). Other refusals and
/// errors pass at once: they acknowledge nothing. When the chain does not take the
/// events within its limit, the answer is a 503 instead.
pub async fn answer_when_chained(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let writes = !req.method().is_safe();
    let ticket = state.chain.ticket(&state.pool).await;
    let (response, events) = super::chain::watch_recording(next.run(req), &ticket).await;
    if !(events > 0 || writes && response.status().is_success()) {
        return response;
    }
    match state.chain.wait_chained(&state.pool, ticket, events).await {
        Ok(()) => response,
        Err(err) => {
            tracing::warn!(%err, "a write's audit event was not chained in time");
            err.into_response()
        }
    }
}
