//! The rationing use cases: preview a round (reserve nothing) and commit it (reserve
//! the whole plan in the caller's transaction, or nothing), and list an operation's
//! rounds.
//!
//! A commit takes its locks in the order every reservation takes them, so it cannot
//! deadlock with single requests or another round: the operation (rounds of one
//! operation queue), the open requests it fills (id order, as a replan locks its
//! request first), then every cell and every lot of the round's items
//! (`allocation::db::lock_all_stock_of`: cells by key, then lots by id). It then reads
//! the stock and plans **under** those locks, so what it writes is what it planned and
//! what it answers is what it reserved. If the stock changed since the preview the
//! dispatcher committed (`preview_digest`), the round has simply been planned again on
//! the stock as it is: no error, and the answer says so (`replanned`). Each request goes
//! through the same statement as a single request (`write_plan_if_available`), whose
//! re-check therefore holds; if it ever did not, the whole round is refused and nothing
//! is written.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use geo::Point;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::http::{DemandIn, PriceOfFairness, RoundCmd, RoundRequest, RoundView, TotalsView};
use super::{Ask, MAX_DEMANDS, Source, Target, as_plan, check_demands, db, targets};
use crate::allocation::Priority;
use crate::allocation::plan as alloc_plan;
use crate::allocation::request::{Demand, KnownItem, Refusal};
use crate::app::AppState;
use crate::audit::{Change, Origin};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{IncidentId, OperationId, RequestId, RoundId};
use crate::incidents::{IncidentStatus, parse_area};
use crate::operations::OperationStatus;
use crate::planner::ItemPolicy;
use crate::rationing_core::{
    self as core, Baseline, Incident, Round, RoundInput, Stock, Totals, nearest_first, solve,
};

/// A round's demands, checked, with what planning them needs.
struct Prepared {
    asks: Vec<Ask>,
    incidents: Vec<db::IncidentRow>,
    items: Vec<KnownItem>,
    /// Per incident: the earliest deadline of its gathered open requests.
    needed_by: HashMap<IncidentId, DateTime<Utc>>,
    /// Incidents whose gathered open requests let affected warehouses supply.
    affected_ok: BTreeSet<IncidentId>,
}

/// What a round would reserve now, reserving nothing.
pub async fn preview(
    state: &AppState,
    conn: &mut PgConnection,
    op: OperationId,
    cmd: &RoundCmd,
    now: DateTime<Utc>,
) -> AppResult<RoundView> {
    let prepared = prepare(state, conn, op, cmd, None).await?;
    let (round, baseline) = plan(state, conn, &prepared, cmd, now).await?;
    view(op, &prepared, &round, &baseline, now, &HashMap::new())
}

