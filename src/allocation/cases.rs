//! The allocation use cases: what a handler, the CLI or a message adapter calls to ask
//! for supplies, preview, replan, dispatch, cancel, deliver and read. Each owns its
//! sequence: check with the pure rules (`request`, `plan`), run the SQL (`db`), and
//! answer with a view (`views`). No HTTP type appears here; the caller's side of a
//! command (its idempotency key and how it answers) comes in as an [`Answer`].
//!
//! The reservation path: read the snapshot and ETAs and run the pure planner with no lock
//! held; then ONE statement (`db::write_plan_if_available`) locks the lots of the cells
//! the plan draws from (id order), re-checks the plan on them (`rules::plan_holds`, in
//! SQL) and writes it only if it holds. A plan that lost a race is dropped and made
//! again from fresh stock; the last attempt locks every lot of the items first and plans
//! under the locks. New requests and replans write through that same statement.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use geo::Point;
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use super::Priority;
use super::db::{self, NewRequest, PlanWrite};
use super::plan::{self, Intake};
use super::request::{
    Change, Delivery, Demand, DemandedItem, Held, KnownItem, Received, Refusal, RequestStatus,
    check_delivery, check_lines, group_shipments, retired_in_flight,
};
use super::views::{self, PreviewView, RequestSummary, RequestView, ShipmentView};
use crate::app::AppState;
use crate::audit;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{IncidentId, LotId, RequestId, ShipmentId, WarehouseId};
use crate::planner::{self, Plan, PlanInput, Snapshot};
use crate::stock::db::{Movement, insert_movements};

/// Optimistic attempts before the last one, which plans under the locks.
const OPTIMISTIC_ATTEMPTS: usize = 2;

/// The caller's side of a command. The HTTP adapter claims the request's
/// Idempotency-Key at the start of each attempt's transaction and stores its answer with
/// the effect; a caller without keys claims nothing and answers with the outcome itself.
pub trait Answer<T>: Sized + Send {
    /// What the command ends with.
    type Out: Send;

    /// Claims the key in `conn`'s transaction; `Some` ends the command with the answer
    /// already given to the first request with that key.
    fn claim(
        &mut self,
        conn: &mut PgConnection,
    ) -> impl Future<Output = AppResult<Option<Self::Out>>> + Send;

    /// Ends the command in `tx`: records `change` (`None`: the command's own statement
    /// recorded it), stores the answer, commits.
    fn finish(
        self,
        tx: Transaction<'_, Postgres>,
        change: Option<audit::Change<'_>>,
        outcome: T,
    ) -> impl Future<Output = AppResult<Self::Out>> + Send;

    /// Answers a command whose one statement already committed its effect and event.
    fn done(self, outcome: T) -> Self::Out;
}

/// What a request asks for, as given: lines (SKU, qty), priority, deadline, and whether
/// warehouses inside the affected area may supply.
#[derive(Debug, Clone)]
pub struct DemandCmd {
    /// Lines, as given.
    pub lines: Vec<(String, i64)>,
    /// Priority.
    pub priority: Priority,
    /// When the supplies must arrive.
    pub needed_by: Option<DateTime<Utc>>,
    /// Let warehouses inside the affected area supply.
    pub include_affected: bool,
}

/// Filters of the request list.
#[derive(Debug, Clone, Copy)]
pub struct RequestQuery {
    /// Only this incident's.
    pub incident: Option<IncidentId>,
    /// Only requests with this status.
    pub status: Option<RequestStatus>,
    /// Keyset: requests after this id.
    pub after: Option<RequestId>,
    /// Page size plus one.
    pub limit: i64,
}

/// What a delivery says arrived, as given.
#[derive(Debug, Clone)]
pub struct DeliverCmd {
    /// Lots that did not arrive in full.
    pub lines: Vec<Received>,
    /// What happened.
    pub note: Option<String>,
}

