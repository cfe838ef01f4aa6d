//! Rationing (issue 17): one plan that shares scarce stock between the competing incidents
//! of an operation by a published rule, instead of first come, first served.
//!
//! A round takes the stock once ([`Stock`]: items, warehouses with their reserve levels,
//! lots), the incidents ([`Incident`]: each with its own view of every warehouse — ETA,
//! distance, affected area, service radius — its dispatch instant `now`, `needed_by` and
//! delivery target), and demand lines `{incident, sku, qty, priority}` ([`Demand`]).
//! Lines with the same (incident, SKU, priority) are merged. It returns one
//! [`RationLine`] per merged line: reserved, shortfall, picks, and the warehouses passed
//! over with their reasons, in the single-request planner's shape.
//!
//! # The rule
//! Applied per item, over the one snapshot of the stock:
//! 1. **Eligibility is the single-request rule, per (warehouse, incident) pair.** A
//!    warehouse can supply an incident unless `rules::warehouse_block` says why not
//!    (inactive, outside a community point's radius, unreachable, inside the affected area
//!    unless the incident allows it); a warehouse missing from an incident's list is
//!    unreachable. Its supplies arrive at `rules::arrival(incident.now, eta)`, and a lot
//!    can go to that incident iff `rules::lot_usable(lot, rules::required_expiry(arrival
//!    date, the item's minimum remaining days))` is `Ok`.
//! 2. **Reserve floors.** Critical lines may use all usable stock. High and normal lines
//!    draw a (warehouse, item) cell only down to its reserve level: at most
//!    `rules::drawable` of it, where the floor is measured as Σ `rules::level_stock` on
//!    the round's date (`RoundInput::now`) *after what higher tiers of the round took*.
//!    Writing the round's requests critical first, then high, then normal, each therefore
//!    passes the floor re-check a single request makes (`rules::plan_holds`).
//! 3. **Tiers.** Critical lines are planned first, then high, then normal. A tier is
//!    planned completely — quantities, warehouses and lots — and fixed; the next tier is
//!    planned on what is left. A lower tier thus gets only what no higher tier could use.
//!    Fixing a higher tier's *routing* (not only its quantities) is deliberate: with the
//!    floor measured after critical draws (rule 2) the set of joint plans is not convex,
//!    so re-routing a higher tier for the benefit of a lower one is no flow problem; and a
//!    higher tier's routing (rule 7) should not bend to lower tiers.
//! 4. **Within a tier, leximin on fill ratio** `reserved ÷ requested`: the smallest ratio
//!    of the tier's lines is as large as it can be, then the next smallest, and so on.
//!    From one shared pool every line gets the same share. A line that only part of the
//!    stock can reach (closures, affected area, expiry on arrival, floors) may end lower,
//!    and what it cannot use raises the others. In exact arithmetic the leximin
//!    allocation `x*` is unique.
//! 5. **Whole units.** Each line gets `⌊x*⌋` or `⌈x*⌉`: first `⌊x*⌋`, then the units left
//!    over go one at a time to the lines in order of the largest fractional remainder of
//!    `x*` (ties: incident code, then incident id), each only if the stock can still
//!    deliver it to that line (an augmenting path exists); one unit per line at most.
//!    Every line is thus within one unit of its exact leximin share.
//! 6. **Then the most total quantity.** Nothing to choose here: the leximin allocation in
//!    a flow network already delivers the maximum (the deliverable vectors form a
//!    polymatroid, whose leximin point is a base), and rule 5 keeps it (greedy unit
//!    additions in a polymatroid reach the maximum in any order).
//! 7. **Then the least Σ qty × ETA** (ETA per (warehouse, incident) pair, in whole
//!    milliseconds); among equal ones, units from warehouses earlier in (code, id) order,
//!    and within a warehouse from the earlier-expiring of the stock an incident may use.
//! 8. **Lots, first expiry first out.** Within a warehouse, each incident's share is
//!    taken from the earliest-expiring lots it may use (lots by expiry, no expiry last,
//!    then lot code); incidents sharing the same lots take them in (code, id) order.
//! 9. **Late.** A pick `misses_target` when `now + ETA` is after the incident's delivery
//!    target (`now + delivery_target`), is `after_needed_by` when after `needed_by`, and
//!    is `late` when either; late picks are still taken.
//! 10. **Explanation.** Every warehouse that holds the item but gave a line less than it
//!    holds is listed once for that line ([`Passed`]): its block; `not_needed` when the
//!    line is filled; `reserve_level` when the floor held usable stock back;
//!    `fully_reserved` when other lines of the round took what the line could have used
//!    (the round reserves it for their requests; `to_other_lines` says how much);
//!    otherwise the lot-level reason with the most stock behind it, as the planner says.
//!
//! # Algorithm
//! Per item and tier, a transportation problem: supply nodes are (warehouse, expiry
//! class) groups of lots, demand nodes the tier's lines. An incident may use a suffix of a
//! cell's lots in FEFO order (the lots that last until its required date), so the cell's
//! lots are cut where the incidents' suffixes start: each piece is one supply node, with
//! an edge to every line whose suffix contains it, and a non-critical tier's floor is one
//! gate node over the cell's pieces. Per (warehouse, incident) the usable quantity comes
//! from FEFO prefix sums, never per-lot edges, so the graph has O(cells × incidents)
//! edges and memory stays flat in the number of lots.
//! - Leximin: water-filling over max-flow. The largest `t` with every line ≥ `t · qty`
//!   is found by Newton's (Dinkelbach's) iteration on the minimum cut: at a trial `t`, a
//!   max flow with demands `t · qty` (capacities scaled to whole numbers) either serves
//!   all — then `t` is the level — or its minimum cut names the lines that cannot have
//!   `t`, and their cut capacity ÷ their demand is the next, smaller trial. The lines
//!   behind the final cut are fixed at `t · qty` and removed together with the stock
//!   that only they use; repeat until every line is fixed or full. Levels are exact
//!   fractions of whole numbers.
//! - Rounding (rule 5): a max flow to the floors, then single-unit augmenting paths.
//! - Rule 7: minimum-cost flow by successive shortest paths (Dijkstra on reduced costs)
//!   with lexicographic costs (ETA, then warehouse order and expiry class). The searches
//!   take exact shortcuts (a bound from the direct paths, edges sorted by cost, stock
//!   nodes relaxed outside the heap), described in `flow.rs`.
//! - Rule 8: lots assigned FEFO within each (warehouse, incident) flow.
//!
//! No crate is used for the flows: the maintained min-cost-flow crates are either not
//! pure Rust (`mcmf` builds LEMON's C++) or GPL (`rs-graph`), and LP crates need
//! HiGHS/cmake or floating point, while the exact fractions of rule 4 need a max flow
//! with integer capacities. `flow.rs` holds a compact Dinic and successive shortest
//! paths, property-tested on their own (Dinic against the min cut by enumeration; every
//! min-cost flow against Bellman–Ford: no negative residual cycle) and, through whole
//! rounds, against an independent formulation (see `tests/brute.rs`).
//!
//! Cost: per item and tier, a few max flows on a graph of O(cells × lines) edges, and
//! one min-cost flow; memory is the stock's index (flat in the number of lots) plus, per
//! item, O(lines × cells). The answer itself lists, per line, every warehouse holding the
//! item that gave the line less than it holds, as the single-request planner does.
//!
//! Quantities are taken up to [`MAX_QTY`] units per lot and per line, far beyond any
//! stock, so that scaled capacities cannot overflow.
//!
//! Invariants: pure and deterministic (no clock, I/O, randomness or hash-order
//! dependence); results do not depend on the order of any input list; a lot is never
//! drawn beyond its available quantity; per line, reserved + shortfall = requested.