/// Plans the round under its locks and reserves it, in the caller's transaction (which
/// has claimed the Idempotency-Key): one new request per (incident, priority) of the
/// given demands, what the round gives to open requests added to them, and the round's
/// row. Returns the answer and the change the audit records for the round; each request
/// records its own event.
#[allow(clippy::too_many_arguments)]
pub async fn commit(
    state: &AppState,
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    op: OperationId,
    cmd: &RoundCmd,
    preview_digest: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<(RoundView, Change<'static>)> {
    // Rounds of one operation queue on its row (`prepare` locks it first); closing it
    // waits for the round. Then the open requests it fills, then the stock.
    operation(conn, op, true).await?;
    let locked = if cmd.from_open_requests {
        db::lock_open_requests(conn, op).await?
    } else {
        Vec::new()
    };
    let prepared = prepare(state, conn, op, cmd, Some(&locked)).await?;
    let item_ids: Vec<Uuid> = prepared.items.iter().map(|i| i.id.0).collect();
    crate::allocation::db::lock_all_stock_of(conn, &item_ids).await?;
    let (round, baseline) = plan(state, conn, &prepared, cmd, now).await?;
    let mut requests: Vec<RoundRequest> = Vec::new();
    let mut line_requests: HashMap<(IncidentId, String, Priority), Vec<RequestId>> = HashMap::new();
    for ((_, target), lines) in targets(&round.lines, &prepared.asks) {
        let written = match target {
            Target::New(incident, priority) => {
                let line_nos: Vec<i32> = (0..).take(lines.len()).collect();
                let (plan, demanded) = as_plan(&lines, &line_nos, round.today);
                let demand = Demand {
                    lines: demanded,
                    priority,
                    needed_by: None,
                    include_affected: cmd.include_affected_warehouses,
                };
                let view = crate::allocation::cases::write_new(
                    conn,
                    actor,
                    origin,
                    incident,
                    &demand,
                    &[],
                    &plan,
                    now,
                )
                .await?
                .ok_or(Refusal::Contended)?;
                RoundRequest {
                    id: view.id,
                    incident_id: incident,
                    priority,
                    status: view.status.as_str().to_owned(),
                    created: true,
                }
            }
            Target::Open(id) => {
                let line_nos: Vec<i32> = lines.iter().filter_map(|l| l.line_no).collect();
                let (plan, demanded) = as_plan(&lines, &line_nos, round.today);
                let view =
                    crate::allocation::cases::fill_open(conn, actor, origin, id, demanded, &plan)
                        .await?;
                RoundRequest {
                    id,
                    incident_id: view.incident_id,
                    priority: view.priority,
                    status: view.status.as_str().to_owned(),
                    created: false,
                }
            }
        };
        for l in &lines {
            line_requests
                .entry((written.incident_id, l.item.sku.clone(), written.priority))
                .or_default()
                .push(written.id);
        }
        requests.push(written);
    }
    let mut answer = view(op, &prepared, &round, &baseline, now, &line_requests)?;
    if let Some(seen) = preview_digest
        && seen != answer.digest
    {
        answer.replanned = true;
        answer.note = Some(
            "the stock changed since the preview: the round was planned again on the stock \
             as it is, and this is what it reserved"
                .to_owned(),
        );
    }

    let id = RoundId::new();
    let summary = json!({
        "today": round.today,
        "items": answer.items,
        "totals": answer.totals,
        "nearest_first": answer.nearest_first,
        "price_of_fairness": answer.price_of_fairness,
        "digest": answer.digest,
        "requests": requests,
    });
    let demands = json!(
        round
            .lines
            .iter()
            .map(|l| json!({
                "incident_id": l.incident_id,
                "sku": l.sku,
                "priority": l.priority,
                "requested": l.requested,
                "reserved": l.reserved,
            }))
            .collect::<Vec<_>>()
    );
    db::insert_round(conn, id, op, actor.id, answer.replanned, &demands, &summary).await?;
    let created: Vec<Uuid> = requests
        .iter()
        .filter(|r| r.created)
        .map(|r| r.id.0)
        .collect();
    db::link_requests(conn, id, &created).await?;
    answer.round_id = Some(id);
    answer.committed = true;
    answer.requests = requests;
    let change = Change {
        action: "rationing.commit",
        entity_kind: "rationing_round",
        entity_id: id.to_string(),
        before: None,
        after: Some(json!({
            "operation_id": op,
            "replanned": answer.replanned,
            "demands": demands,
            "summary": summary,
        })),
    };
    Ok((answer, change))
}

/// Checks the round's demands and gathers the open shortfall: the operation exists and
/// is open; every demand names an open incident of the operation, a known active item,
/// a positive quantity. `locked`: in a commit, only these open requests are gathered
/// (the ones it locked).
async fn prepare(
    state: &AppState,
    conn: &mut PgConnection,
    op: OperationId,
    cmd: &RoundCmd,
    locked: Option<&[RequestId]>,
) -> AppResult<Prepared> {
    if locked.is_none() {
        operation(conn, op, false).await?; // a commit checked it under its lock
    }
    let qtys: Vec<i64> = cmd.demands.iter().map(|d| d.qty).collect();
    check_demands(&qtys, cmd.from_open_requests)?;

    let open = if cmd.from_open_requests {
        let mut lines = db::open_lines(conn, op).await?;
        if let Some(locked) = locked {
            let locked: BTreeSet<RequestId> = locked.iter().copied().collect();
            lines.retain(|l| locked.contains(&l.request_id));
        }
        lines
    } else {
        Vec::new()
    };

    let ids: BTreeSet<Uuid> = cmd
        .demands
        .iter()
        .map(|d| d.incident_id.0)
        .chain(open.iter().map(|l| l.incident_id.0))
        .collect();
    let incidents = db::incidents(conn, &ids.into_iter().collect::<Vec<_>>()).await?;
    for (i, d) in cmd.demands.iter().enumerate() {
        check_incident(&incidents, op, i, d)?;
    }

    let skus: BTreeSet<String> = cmd
        .demands
        .iter()
        .map(|d| d.sku.clone())
        .chain(open.iter().map(|l| l.sku.clone()))
        .collect();
    let items =
        crate::allocation::cases::known_items(state, conn, &skus.into_iter().collect::<Vec<_>>())
            .await?;
    let mut asks = Vec::with_capacity(cmd.demands.len() + open.len());
    let mut merged: HashMap<(IncidentId, &str, Priority), i64> = HashMap::new();
    for (i, d) in cmd.demands.iter().enumerate() {
        let item = items.iter().find(|it| it.sku == d.sku).ok_or_else(|| {
            AppError::invalid(
                format!("/demands/{i}/sku"),
                format!("unknown SKU `{}`", d.sku),
            )
        })?;
        if item.retired {
            return Err(AppError::invalid(
                format!("/demands/{i}/sku"),
                format!("item `{}` is retired: it can no longer be requested", d.sku),
            ));
        }
        let sum = merged
            .entry((d.incident_id, d.sku.as_str(), d.priority))
            .or_insert(0);
        *sum = sum.saturating_add(d.qty);
        if *sum > core::MAX_QTY {
            return Err(AppError::invalid(
                format!("/demands/{i}/qty"),
                format!(
                    "the demands of one incident, SKU and priority may ask for at most {} units",
                    core::MAX_QTY
                ),
            ));
        }
        asks.push(Ask {
            incident: d.incident_id,
            item: item.clone(),
            qty: d.qty,
            priority: d.priority,
            source: Source::Given(i),
        });
    }
    let mut needed_by: HashMap<IncidentId, DateTime<Utc>> = HashMap::new();
    let mut affected_ok = BTreeSet::new();
    let mut rank: HashMap<RequestId, usize> = HashMap::new();
    for l in &open {
        let n = rank.len();
        let r = *rank.entry(l.request_id).or_insert(n);
        let Some(item) = items.iter().find(|it| it.id == l.item_id) else {
            continue; // an item that vanished cannot be planned; the line stays as it is
        };
        if let Some(by) = l.needed_by {
            let e = needed_by.entry(l.incident_id).or_insert(by);
            *e = (*e).min(by);
        }
        if l.include_affected_warehouses {
            affected_ok.insert(l.incident_id);
        }
        asks.push(Ask {
            incident: l.incident_id,
            item: item.clone(),
            qty: l.lacking,
            priority: l.priority,
            source: Source::Open {
                rank: r,
                request: l.request_id,
                line_no: l.line_no,
            },
        });
    }
    if asks.is_empty() {
        return Err(AppError::invalid(
            "/from_open_requests",
            "nothing to ration: no demand was given and no open request of the operation lacks anything",
        ));
    }
    if asks.len() > MAX_DEMANDS {
        return Err(AppError::invalid(
            "/demands",
            format!(
                "a round takes at most {MAX_DEMANDS} demands; with the open requests' lines \
                 this one has {}",
                asks.len()
            ),
        ));
    }
    Ok(Prepared {
        asks,
        incidents,
        items,
        needed_by,
        affected_ok,
    })
}

/// Operation `op` exists and is open (`lock`: and holds its row until the transaction
/// ends).
async fn operation(conn: &mut PgConnection, op: OperationId, lock: bool) -> AppResult<()> {
    let operation = crate::operations::db::get(conn, op, lock)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no operation with id {op}")))?;
    if operation.status != OperationStatus::Open {
        return Err(AppError::conflict(
            "id",
            format!("operation {op} is closed; it takes no rationing round"),
            Some(json!({ "operation_status": "closed" })),
        ));
    }
    Ok(())
}

/// Demand `i` names an open incident of operation `op`.
fn check_incident(
    incidents: &[db::IncidentRow],
    op: OperationId,
    i: usize,
    d: &DemandIn,
) -> AppResult<()> {
    let pointer = format!("/demands/{i}/incident_id");
    let row = incidents
        .iter()
        .find(|r| r.id == d.incident_id)
        .ok_or_else(|| {
            AppError::invalid(
                pointer.clone(),
                format!("no incident with id {}", d.incident_id),
            )
        })?;
    if row.operation_id != Some(op) {
        return Err(AppError::invalid(
            pointer,
            format!(
                "incident {} is not in operation {op}; add it to the operation first",
                d.incident_id
            ),
        ));
    }
    if row.status != IncidentStatus::Open {
        return Err(AppError::conflict(
            pointer,
            format!(
                "incident {} is closed; it takes no new requests",
                d.incident_id
            ),
            Some(json!({ "incident_status": "closed" })),
        ));
    }
    Ok(())
}

/// Reads the network, warehouses, reserve levels and every lot of the round's items,
/// routes each incident, and plans the round by the rule, with the nearest-first
/// baseline beside it.
async fn plan(
    state: &AppState,
    conn: &mut PgConnection,
    prepared: &Prepared,
    cmd: &RoundCmd,
    now: DateTime<Utc>,
) -> AppResult<(Round, Baseline)> {
    let item_ids: Vec<Uuid> = prepared.items.iter().map(|i| i.id.0).collect();
    let any_incident = prepared
        .incidents
        .first()
        .map(|i| i.id)
        .ok_or_else(|| anyhow::anyhow!("a round with demands has incidents"))?;
    let places = crate::allocation::db::planner_places(conn, &item_ids, any_incident).await?;
    let (net, closed) =
        crate::network::cases::network_from(&state.network, conn, places.network).await?;
    let points = alloc_plan::points(&places.warehouses);
    let mut incidents = Vec::with_capacity(prepared.incidents.len());
    for inc in &prepared.incidents {
        let area = inc
            .affected_area
            .as_ref()
            .map(|a| parse_area(a, "/affected_area", false))
            .transpose()?;
        let travel = net.travel_times(
            Point::new(inc.lon, inc.lat),
            &points,
            &closed,
            &state.settings.snap,
        );
        let warehouses = alloc_plan::warehouse_states(
            places.warehouses.clone(),
            travel,
            area.as_ref(),
            (inc.lat, inc.lon),
            state.settings.community_radius_km,
        );
        incidents.push(Incident {
            id: inc.id.0,
            code: inc.name.clone(),
            now,
            needed_by: prepared.needed_by.get(&inc.id).copied(),
            delivery_target: TimeDelta::hours(i64::from(inc.delivery_target_hours)),
            include_affected_warehouses: cmd.include_affected_warehouses
                || prepared.affected_ok.contains(&inc.id),
            warehouses,
        });
    }
    // Identity, codes and reserve levels (the same for every incident's view).
    let warehouses = incidents
        .first()
        .map(|i| i.warehouses.clone())
        .unwrap_or_default();
    let policies = prepared
        .items
        .iter()
        .map(|i| ItemPolicy {
            sku: i.sku.clone(),
            min_remaining_days: i.min_remaining_days,
        })
        .collect();
    let lots = alloc_plan::lot_states(db::lots(conn, &item_ids).await?);
    let stock = Stock::new(policies, warehouses, lots);
    let demands: Vec<core::Demand> = prepared
        .asks
        .iter()
        .map(|a| core::Demand {
            incident_id: a.incident.0,
            sku: a.item.sku.clone(),
            qty: a.qty,
            priority: a.priority.planner(),
        })
        .collect();
    let input = RoundInput {
        incidents: &incidents,
        demands: &demands,
        now,
        tz: state.settings.tz,
    };
    Ok((solve(&stock, &input), nearest_first(&stock, &input)))
}

/// Which requests each line of a committed round (incident, SKU, priority) went to.
type Links = HashMap<(IncidentId, String, Priority), Vec<RequestId>>;

/// The answer for a planned round; `links`: the requests its lines were written to.
fn view(
    op: OperationId,
    prepared: &Prepared,
    round: &Round,
    baseline: &Baseline,
    now: DateTime<Utc>,
    links: &Links,
) -> AppResult<RoundView> {
    let lines: Vec<Value> = round
        .lines
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(l)?;
            v["fill_percent"] = json!(l.fill() * 100.0);
            let key = (
                IncidentId(l.incident_id),
                l.sku.clone(),
                Priority::of_planner(l.priority),
            );
            v["request_ids"] = json!(links.get(&key).cloned().unwrap_or_default());
            Ok(v)
        })
        .collect::<Result<_, serde_json::Error>>()
        .map_err(anyhow::Error::from)?;
    let items: Vec<Value> = round
        .items
        .iter()
        .map(|i| {
            json!({
                "sku": i.sku,
                "tiers": i.tiers.iter().map(|t| json!({
                    "priority": t.priority,
                    "lines": t.lines,
                    "requested": t.requested,
                    "reserved": t.reserved,
                    "min_fill": t.min_fill,
                    "min_fill_percent": t.min_fill_percent,
                    "sentence": t.sentence(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let incidents: Vec<Value> = prepared
        .incidents
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "name": i.name,
                "lat": i.lat,
                "lon": i.lon,
                "delivery_target_hours": i.delivery_target_hours,
            })
        })
        .collect();
    let totals = TotalsView::from(round.totals);
    let nearest = TotalsView::from(baseline.totals);
    Ok(RoundView {
        operation_id: op,
        round_id: None,
        committed: false,
        planned_at: now,
        today: round.today,
        digest: digest(round),
        replanned: false,
        note: None,
        incidents,
        lines,
        items,
        price_of_fairness: PriceOfFairness {
            nearest_first_delivers_more: nearest.delivered - totals.delivered,
            nearest_first_mean_eta_sooner_minutes: totals.mean_eta_minutes
                - nearest.mean_eta_minutes,
        },
        totals,
        nearest_first: nearest,
        requests: Vec::new(),
    })
}

impl From<Totals> for TotalsView {
    fn from(t: Totals) -> TotalsView {
        TotalsView {
            delivered: t.delivered,
            qty_eta_minutes: t.qty_eta_minutes,
            mean_eta_minutes: t.mean_eta_minutes(),
        }
    }
}

/// A digest of what a plan reserves: per line (incident, SKU, priority), the lots and
/// quantities. A preview and a commit with the same digest reserve the same.
fn digest(round: &Round) -> String {
    // One solver line per (incident, SKU, priority); hashed in key order, picks sorted.
    let mut lines: Vec<&core::RationLine> = round.lines.iter().collect();
    lines.sort_by_key(|l| (l.incident_id, l.sku.as_str(), l.priority as u8));
    let mut h = Sha256::new();
    for l in lines {
        h.update(format!(
            "{}|{}|{}\n",
            l.incident_id, l.sku, l.priority as u8
        ));
        let mut picks: Vec<(Uuid, i64)> = l.picks.iter().map(|p| (p.lot_id, p.qty)).collect();
        picks.sort_unstable();
        for (lot, qty) in picks {
            h.update(format!("{lot}:{qty}\n"));
        }
    }
    hex::encode(h.finalize())
}