/// Asks for supplies for an incident: plans and reserves in one go. Without an
/// Idempotency-Key, each optimistic attempt is the one statement alone; with one, each
/// attempt is a transaction that claims the key and runs that statement.
#[allow(clippy::too_many_arguments)]
pub async fn create_request<A: Answer<RequestView>>(
    state: &AppState,
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    incident_id: IncidentId,
    cmd: DemandCmd,
    now: DateTime<Utc>,
    mut answer: A,
) -> AppResult<A::Out> {
    let demand = demand(state, conn, &cmd).await?;
    let given = &cmd.lines;
    let intake = Intake::New {
        pointer: "incident_id",
    };
    let mut first_attempt = 0;
    if origin.idempotency_key.is_none() {
        // No transaction spans a round trip: plan from what the reads see, then one
        // statement locks, re-checks and writes.
        for attempt in 0..OPTIMISTIC_ATTEMPTS {
            let plan = plan_now(state, conn, incident_id, intake, &demand, now).await?;
            if let Some(view) =
                write_new(conn, actor, origin, incident_id, &demand, given, &plan, now).await?
            {
                return Ok(answer.done(view));
            }
            lost_race("request", attempt);
        }
        first_attempt = OPTIMISTIC_ATTEMPTS;
    }
    for attempt in first_attempt..=OPTIMISTIC_ATTEMPTS {
        let last = attempt == OPTIMISTIC_ATTEMPTS;
        let mut tx = conn.begin().await?;
        let early = if last {
            None
        } else {
            Some(plan_now(state, &mut tx, incident_id, intake, &demand, now).await?)
        };
        if let Some(replay) = answer.claim(&mut tx).await? {
            return Ok(replay);
        }
        // plan_now checked the incident open. A request racing with its closure is
        // accepted as if it came first; no lock on the incident is needed for stock safety.
        let plan = match early {
            Some(plan) => plan,
            None => {
                db::lock_all_stock_of(&mut tx, &demand.item_ids()).await?;
                plan_now(state, &mut tx, incident_id, intake, &demand, now).await?
            }
        };
        match write_new(
            &mut tx,
            actor,
            origin,
            incident_id,
            &demand,
            given,
            &plan,
            now,
        )
        .await?
        {
            Some(view) => return answer.finish(tx, None, view).await,
            None => {
                tx.rollback().await?;
                lost_race("request", attempt);
            }
        }
    }
    Err(Refusal::Contended.into())
}

/// What a request would get now, reserving nothing.
pub async fn preview(
    state: &AppState,
    conn: &mut PgConnection,
    incident_id: IncidentId,
    cmd: DemandCmd,
    now: DateTime<Utc>,
) -> AppResult<PreviewView> {
    let demand = demand(state, conn, &cmd).await?;
    let intake = Intake::New {
        pointer: "/incident_id",
    };
    let plan = plan_now(state, conn, incident_id, intake, &demand, now).await?;
    Ok(PreviewView {
        incident_id,
        status: RequestStatus::of_plan(plan.status),
        lines: views::plan_lines(&plan).map_err(anyhow::Error::from)?,
    })
}

/// Tries to fill a request's shortfall from the stock available now. Each attempt reads
/// the request and plans with no lock held, then, in one transaction, locks the request,
/// checks that it did not change, and writes the plan through the same statement as a
/// new request; the last attempt plans under the locks.
pub async fn replan<A: Answer<RequestView>>(
    state: &AppState,
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: RequestId,
    now: DateTime<Utc>,
    mut answer: A,
) -> AppResult<A::Out> {
    for attempt in 0..=OPTIMISTIC_ATTEMPTS {
        let last = attempt == OPTIMISTIC_ATTEMPTS;
        let r = db::request(conn, id, false)
            .await?
            .ok_or(Refusal::NoRequest(id))?;
        let lines = db::lines(conn, id).await?;
        let demand = shortfall(state, conn, &r, &lines).await?;
        let intake = Intake::Stored;
        let early = if last || demand.lines.is_empty() {
            None
        } else {
            Some(plan_now(state, conn, r.incident_id, intake, &demand, now).await?)
        };

        let mut tx = conn.begin().await?;
        if let Some(replay) = answer.claim(&mut tx).await? {
            return Ok(replay);
        }
        let locked = lock_request(&mut tx, id).await?;
        locked.status.after(Change::Replan)?;
        let now_lines = db::lines(&mut tx, id).await?;
        if locked.updated_at != r.updated_at
            || now_lines
                .iter()
                .map(|l| l.reserved)
                .ne(lines.iter().map(|l| l.reserved))
        {
            tx.rollback().await?;
            continue; // changed since we read it
        }
        let before = replan_before(&r, &lines);
        let plan = match early {
            Some(plan) => Some(plan),
            None if demand.lines.is_empty() => None,
            None => {
                db::lock_all_stock_of(&mut tx, &demand.item_ids()).await?;
                Some(plan_now(state, &mut tx, r.incident_id, intake, &demand, now).await?)
            }
        };
        if !write_replan(&mut tx, actor, origin, &r, &lines, &demand, plan.as_ref()).await? {
            tx.rollback().await?;
            lost_race("replan", attempt);
            continue;
        }
        return finish_change(tx, answer, id, "allocation.replan", before).await;
    }
    Err(Refusal::Contended.into())
}