mod flow;
mod item;
mod stock;

pub use stock::Stock;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::planner::{DemandLine, ItemPolicy, Plan, PlanInput, Priority, Skipped, Snapshot, plan};
use crate::rules::{LotState, SkipReason, WarehouseState, arrival, warehouse_block};

/// The largest quantity of one lot or one line the solver takes into account (10¹²).
pub const MAX_QTY: i64 = 1_000_000_000_000;

/// An incident of the round, with how it sees every warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Incident id.
    pub id: Uuid,
    /// Incident code; orders incidents wherever ties are broken.
    pub code: String,
    /// When its supplies leave: arrival is `now + ETA`.
    pub now: DateTime<Utc>,
    /// When the supplies must be there, if the dispatcher said so.
    pub needed_by: Option<DateTime<Utc>>,
    /// The delivery target: the first batch must arrive within this of `now` (county 6 h,
    /// city 8 h, province 10 h by default; the caller decides).
    pub delivery_target: TimeDelta,
    /// Whether warehouses inside the affected area may supply it.
    pub include_affected_warehouses: bool,
    /// How each warehouse is seen from this incident: ETA, distance, affected area,
    /// service radius. Codes and reserve levels here are ignored (the [`Stock`]'s
    /// warehouses give them). A warehouse not listed cannot supply this incident; if one
    /// is listed twice, the first listing wins.
    pub warehouses: Vec<WarehouseState>,
}

