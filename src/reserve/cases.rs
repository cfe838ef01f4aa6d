//! The reserve use cases: read the network into the pure planners' input, then preview
//! or commit a replenishment, plan rotation, or score readiness.
//!
//! A committed replenishment runs in the caller's transaction: one at a time (an
//! advisory lock), it plans, locks the cells and lots the plan draws from (cells in key
//! order, bumping their `version` as reservations do, then lots in id order), reads the
//! network again under those locks and plans again. When the new plan draws only on
//! what is locked, nothing it draws on can change before commit, and it is written: one
//! ordinary in-transit transfer per (source, destination), each through
//! `transfers::cases::send_checked` with its own audit event. When it draws on more,
//! that is locked too and the plan is made again (at most [`MAX_ATTEMPTS`] times). The
//! answer says when the plan written differs from the first one (stock changed while
//! planning) or from the preview the caller saw (its `fingerprint`).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use geo::Point;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Known, ScopeBody, db, fingerprint};
use crate::app::AppState;
use crate::audit::{Change, Origin};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{LotId, WarehouseId};
use crate::reserve_core::readiness::{self, Readiness};
use crate::reserve_core::replenish::{self, ReplenishmentPlan};
use crate::reserve_core::rotation::{self, RotationPlan, RotationPolicy};
use crate::reserve_core::{
    Inbound, NetworkState, ReserveItem, ReserveLevel, ReserveWarehouse, Scope, Snapshot, Tier,
    TierPolicy, TravelTimes,
};
use crate::rules::{LotState, level_stock};
use crate::transfers::SendLine;

/// How many times a commit plans before it gives up on stock that keeps changing.
pub const MAX_ATTEMPTS: usize = 4;

/// The network as read: the planners' input and what the answers name.
pub struct Network {
    /// The planners' input.
    pub state: NetworkState,
    /// Warehouses, by code.
    pub warehouses: Vec<db::WarehouseRow>,
    /// Items, by SKU.
    pub items: Vec<db::ItemRow>,
}

impl Network {
    /// What a scope may name.
    fn known(&self) -> (Vec<(String, Uuid)>, HashSet<String>, HashSet<String>) {
        (
            self.warehouses
                .iter()
                .map(|w| (w.code.clone(), w.id))
                .collect(),
            self.warehouses
                .iter()
                .filter_map(|w| w.district.clone())
                .collect(),
            self.items.iter().map(|i| i.sku.clone()).collect(),
        )
    }

    /// `body` as the planners' scope, or a 422 naming what is unknown.
    fn scope(&self, body: &ScopeBody) -> AppResult<Scope> {
        let (warehouses, districts, skus) = self.known();
        body.resolve(&Known {
            warehouses: &warehouses,
            districts: districts.iter().map(String::as_str).collect(),
            skus: skus.iter().map(String::as_str).collect(),
        })
    }
}