/// Issues the reserved stock: one shipment per source warehouse, in one transaction.
pub async fn dispatch<A: Answer<RequestView>>(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: RequestId,
    mut answer: A,
) -> AppResult<A::Out> {
    let mut tx = conn.begin().await?;
    if let Some(replay) = answer.claim(&mut tx).await? {
        return Ok(replay);
    }
    let (status, held) = lock_held(&mut tx, id, Change::Dispatch).await?;
    let shipments = group_shipments(&held)?;
    move_held(&mut tx, actor, origin, id, &held, Change::Dispatch).await?;
    let ids: Vec<(ShipmentId, WarehouseId)> =
        shipments.keys().map(|&w| (ShipmentId::new(), w)).collect();
    let lines: Vec<(ShipmentId, LotId, i64)> = ids
        .iter()
        .zip(shipments.values())
        .flat_map(|(&(s, _), lots)| lots.iter().map(move |&(lot, qty)| (s, lot, qty)))
        .collect();
    db::insert_shipments(&mut tx, id, &ids, &lines).await?;
    db::mark_dispatched(&mut tx, id).await?;
    let before = serde_json::json!({ "status": status });
    finish_change(tx, answer, id, "allocation.dispatch", before).await
}

/// Releases a request's reservations. Only before dispatch.
pub async fn cancel<A: Answer<RequestView>>(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: RequestId,
    mut answer: A,
) -> AppResult<A::Out> {
    let mut tx = conn.begin().await?;
    if let Some(replay) = answer.claim(&mut tx).await? {
        return Ok(replay);
    }
    let (status, held) = lock_held(&mut tx, id, Change::Cancel).await?;
    move_held(&mut tx, actor, origin, id, &held, Change::Cancel).await?;
    db::mark_cancelled(&mut tx, id).await?;
    let before = serde_json::json!({ "status": status });
    finish_change(tx, answer, id, "allocation.cancel", before).await
}

/// Confirms what arrived of a shipment, with discrepancies.
pub async fn deliver<A: Answer<ShipmentView>>(
    conn: &mut PgConnection,
    id: ShipmentId,
    cmd: DeliverCmd,
    mut answer: A,
) -> AppResult<A::Out> {
    let mut tx = conn.begin().await?;
    if let Some(replay) = answer.claim(&mut tx).await? {
        return Ok(replay);
    }
    let ship = db::lock_shipment(&mut tx, id)
        .await?
        .ok_or(Refusal::NoShipment(id))?;
    let delivered = ship.status.deliver()?;
    let before = serde_json::json!({ "status": ship.status });
    let lines = db::shipment_lines(&mut tx, &[id]).await?;
    let shipped: Vec<(LotId, i64)> = lines.iter().map(|l| (l.lot_id, l.qty)).collect();
    let Delivery { received, note } = check_delivery(&shipped, &cmd.lines, cmd.note.as_deref())?;
    let at = db::mark_delivered(&mut tx, id, &received, note.as_deref()).await?;
    // What was just written: the locked shipment, delivered now, with what arrived.
    let mut view = views::shipment_views(vec![ship], lines)
        .pop()
        .ok_or(Refusal::NoShipment(id))?;
    view.status = delivered;
    view.delivered_at = Some(at);
    view.delivery_note = note;
    for (line, (_, got)) in view.lines.iter_mut().zip(received) {
        line.received_qty = Some(got);
        line.discrepancy = Some(got - line.qty);
    }
    let change = audit::Change {
        action: "shipment.deliver",
        entity_kind: "shipment",
        entity_id: id.to_string(),
        before: Some(before),
        after: Some(serde_json::to_value(&view).map_err(anyhow::Error::from)?),
    };
    answer.finish(tx, Some(change), view).await
}

