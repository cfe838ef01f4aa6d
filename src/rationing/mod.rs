//! Rationing rounds over HTTP (issue 17): the competing demands of an operation's
//! incidents planned together by the published rule of [`crate::rationing_core`]
//! (`stockpile_core::rationing`: priority tiers, then leximin on fill ratio, then the
//! most units, then the least Σ qty × ETA, then FEFO), and reserved in one transaction.
//!
//! Layers: this file holds the pure rules of a round as the service sees it (what a
//! valid demand list is, how a merged line's picks go back to the demands it merged, and
//! which request each demand is written to); `cases` the preview and commit use cases;
//! `db` the SQL; `http` the handlers and the answer's shape.
//!
//! A committed round writes ordinary allocation requests, so dispatch, delivery, cancel
//! and replan work on them unchanged:
//! - the demands given in the body become one new request per (incident, priority),
//!   linked to the round (`allocation_requests.round_id`);
//! - with `from_open_requests`, the unfilled shortfall of the operation's open requests
//!   joins the round, and what the round gives them is added to those requests (a
//!   replan by the round's rule instead of first come, first served).
//!
//! The solver merges demands with the same (incident, SKU, priority). What a merged line
//! reserved goes back to its demands in a fixed order (open requests by creation, then
//! the body's demands in order), each filled in turn from the line's picks in pick order
//! ([`split`]).
//!
//! Invariants: per demand, reserved ≤ asked, and the demands of a merged line together
//! get exactly its picks; requests are written critical first, then high, then normal,
//! so each passes the reservation statement's floor re-check (`rules::plan_holds`) on the
//! stock the higher tiers of the round left.

pub mod cases;
pub mod db;
pub mod http;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::allocation::Priority;
use crate::allocation::request::{DemandedItem, KnownItem, RequestStatus};
use crate::error::AppError;
use crate::ids::{IncidentId, RequestId};
use crate::planner::{Pick, Plan, PlanLine, PlanStatus, Skipped};
use crate::rationing_core::{RationLine, RationPick};

/// Most demand lines a round takes (given and gathered from open requests together).
pub const MAX_DEMANDS: usize = 2000;

/// Where a demand of the round comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The unfilled shortfall of a stored request's line. Sorts before `Given`.
    Open {
        /// Position of the request among the gathered ones (creation order).
        rank: usize,
        /// The request.
        request: RequestId,
        /// Its line.
        line_no: i32,
    },
    /// The body's demand at this index.
    Given(usize),
}

/// One demand of the round, checked: a known, active item, a positive quantity, an open
/// incident of the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The incident.
    pub incident: IncidentId,
    /// The item.
    pub item: KnownItem,
    /// Units asked (> 0).
    pub qty: i64,
    /// Its tier.
    pub priority: Priority,
    /// Where it comes from.
    pub source: Source,
}

/// The form of the body's demand quantities: at most [`MAX_DEMANDS`], each positive;
/// an empty list only together with `from_open_requests`.
pub fn check_demands(qtys: &[i64], from_open_requests: bool) -> Result<(), AppError> {
    if qtys.is_empty() && !from_open_requests {
        return Err(AppError::invalid(
            "/demands",
            "a round needs at least one demand, or from_open_requests: true",
        ));
    }
    if qtys.len() > MAX_DEMANDS {
        return Err(AppError::invalid(
            "/demands",
            format!(
                "a round takes at most {MAX_DEMANDS} demands; this one has {}",
                qtys.len()
            ),
        ));
    }
    match qtys.iter().position(|&q| q <= 0) {
        Some(i) => Err(AppError::invalid(
            format!("/demands/{i}/qty"),
            format!("qty must be greater than 0; it is {}", qtys[i]),
        )),
        None => Ok(()),
    }
}

/// Splits a merged line's picks among the demands it merged (`parts`: their quantities,
/// in [`Source`] order): each part in turn takes picks in pick order until it has what it
/// asked, a pick split in two where a part ends. Σ of the parts' picks is the line's.
pub fn split(picks: &[RationPick], parts: &[i64]) -> Vec<Vec<RationPick>> {
    let mut out: Vec<Vec<RationPick>> = parts.iter().map(|_| Vec::new()).collect();
    let mut part = 0;
    let mut room = parts.first().copied().unwrap_or(0).max(0);
    for pick in picks {
        let mut left = pick.qty;
        while left > 0 && part < parts.len() {
            if room == 0 {
                part += 1;
                room = parts.get(part).copied().unwrap_or(0).max(0);
                continue;
            }
            let q = left.min(room);
            let mut piece = pick.clone();
            piece.qty = q;
            out[part].push(piece);
            left -= q;
            room -= q;
        }
    }
    out
}

/// Which request a demand is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A new request of the round for this (incident, priority).
    New(IncidentId, Priority),
    /// The stored request whose shortfall it is.
    Open(RequestId),
}