/// One demand line of the round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Demand {
    /// The incident asking ([`Incident::id`]). A line of an incident not in the round gets
    /// nothing (the HTTP layer rejects such lines first).
    pub incident_id: Uuid,
    /// Item SKU.
    pub sku: String,
    /// Quantity in the item's base unit; a non-positive merged quantity asks for nothing.
    pub qty: i64,
    /// Tier of the line.
    pub priority: Priority,
}

/// Everything about a round except the stock.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundInput<'a> {
    /// The competing incidents.
    pub incidents: &'a [Incident],
    /// What they ask for.
    pub demands: &'a [Demand],
    /// The planning instant: reserve floors are measured on its date (rule 2).
    pub now: DateTime<Utc>,
    /// The deployment time zone, which fixes calendar dates for expiry checks.
    pub tz: chrono_tz::Tz,
}

/// The plan of a round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    /// One line per merged (incident, SKU, priority), in order of first appearance.
    pub lines: Vec<RationLine>,
    /// Per item (SKU order), how each tier fared.
    pub items: Vec<ItemSummary>,
    /// Total delivered, and Σ qty × ETA.
    pub totals: Totals,
    /// The planning date: the day reserve floors were measured on.
    pub today: NaiveDate,
}

/// The plan for one merged line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RationLine {
    /// The incident.
    pub incident_id: Uuid,
    /// Its code (empty for an incident not in the round).
    pub incident_code: String,
    /// Item SKU.
    pub sku: String,
    /// Tier.
    pub priority: Priority,
    /// Merged quantity requested (never negative).
    pub requested: i64,
    /// Σ picks.
    pub reserved: i64,
    /// requested − reserved.
    pub shortfall: i64,
    /// Picks, nearest warehouse first, FEFO within a warehouse.
    pub picks: Vec<RationPick>,
    /// Warehouses holding the item that gave this line less than they hold, in order of
    /// ETA from the incident, then code (unreachable last).
    pub explanation: Vec<Passed>,
}

impl RationLine {
    /// reserved ÷ requested (1 for a line that asks for nothing).
    pub fn fill(&self) -> f64 {
        if self.requested <= 0 {
            1.0
        } else {
            self.reserved as f64 / self.requested as f64
        }
    }
}

/// Quantity taken from one lot for one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RationPick {
    /// Warehouse id.
    pub warehouse_id: Uuid,
    /// Warehouse code.
    pub warehouse_code: String,
    /// Lot id.
    pub lot_id: Uuid,
    /// Lot code.
    pub lot_code: String,
    /// Lot expiry.
    pub expires_on: Option<NaiveDate>,
    /// Quantity taken (> 0).
    pub qty: i64,
    /// The warehouse's ETA to the incident, in minutes.
    pub eta_minutes: f64,
    /// The road distance, when the caller gave it.
    pub distance_km: Option<f64>,
    /// Arrival instant: the incident's `now` + ETA.
    pub arrives_at: DateTime<Utc>,
    /// Arrival is after the delivery target.
    pub misses_target: bool,
    /// Arrival is after `needed_by`.
    pub after_needed_by: bool,
    /// Either of the two.
    pub late: bool,
}

/// A warehouse passed over for one line: the planner's [`Skipped`], plus what other lines
/// of the round took of the stock this line could have used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passed {
    /// The planner's explanation; `protected` is what the floor held back when this
    /// line's tier was planned.
    #[serde(flatten)]
    pub skipped: Skipped,
    /// Units this line could have used that other lines of the round took.
    pub to_other_lines: i64,
}

/// How one item's lines fared, per tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemSummary {
    /// Item SKU.
    pub sku: String,
    /// One entry per tier with lines, critical first.
    pub tiers: Vec<TierSummary>,
}