/// One request with its lines, picks and shipments.
pub async fn get_request(conn: &mut PgConnection, id: RequestId) -> AppResult<RequestView> {
    load_view(conn, id).await
}

/// Requests, filtered, in id order.
pub async fn list_requests(
    conn: &mut PgConnection,
    q: RequestQuery,
) -> AppResult<Vec<RequestSummary>> {
    let rows = db::list_requests(conn, q.incident, q.status, q.after, q.limit).await?;
    Ok(rows.into_iter().map(RequestSummary::from).collect())
}

/// One shipment with its lines.
pub async fn get_shipment(conn: &mut PgConnection, id: ShipmentId) -> AppResult<ShipmentView> {
    let (ships, lines) = db::shipments(conn, None, Some(id)).await?;
    Ok(views::shipment_views(ships, lines)
        .pop()
        .ok_or(Refusal::NoShipment(id))?)
}

/// The request as stored, with lines, picks and shipments.
async fn load_view(conn: &mut PgConnection, id: RequestId) -> AppResult<RequestView> {
    let r = db::request(conn, id, false)
        .await?
        .ok_or(Refusal::NoRequest(id))?;
    let lines = db::lines(conn, id).await?;
    let picks = db::picks(conn, id).await?;
    let (ships, ship_lines) = db::shipments(conn, Some(id), None).await?;
    Ok(views::request_view(r, lines, picks, ships, ship_lines))
}

/// Locks a request (before any lot lock).
async fn lock_request(conn: &mut PgConnection, id: RequestId) -> AppResult<db::RequestRow> {
    Ok(db::request(conn, id, true)
        .await?
        .ok_or(Refusal::NoRequest(id))?)
}

/// Ends a change of a stored request: answers with the request as it now is, and
/// records the change from `before` to that.
async fn finish_change<A: Answer<RequestView>>(
    mut tx: Transaction<'_, Postgres>,
    answer: A,
    id: RequestId,
    action: &'static str,
    before: serde_json::Value,
) -> AppResult<A::Out> {
    let view = load_view(&mut tx, id).await?;
    let change = audit::Change {
        action,
        entity_kind: "allocation_request",
        entity_id: id.to_string(),
        before: Some(before),
        after: Some(view.audit_summary()),
    };
    answer.finish(tx, Some(change), view).await
}

/// A new request's demand: its lines checked, their SKUs looked up, merged per item.
async fn demand(state: &AppState, conn: &mut PgConnection, cmd: &DemandCmd) -> AppResult<Demand> {
    let qtys: Vec<i64> = cmd.lines.iter().map(|l| l.1).collect();
    check_lines(&qtys)?;
    let skus: Vec<String> = cmd.lines.iter().map(|l| l.0.clone()).collect();
    let items = known_items(state, conn, &skus).await?;
    let lines: Vec<(&str, i64)> = cmd.lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    Ok(Demand::new(
        &lines,
        &items,
        cmd.priority,
        cmd.needed_by,
        cmd.include_affected,
    )?)
}