/// Reads the network on `today`: warehouses, items, levels, lots with stock, and stock in
/// transit (what of it will count toward its destination's level: `rules::level_stock`
/// of each line as received). With `travel`, also every warehouse-to-warehouse trip
/// over the road network with today's closures: handling at the source plus the road.
pub async fn read_network(
    state: &AppState,
    conn: &mut PgConnection,
    today: NaiveDate,
    travel: bool,
) -> AppResult<Network> {
    let warehouses = db::warehouses(conn).await?;
    let items = db::items(conn).await?;
    let levels = db::levels(conn).await?;
    let lots = db::lots(conn).await?;
    let in_transit = db::in_transit(conn).await?;
    let min_days: HashMap<&str, i32> = items
        .iter()
        .map(|i| (i.sku.as_str(), i.min_remaining_days))
        .collect();
    let inbound = in_transit
        .into_iter()
        .map(|t| {
            let counted = level_stock(
                &LotState {
                    id: Uuid::nil(),
                    warehouse_id: t.to_warehouse_id,
                    sku: t.sku.clone(),
                    lot_code: t.lot_code,
                    expires_on: t.expires_on,
                    on_hand: t.qty,
                    reserved: 0,
                    quarantined: false,
                },
                today,
                min_days.get(t.sku.as_str()).copied().unwrap_or(0),
            );
            Inbound {
                warehouse_id: t.to_warehouse_id,
                sku: t.sku,
                qty: counted,
            }
        })
        .collect();
    let travel = if travel {
        travel_times(state, conn, &warehouses).await?
    } else {
        TravelTimes::default()
    };
    let reserve_warehouses = warehouses
        .iter()
        .map(|w| {
            Ok(ReserveWarehouse {
                id: w.id,
                code: w.code.clone(),
                tier: Tier::parse(&w.tier)
                    .ok_or_else(|| anyhow::anyhow!("warehouse {} has tier {}", w.code, w.tier))?,
                parent: w.parent_id,
                active: w.active,
                district: w.district.clone(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let state = NetworkState {
        today,
        items: items
            .iter()
            .map(|i| ReserveItem {
                sku: i.sku.clone(),
                min_remaining_days: i.min_remaining_days,
                category: Some(i.category_code.clone()),
            })
            .collect(),
        warehouses: reserve_warehouses,
        levels: levels
            .into_iter()
            .map(|l| ReserveLevel {
                warehouse_id: l.warehouse_id,
                sku: l.sku,
                level: l.min_qty,
                target: l.target_qty,
            })
            .collect(),
        lots: lots
            .into_iter()
            .map(|l| LotState {
                id: l.id,
                warehouse_id: l.warehouse_id,
                sku: l.sku,
                lot_code: l.lot_code,
                expires_on: l.expires_on,
                on_hand: l.on_hand,
                reserved: l.reserved,
                quarantined: l.quarantined,
            })
            .collect(),
        inbound,
        travel,
        tiers: TierPolicy::default(),
    };
    Ok(Network {
        state,
        warehouses,
        items,
    })
}

/// Every warehouse-to-warehouse trip: one search per destination over the road network
/// in use, with the closures in force now; a trip costs the source's handling minutes
/// plus the road.
async fn travel_times(
    state: &AppState,
    conn: &mut PgConnection,
    warehouses: &[db::WarehouseRow],
) -> AppResult<TravelTimes> {
    let (net, closed) = crate::network::network_now(&state.network, conn).await?;
    let points: Vec<Point<f64>> = warehouses
        .iter()
        .map(|w| Point::new(w.lon, w.lat))
        .collect();
    let minutes = warehouses
        .iter()
        .map(|to| {
            net.travel_times(
                Point::new(to.lon, to.lat),
                &points,
                &closed,
                &state.settings.snap,
            )
            .into_iter()
            .zip(warehouses)
            .map(|(t, from)| t.map(|t| t.minutes + f64::from(from.handling_minutes)))
            .collect()
        })
        .collect();
    Ok(TravelTimes {
        ids: warehouses.iter().map(|w| w.id).collect(),
        minutes,
    })
}

/// A replenishment plan and what a commit of it would write.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplenishmentView {
    /// The plan: destinations (each with its sources and the sources passed over, with
    /// reasons), transfers and the procurement list. The rule is in
    /// `stockpile_core::reserve::replenish`.
    #[schema(value_type = Object)]
    pub plan: ReplenishmentPlan,
    /// Digest of the plan's transfers: give it to the commit to learn whether it wrote
    /// what this preview showed.
    pub fingerprint: String,
    /// Totals.
    pub summary: ReplenishmentSummary,
}

/// A plan's totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplenishmentSummary {
    /// Cells below their level.
    pub destinations: usize,
    /// Transfers (one per source and destination).
    pub transfers: usize,
    /// Units the transfers move.
    pub units_planned: i64,
    /// Units no source could cover (the procurement list).
    pub units_short: i64,
}

fn view(plan: ReplenishmentPlan) -> ReplenishmentView {
    let summary = ReplenishmentSummary {
        destinations: plan.destinations.len(),
        transfers: plan.transfers.len(),
        units_planned: plan.destinations.iter().map(|d| d.planned).sum(),
        units_short: plan.destinations.iter().map(|d| d.shortfall).sum(),
    };
    ReplenishmentView {
        fingerprint: fingerprint(&plan.transfers),
        plan,
        summary,
    }
}

/// What a replenishment would move now, writing nothing.
pub async fn preview(
    state: &AppState,
    conn: &mut PgConnection,
    scope: &ScopeBody,
    today: NaiveDate,
) -> AppResult<ReplenishmentView> {
    let net = read_network(state, conn, today, true).await?;
    let scope = net.scope(scope)?;
    Ok(view(replenish::plan(&Snapshot::new(net.state), &scope)))
}

/// A committed replenishment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Committed {
    /// The plan written.
    #[serde(flatten)]
    pub plan: ReplenishmentView,
    /// The transfers created, in transit, as `GET /api/v1/transfers/{id}` shows them.
    #[schema(value_type = Vec<Object>)]
    pub created: Vec<serde_json::Value>,
    /// Whether the plan written differs from the preview the caller named (`fingerprint`)
    /// or from this commit's first plan: source stock changed meanwhile, so it planned
    /// again on the stock as it now is.
    pub replanned: bool,
    /// How many times it planned again.
    pub replans: usize,
}

/// Plans and writes a replenishment (see the module documentation); the caller has
/// checked the actor may, claimed the request's key, and records the returned change
/// and commits.
pub async fn commit(
    state: &AppState,
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    scope: &ScopeBody,
    previewed: Option<&str>,
    today: NaiveDate,
) -> AppResult<(Committed, Change<'static>)> {
    db::lock_replenishment(conn).await?;
    let mut locked_cells: BTreeSet<(Uuid, Uuid)> = BTreeSet::new();
    let mut locked_lots: BTreeSet<Uuid> = BTreeSet::new();
    let mut first: Option<String> = None;
    let mut last: Option<String> = None;
    let mut replans = 0usize;
    let plan = loop {
        let net = read_network(state, conn, today, true).await?;
        let scope = net.scope(scope)?;
        let item_of: HashMap<&str, Uuid> =
            net.items.iter().map(|i| (i.sku.as_str(), i.id)).collect();
        let plan = replenish::plan(&Snapshot::new(net.state), &scope);
        let print = fingerprint(&plan.transfers);
        if last.as_ref().is_some_and(|l| *l != print) {
            replans += 1;
        }
        first.get_or_insert_with(|| print.clone());
        last = Some(print);
        let mut cells = BTreeSet::new();
        let mut lots = BTreeSet::new();
        for t in &plan.transfers {
            for line in &t.lines {
                let item = item_of
                    .get(line.sku.as_str())
                    .copied()
                    .ok_or_else(|| anyhow::anyhow!("a planned SKU {} is not an item", line.sku))?;
                cells.insert((item, t.from_id));
                lots.insert(line.lot_id);
            }
        }
        // Settled when it draws on nothing, or only on what an earlier attempt locked
        // (the first plan was read before any lock, so it is never settled by them).
        let locked_before = !locked_cells.is_empty() || !locked_lots.is_empty();
        if plan.transfers.is_empty()
            || (locked_before && cells.is_subset(&locked_cells) && lots.is_subset(&locked_lots))
        {
            break plan;
        }
        if replans >= MAX_ATTEMPTS {
            return Err(AppError::conflict(
                "/scope",
                "the source stock kept changing while the replenishment was planned; try again",
                None,
            ));
        }
        let new_cells: Vec<(Uuid, Uuid)> = cells.difference(&locked_cells).copied().collect();
        let new_lots: Vec<Uuid> = lots.difference(&locked_lots).copied().collect();
        db::lock_sources(conn, &new_cells, &new_lots).await?;
        locked_cells.extend(new_cells);
        locked_lots.extend(new_lots);
    };

    let mut created = Vec::with_capacity(plan.transfers.len());
    for t in &plan.transfers {
        let lines: Vec<SendLine> = t
            .lines
            .iter()
            .map(|l| SendLine {
                lot: LotId(l.lot_id),
                qty: l.qty,
            })
            .collect();
        let done = crate::transfers::cases::send_checked(
            conn,
            actor,
            origin,
            (WarehouseId(t.from_id), &t.from_code),
            WarehouseId(t.to_id),
            &lines,
            Some("replenishment"),
        )
        .await?;
        crate::audit::db::record(conn, actor, origin, done.change).await?;
        created.push(done.answer);
    }
    let view = view(plan);
    let replanned = replans > 0
        || first.as_deref() != Some(view.fingerprint.as_str())
        || previewed.is_some_and(|p| p != view.fingerprint);
    let change = Change {
        action: "replenishment.commit",
        entity_kind: "replenishment",
        entity_id: view.fingerprint.clone(),
        before: None,
        after: Some(serde_json::json!({
            "today": today,
            "summary": &view.summary,
            "transfers": created.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(),
            "replanned": replanned,
        })),
    };
    Ok((
        Committed {
            plan: view,
            created,
            replanned,
            replans,
        },
        change,
    ))
}

/// The rotation plan for lots expiring within `within_days` of `today`.
pub async fn rotation(
    state: &AppState,
    conn: &mut PgConnection,
    within_days: u32,
    today: NaiveDate,
) -> AppResult<RotationPlan> {
    let net = read_network(state, conn, today, true).await?;
    Ok(rotation::plan(
        &Snapshot::new(net.state),
        &RotationPolicy::new(within_days),
    ))
}

/// Readiness on `today`, per warehouse, per district and for the whole network.
pub async fn readiness(
    state: &AppState,
    conn: &mut PgConnection,
    today: NaiveDate,
) -> AppResult<Readiness> {
    let net = read_network(state, conn, today, false).await?;
    Ok(readiness::score(&Snapshot::new(net.state)))
}