/// One tier of one item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierSummary {
    /// The tier.
    pub priority: Priority,
    /// Lines asking for something.
    pub lines: usize,
    /// Σ requested.
    pub requested: i64,
    /// Σ reserved.
    pub reserved: i64,
    /// The smallest fill ratio among the lines.
    pub min_fill: f64,
    /// `min_fill` in whole percent, rounded down: every line got at least this.
    pub min_fill_percent: u32,
}

impl TierSummary {
    /// The summary as a dispatcher reads it, e.g. "every critical line got at least 62%".
    pub fn sentence(&self) -> String {
        let tier = match self.priority {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
        };
        format!(
            "every {tier} line got at least {}% of its demand",
            self.min_fill_percent
        )
    }
}

/// What a plan delivers, for the price of fairness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Units reserved.
    pub delivered: i64,
    /// Σ qty × ETA in unit-minutes: the lower, the sooner on average.
    pub qty_eta_minutes: f64,
}

impl Totals {
    /// Mean ETA per delivered unit, in minutes (0 when nothing is delivered).
    pub fn mean_eta_minutes(&self) -> f64 {
        if self.delivered > 0 {
            self.qty_eta_minutes / self.delivered as f64
        } else {
            0.0
        }
    }
}

/// The lines of a round merged by (incident, SKU, priority), in order of first appearance.
fn merge(demands: &[Demand]) -> Vec<Demand> {
    let mut merged: Vec<Demand> = Vec::with_capacity(demands.len());
    let mut pos: HashMap<(Uuid, &str, Priority), usize> = HashMap::new();
    for d in demands {
        match pos.get(&(d.incident_id, d.sku.as_str(), d.priority)) {
            Some(&i) => merged[i].qty = merged[i].qty.saturating_add(d.qty),
            None => {
                pos.insert((d.incident_id, d.sku.as_str(), d.priority), merged.len());
                merged.push(d.clone());
            }
        }
    }
    merged
}

/// How a warehouse is seen from an incident, computed once per pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair {
    /// Why it cannot supply, if it cannot.
    pub(crate) block: Option<SkipReason>,
    pub(crate) arrival: Option<(DateTime<Utc>, NaiveDate)>,
    /// ETA in minutes; infinite when unreachable.
    pub(crate) eta: f64,
    /// As given (for the explanation).
    pub(crate) eta_given: Option<f64>,
    /// ETA in whole milliseconds, the cost of rule 7.
    pub(crate) eta_ms: i64,
    pub(crate) distance_km: Option<f64>,
}

/// What an explanation reads of a pair: [`Pair`]'s hot fields, small enough that a line's
/// walk over every warehouse stays in cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hot {
    pub(crate) block: Option<SkipReason>,
    /// Whether there is an arrival date.
    pub(crate) arrives: bool,
    pub(crate) eta_given: Option<f64>,
}

/// The incidents of a round in (code, id) order, with their pairs.
pub(crate) struct Incidents<'a> {
    /// Canonical order; the first listing of an id wins.
    pub(crate) list: Vec<&'a Incident>,
    pub(crate) index: HashMap<Uuid, usize>,
    /// `pairs[incident * W + warehouse]`.
    pub(crate) pairs: Vec<Pair>,
    /// [`Hot`] of each pair, indexed as `pairs`.
    pub(crate) hot: Vec<Hot>,
    /// `order[incident * W..][..W]`: warehouse indices by (ETA, code, id), unreachable
    /// last: the order in which an explanation lists them.
    pub(crate) order: Vec<u32>,
}