/// What a stored request still lacks: one demand line per line not filled in full.
async fn shortfall(
    state: &AppState,
    conn: &mut PgConnection,
    r: &db::RequestRow,
    lines: &[db::LineRow],
) -> AppResult<Demand> {
    let skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
    let items = known_items(state, conn, &skus).await?;
    Ok(Demand {
        lines: lines
            .iter()
            .filter(|l| l.requested > l.reserved)
            .map(|l| DemandedItem {
                line_no: l.line_no,
                item: KnownItem {
                    id: l.item_id,
                    sku: l.sku.clone(),
                    // The planner's rule for an item without a policy.
                    min_remaining_days: items
                        .iter()
                        .find(|i| i.id == l.item_id)
                        .map_or(0, |i| i.min_remaining_days),
                    retired: false,
                },
                qty: l.requested - l.reserved,
            })
            .collect(),
        priority: r.priority,
        needed_by: r.needed_by,
        include_affected: r.include_affected_warehouses,
    })
}

/// The catalogue items with these SKUs (from the item cache when it has them all).
pub(crate) async fn known_items(
    state: &AppState,
    conn: &mut PgConnection,
    skus: &[String],
) -> AppResult<Vec<KnownItem>> {
    let items = state.item_policies.named(conn, skus, &[]).await?;
    Ok(items
        .into_iter()
        .map(|i| KnownItem {
            id: i.id,
            sku: i.sku,
            min_remaining_days: i.min_remaining_days,
            retired: i.retired,
        })
        .collect())
}

/// Reads the incident, network, warehouses and reserve levels (one round trip), routes,
/// reads each cell's stock totals given when its supplies would arrive (a second,
/// `db::planner_cells`), decides from them how much the plan draws from each cell
/// (`planner::draws`), reads only the lots those draws need (a third,
/// `db::planner_lots`), and plans at `now`. Holds no lock of its own; in the last
/// attempt the caller has already locked the lots. Its cost follows the warehouses and
/// the lots the plan picks, not the lots in the network.
async fn plan_now(
    state: &AppState,
    conn: &mut PgConnection,
    incident_id: IncidentId,
    intake: Intake,
    demand: &Demand,
    now: DateTime<Utc>,
) -> AppResult<Plan> {
    let places = db::planner_places(conn, &demand.item_ids(), incident_id).await?;
    let incident = plan::incident_for(places.incident, incident_id, intake)?;
    let (net, closed) = crate::network::network_from(&state.network, conn, places.network).await?;
    let travel = net.travel_times(
        Point::new(incident.lon, incident.lat),
        &plan::points(&places.warehouses),
        &closed,
        &state.settings.snap,
    );
    let warehouses = plan::warehouse_states(
        places.warehouses,
        travel,
        incident.affected_area.as_ref(),
        (incident.lat, incident.lon),
        state.settings.community_radius_km,
    );
    let ask = plan::stock_ask(&warehouses, demand, now, state.settings.tz);
    let cells = db::planner_cells(conn, &ask).await?;
    let lines = demand.planner_lines();
    let input = PlanInput {
        lines: &lines,
        priority: demand.planner_priority(),
        needed_by: demand.needed_by,
        include_affected_warehouses: demand.include_affected,
        delivery_target: Some(chrono::TimeDelta::hours(i64::from(
            incident.delivery_target_hours,
        ))),
        now,
        tz: state.settings.tz,
    };
    let totals = Snapshot::summarized(demand.policies(), warehouses, cells, Vec::new());
    let draws = planner::draws(&input, &totals);
    let lots = db::planner_lots(conn, &plan::lot_ask(&ask, &draws)).await?;
    let snapshot = totals.with_lots(plan::lot_states(lots));
    Ok(planner::plan(&input, &snapshot))
}