/// A request line as the round writes it.
#[derive(Debug, Clone)]
pub struct TargetLine {
    /// The stored line (`Open`), or `None` for a new request's (numbered when written).
    pub line_no: Option<i32>,
    /// The item.
    pub item: KnownItem,
    /// What the demand asked.
    pub asked: i64,
    /// Its picks.
    pub picks: Vec<RationPick>,
    /// Why warehouses were passed over for the merged line.
    pub explanation: Vec<Skipped>,
}

/// The round's lines, split back to their demands and grouped by the request each is
/// written to, in the order they must be written: by tier (critical first: the order
/// of [`Priority`]), then target. `asks` are the round's demands; a line's demands are those with its
/// (incident, SKU, priority).
pub fn targets(
    lines: &[RationLine],
    asks: &[Ask],
) -> BTreeMap<(Priority, Target), Vec<TargetLine>> {
    let mut of_line: BTreeMap<(IncidentId, &str, Priority), Vec<&Ask>> = BTreeMap::new();
    for a in asks {
        of_line
            .entry((a.incident, a.item.sku.as_str(), a.priority))
            .or_default()
            .push(a);
    }
    let mut out: BTreeMap<(Priority, Target), Vec<TargetLine>> = BTreeMap::new();
    for line in lines {
        let key = (
            IncidentId(line.incident_id),
            line.sku.as_str(),
            Priority::of_planner(line.priority),
        );
        let Some(parts) = of_line.get_mut(&key) else {
            continue;
        };
        parts.sort_by_key(|a| a.source);
        // Each open request's line is its own part; the body's demands of the line are
        // one part (one line of the new request).
        let mut groups: Vec<(&Ask, i64)> = Vec::with_capacity(parts.len());
        for &a in parts.iter() {
            match groups.last_mut() {
                Some((first, q))
                    if matches!(first.source, Source::Given(_))
                        && matches!(a.source, Source::Given(_)) =>
                {
                    *q = q.saturating_add(a.qty);
                }
                _ => groups.push((a, a.qty)),
            }
        }
        let qtys: Vec<i64> = groups.iter().map(|g| g.1).collect();
        let explanation: Vec<Skipped> =
            line.explanation.iter().map(|p| p.skipped.clone()).collect();
        for ((a, asked), picks) in groups.into_iter().zip(split(&line.picks, &qtys)) {
            let (target, line_no) = match a.source {
                Source::Open {
                    request, line_no, ..
                } => (Target::Open(request), Some(line_no)),
                Source::Given(_) => (Target::New(a.incident, a.priority), None),
            };
            out.entry((a.priority, target))
                .or_default()
                .push(TargetLine {
                    line_no,
                    item: a.item.clone(),
                    asked,
                    picks,
                    explanation: explanation.clone(),
                });
        }
    }
    out
}

/// A target's lines as the single-request planner's plan and demand, so that they are
/// written by the same statement and answered in the same shape as any request: plan
/// line *i* pairs with demand line *i*, with the line numbers given (`line_no`, in the
/// lines' order) and the planning date `today`. Lines of one item are merged (a new
/// request has one line per item).
pub fn as_plan(
    lines: &[TargetLine],
    line_nos: &[i32],
    today: NaiveDate,
) -> (Plan, Vec<DemandedItem>) {
    let mut plan_lines: Vec<PlanLine> = Vec::with_capacity(lines.len());
    let mut demanded: Vec<DemandedItem> = Vec::with_capacity(lines.len());
    for (l, &line_no) in lines.iter().zip(line_nos) {
        let picks: Vec<Pick> = l.picks.iter().map(pick).collect();
        let reserved: i64 = picks.iter().map(|p| p.qty).sum();
        plan_lines.push(PlanLine {
            sku: l.item.sku.clone(),
            requested: l.asked,
            reserved,
            shortfall: l.asked - reserved,
            picks,
            explanation: l.explanation.clone(),
        });
        demanded.push(DemandedItem {
            line_no,
            item: l.item.clone(),
            qty: l.asked,
        });
    }
    let status = match RequestStatus::of_fill(plan_lines.iter().map(|l| (l.requested, l.reserved)))
    {
        RequestStatus::Reserved => PlanStatus::Reserved,
        RequestStatus::PartiallyReserved => PlanStatus::PartiallyReserved,
        _ => PlanStatus::Unfilled,
    };
    (
        Plan {
            lines: plan_lines,
            status,
            today,
        },
        demanded,
    )
}

/// A solver pick as the single-request planner's.
fn pick(p: &RationPick) -> Pick {
    Pick {
        warehouse_id: p.warehouse_id,
        warehouse_code: p.warehouse_code.clone(),
        lot_id: p.lot_id,
        lot_code: p.lot_code.clone(),
        expires_on: p.expires_on,
        qty: p.qty,
        eta_minutes: p.eta_minutes,
        distance_km: p.distance_km,
        misses_target: p.misses_target,
        late: p.late,
    }
}

#[cfg(test)]
mod tests;