impl<'a> Incidents<'a> {
    fn new(stock: &Stock, incidents: &'a [Incident], tz: chrono_tz::Tz) -> Incidents<'a> {
        let mut list: Vec<&Incident> = incidents.iter().collect();
        list.sort_by(|a, b| a.code.cmp(&b.code).then(a.id.cmp(&b.id)));
        let mut index = HashMap::with_capacity(list.len());
        list.retain(|i| {
            let fresh = !index.contains_key(&i.id);
            if fresh {
                index.insert(i.id, index.len());
            }
            fresh
        });
        let nw = stock.warehouses.len();
        let unreachable = Pair {
            block: Some(SkipReason::Unreachable),
            arrival: None,
            eta: f64::INFINITY,
            eta_given: None,
            eta_ms: i64::MAX,
            distance_km: None,
        };
        let mut pairs = vec![unreachable; list.len() * nw];
        for (i, incident) in list.iter().enumerate() {
            let mut seen = vec![false; nw];
            for view in &incident.warehouses {
                let Some(&w) = stock.warehouse_of.get(&view.id) else {
                    continue;
                };
                let w = w as usize;
                if std::mem::replace(&mut seen[w], true) {
                    continue;
                }
                let block = warehouse_block(view, incident.include_affected_warehouses);
                let arrival = arrival(incident.now, view.eta_minutes, tz);
                let block = match (block, arrival) {
                    (None, None) => Some(SkipReason::Unreachable), // beyond the calendar
                    (b, _) => b,
                };
                let eta = view
                    .eta_minutes
                    .filter(|e| e.is_finite() && *e >= 0.0)
                    .unwrap_or(f64::INFINITY);
                pairs[i * nw + w] = Pair {
                    block,
                    arrival,
                    eta,
                    eta_given: view.eta_minutes,
                    // Saturating cast; an infinite ETA never gets this far unblocked.
                    eta_ms: (eta * 60_000.0).round() as i64,
                    distance_km: view.distance_km,
                };
            }
        }
        let mut order = Vec::with_capacity(pairs.len());
        for i in 0..list.len() {
            let row = &pairs[i * nw..(i + 1) * nw];
            let mut ws: Vec<u32> = (0..nw as u32).collect();
            ws.sort_by(|&a, &b| {
                row[a as usize]
                    .eta
                    .total_cmp(&row[b as usize].eta)
                    .then(a.cmp(&b))
            });
            order.extend(ws);
        }
        let hot = pairs
            .iter()
            .map(|p| Hot {
                block: p.block,
                arrives: p.arrival.is_some(),
                eta_given: p.eta_given,
            })
            .collect();
        Incidents {
            list,
            index,
            pairs,
            hot,
            order,
        }
    }
}

/// Plans a round. See the module documentation for the rule.
pub fn solve(stock: &Stock, input: &RoundInput) -> Round {
    let today = input.now.with_timezone(&input.tz).date_naive();
    let incidents = Incidents::new(stock, input.incidents, input.tz);
    let merged = merge(input.demands);
    let mut lines: Vec<RationLine> = merged
        .iter()
        .map(|d| RationLine {
            incident_id: d.incident_id,
            incident_code: incidents
                .index
                .get(&d.incident_id)
                .map(|&i| incidents.list[i].code.clone())
                .unwrap_or_default(),
            sku: d.sku.clone(),
            priority: d.priority,
            requested: d.qty.max(0),
            reserved: 0,
            shortfall: d.qty.max(0),
            picks: Vec::new(),
            explanation: Vec::new(),
        })
        .collect();

    let mut by_sku: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in merged.iter().enumerate() {
        by_sku.entry(d.sku.as_str()).or_default().push(i);
    }
    let mut items = Vec::with_capacity(by_sku.len());
    for (sku, of_item) in &by_sku {
        item::solve_item(stock, &incidents, today, sku, of_item, &mut lines);
        items.push(summary(sku, of_item.iter().map(|&i| &lines[i])));
    }
    let totals = totals(
        lines
            .iter()
            .flat_map(|l| &l.picks)
            .map(|p| (p.qty, p.eta_minutes)),
    );
    Round {
        lines,
        items,
        totals,
        today,
    }
}

fn summary<'a>(sku: &str, lines: impl Iterator<Item = &'a RationLine> + Clone) -> ItemSummary {
    let tiers = [Priority::Critical, Priority::High, Priority::Normal]
        .into_iter()
        .filter_map(|priority| {
            let of_tier = lines
                .clone()
                .filter(|l| l.priority == priority && l.requested > 0);
            let n = of_tier.clone().count();
            (n > 0).then(|| {
                let min_fill = of_tier.clone().map(RationLine::fill).fold(1.0, f64::min);
                // Whole percent, rounded down exactly: min over ⌊100 · reserved / requested⌋.
                let min_fill_percent = of_tier
                    .clone()
                    .map(|l| {
                        let p = i128::from(l.reserved) * 100 / i128::from(l.requested);
                        u32::try_from(p).unwrap_or(100)
                    })
                    .min()
                    .unwrap_or(100);
                TierSummary {
                    priority,
                    lines: n,
                    requested: of_tier.clone().map(|l| l.requested).sum(),
                    reserved: of_tier.map(|l| l.reserved).sum(),
                    min_fill,
                    min_fill_percent,
                }
            })
        })
        .collect();
    ItemSummary {
        sku: sku.to_owned(),
        tiers,
    }
}