/// Writes `plan` as a new request, with its audit event, through the one statement: the
/// request as written, or `None` when the plan no longer held and nothing was written.
/// `given` are the lines as the client gave them, to name the line of an item retired
/// meanwhile; empty when the demand did not come from a client's lines.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_new(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    incident_id: IncidentId,
    demand: &Demand,
    given: &[(String, i64)],
    plan: &Plan,
    now: DateTime<Utc>,
) -> AppResult<Option<RequestView>> {
    let mut view = RequestView {
        id: RequestId::new(),
        incident_id,
        priority: demand.priority,
        needed_by: demand.needed_by,
        include_affected_warehouses: demand.include_affected,
        status: RequestStatus::of_plan(plan.status),
        created_at: now,
        updated_at: now,
        dispatched_at: None,
        cancelled_at: None,
        lines: views::plan_lines(plan).map_err(anyhow::Error::from)?,
        shipments: vec![],
    };
    // The explanations are lent to the rows and given back after the write (no copy of
    // the trees); the audit summary leaves them out.
    let explanations = view
        .lines
        .iter_mut()
        .map(|l| std::mem::take(&mut l.explanation))
        .collect();
    let rows = plan::plan_rows(plan, demand, explanations);
    let event = audit::db::pending_event(
        actor,
        origin,
        audit::Change {
            action: "allocation.request",
            entity_kind: "allocation_request",
            entity_id: view.id.to_string(),
            before: None,
            after: Some(view.audit_summary()),
        },
    );
    let request = NewRequest {
        id: view.id,
        incident_id,
        priority: demand.priority.as_str(),
        needed_by: demand.needed_by,
        include_affected_warehouses: demand.include_affected,
        status: view.status.as_str(),
        created_by: actor.id,
        request_id: origin.request_id.as_deref(),
        idempotency_key: origin.idempotency_key.as_deref(),
    };
    let written = write_rows(conn, actor, &request, &rows, demand, Some(&event))
        .await
        .map_err(|e| retired_since_checked(e, given))?;
    let Some(stamps) = written else {
        return Ok(None);
    };
    for (line, explanation) in view.lines.iter_mut().zip(rows.lines.explanation) {
        line.explanation = explanation;
    }
    view.created_at = stamps.created_at;
    view.updated_at = stamps.updated_at;
    Ok(Some(view))
}

/// A request's write refused by the database because an item was retired after the
/// demand was checked against the item cache (`allocation_request_lines_item_active`,
/// migration 230): the 422 that [`Demand::new`] gives when the cache knew, naming the
/// first of `given` (the lines as the client gave them) of that item. Any other error,
/// or an item no line of `given` names, as it is.
fn retired_since_checked(e: sqlx::Error, given: &[(String, i64)]) -> AppError {
    crate::error::raised_detail(&e, "allocation_request_lines_item_active")
        .and_then(|sku| retired_in_flight(given, sku))
        .map_or_else(|| e.into(), AppError::from)
}

/// Adds what a rationing round gives a stored request (locked by the caller, with its
/// other locks taken in the reservation order) to it: `demanded` are the lines the round
/// filled, paired by position with `plan`'s lines, written through the same statement as
/// a replan, with an `allocation.replan` audit event. The request as it now is.
pub(crate) async fn fill_open(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: RequestId,
    demanded: Vec<DemandedItem>,
    plan: &Plan,
) -> AppResult<RequestView> {
    let r = lock_request(conn, id).await?;
    r.status.after(Change::Replan)?;
    let lines = db::lines(conn, id).await?;
    let before = replan_before(&r, &lines);
    let demand = Demand {
        lines: demanded,
        priority: r.priority,
        needed_by: r.needed_by,
        include_affected: r.include_affected_warehouses,
    };
    if !write_replan(conn, actor, origin, &r, &lines, &demand, Some(plan)).await? {
        return Err(Refusal::Contended.into());
    }
    let view = load_view(conn, id).await?;
    audit::db::record(
        conn,
        actor,
        origin,
        audit::Change {
            action: "allocation.replan",
            entity_kind: "allocation_request",
            entity_id: id.to_string(),
            before: Some(before),
            after: Some(view.audit_summary()),
        },
    )
    .await?;
    Ok(view)
}

/// What a replan's audit event records as the request before it: status and reserved
/// per SKU.
fn replan_before(r: &db::RequestRow, lines: &[db::LineRow]) -> serde_json::Value {
    serde_json::json!({
        "status": r.status,
        "reserved": lines.iter().map(|l| (l.sku.clone(), l.reserved)).collect::<Vec<_>>(),
    })
}