fn totals(picks: impl Iterator<Item = (i64, f64)>) -> Totals {
    picks.fold(Totals::default(), |t, (qty, eta)| Totals {
        delivered: t.delivered.saturating_add(qty),
        qty_eta_minutes: t.qty_eta_minutes + qty as f64 * eta,
    })
}

/// The first-come-first-served plan of the same demands, for the price of fairness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// One single-request plan per merged line of the round, in the round's line order.
    pub plans: Vec<Plan>,
    /// Total delivered, and Σ qty × ETA.
    pub totals: Totals,
}

/// Plans the round's merged lines one at a time, in request order, with the
/// single-request planner ([`crate::planner::plan`]: nearest first, each line its own
/// request with its incident's `now`, `needed_by` and affected-area choice, and its own
/// priority), each against the stock the earlier lines left (their picks are added to
/// the lots' `reserved`). This is what dispatch would do today without rationing;
/// compare its [`Totals`] with [`Round::totals`] to show what fairness costs.
///
/// Each line is planned on a snapshot of only its item's lots, so the cost is
/// O(Σ over lines of the item's lots), and memory holds one item's lots at a time.
pub fn nearest_first(stock: &Stock, input: &RoundInput) -> Baseline {
    let incidents = Incidents::new(stock, input.incidents, input.tz);
    // Running reservations per lot, by position in the stock's lot order.
    let mut taken: HashMap<usize, i64> = HashMap::new();
    let lot_pos: HashMap<Uuid, usize> = stock
        .lots
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id, i))
        .collect();
    let mut plans = Vec::new();
    for d in merge(input.demands) {
        let lines = [DemandLine {
            sku: d.sku.clone(),
            qty: d.qty,
        }];
        let Some(&i) = incidents.index.get(&d.incident_id) else {
            // Unknown incident: nothing is reachable.
            let snap = Snapshot::new(Vec::new(), Vec::new(), Vec::new());
            plans.push(plan(&request(&lines, &d, None, input), &snap));
            continue;
        };
        let incident = incidents.list[i];
        // The incident's view of each warehouse, with the stock's reserve levels.
        let warehouses: Vec<WarehouseState> = incident
            .warehouses
            .iter()
            .filter_map(|v| {
                let &w = stock.warehouse_of.get(&v.id)?;
                let mut v = v.clone();
                v.reserve_levels = stock.warehouses[w as usize].reserve_levels.clone();
                Some(v)
            })
            .collect();
        let mut lots: Vec<LotState> = Vec::new();
        for cell in stock.cells_of(&d.sku) {
            for p in cell.lots.clone() {
                let mut lot = stock.lots[p].clone();
                if let Some(t) = taken.get(&p) {
                    lot.reserved = lot.reserved.saturating_add(*t);
                }
                lots.push(lot);
            }
        }
        let items = vec![ItemPolicy {
            sku: d.sku.clone(),
            min_remaining_days: stock.min_days_of(&d.sku),
        }];
        let snap = Snapshot::new(items, warehouses, lots);
        let p = plan(&request(&lines, &d, Some(incident), input), &snap);
        for pick in p.lines.iter().flat_map(|l| &l.picks) {
            if let Some(&pos) = lot_pos.get(&pick.lot_id) {
                *taken.entry(pos).or_insert(0) += pick.qty;
            }
        }
        plans.push(p);
    }
    let totals = totals(
        plans
            .iter()
            .flat_map(|p| &p.lines)
            .flat_map(|l| &l.picks)
            .map(|p| (p.qty, p.eta_minutes)),
    );
    Baseline { plans, totals }
}

fn request<'a>(
    lines: &'a [DemandLine],
    d: &Demand,
    incident: Option<&Incident>,
    input: &RoundInput,
) -> PlanInput<'a> {
    PlanInput {
        lines,
        priority: d.priority,
        needed_by: incident.and_then(|i| i.needed_by),
        include_affected_warehouses: incident.is_some_and(|i| i.include_affected_warehouses),
        delivery_target: incident.map(|i| i.delivery_target),
        now: incident.map_or(input.now, |i| i.now),
        tz: input.tz,
    }
}

#[cfg(test)]
mod tests;