/// Writes a replan of stored request `r` (with its `lines` as read under its lock)
/// through the one statement: what `plan` reserves is added to the lines, its picks and
/// reservations are written, and the request's status follows its lines. Without a plan
/// (nothing lacking) only the status is set again. `false`: the plan no longer held and
/// nothing was written.
async fn write_replan(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    r: &db::RequestRow,
    lines: &[db::LineRow],
    demand: &Demand,
    plan: Option<&Plan>,
) -> AppResult<bool> {
    let rows = match plan {
        Some(plan) => {
            let explanations = plan
                .lines
                .iter()
                .map(views::explanation)
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::from)?;
            plan::plan_rows(plan, demand, explanations)
        }
        None => plan::PlanRows::default(),
    };
    let added: HashMap<i32, i64> = rows
        .lines
        .line_no
        .iter()
        .copied()
        .zip(rows.lines.reserved.iter().copied())
        .collect();
    let status = RequestStatus::of_fill(lines.iter().map(|l| {
        let more = added.get(&l.line_no).copied().unwrap_or(0);
        (l.requested, l.reserved.saturating_add(more))
    }));
    let request = NewRequest {
        id: r.id,
        incident_id: r.incident_id,
        priority: r.priority.as_str(),
        needed_by: r.needed_by,
        include_affected_warehouses: r.include_affected_warehouses,
        status: status.as_str(),
        created_by: r.created_by,
        request_id: origin.request_id.as_deref(),
        idempotency_key: origin.idempotency_key.as_deref(),
    };
    let written = write_rows(conn, actor, &request, &rows, demand, None).await?;
    Ok(written.is_some())
}

/// Writes `rows` for `request` through the one statement that locks their cells,
/// re-checks them and writes only if they still hold ([`db::write_plan_if_available`]).
async fn write_rows(
    conn: &mut PgConnection,
    actor: &Actor,
    request: &NewRequest<'_>,
    rows: &plan::PlanRows,
    demand: &Demand,
    event: Option<&audit::Event>,
) -> Result<Option<db::Stamps>, sqlx::Error> {
    db::write_plan_if_available(
        conn,
        &PlanWrite {
            request,
            actor: actor.id,
            lines: &rows.lines,
            picks: &rows.picks,
            reserve: &rows.reserve,
            cells: &rows.cells,
            levels_apply: demand.levels_apply(),
            event,
        },
    )
    .await
}

/// Logs and counts a plan that lost a race.
fn lost_race(operation: &'static str, attempt: usize) {
    tracing::info!(attempt, "allocation plan lost a race; replanning");
    metrics::counter!("allocation_replans_total", "operation" => operation).increment(1);
}

/// Locks request `id` (before any lot lock), checks that `change` may apply to it, and
/// locks the lots it holds (id order): its status and what it holds.
async fn lock_held(
    conn: &mut PgConnection,
    id: RequestId,
    change: Change,
) -> AppResult<(RequestStatus, Vec<Held>)> {
    let r = lock_request(conn, id).await?;
    r.status.after(change)?;
    let held = db::held_per_lot(conn, id).await?;
    let lots: Vec<LotId> = held.iter().map(|h| h.lot).collect();
    db::lock_lots(conn, &lots).await?;
    Ok((r.status, held))
}

/// Moves what request `id` holds out of its reservation, in one ledger row per lot:
/// shipped (off the shelf) on dispatch, released (back to available) on cancel.
async fn move_held(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: RequestId,
    held: &[Held],
    change: Change,
) -> AppResult<()> {
    let shipped = change == Change::Dispatch;
    let kind = if shipped { "dispatch" } else { "release" };
    let movements: Vec<Movement<'_>> = held
        .iter()
        .map(|h| Movement {
            lot: h.lot,
            kind,
            qty: if shipped { -h.qty } else { 0 },
            reserved_delta: -h.qty,
            reason: None,
            note: None,
            ref_kind: Some("allocation_request"),
            ref_id: Some(id.0),
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
        })
        .collect();
    insert_movements(conn, &movements).await?;
    Ok(())
}
