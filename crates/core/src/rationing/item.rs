//! One item of a round, tier by tier: the flow network of the tier (see the module
//! documentation of [`super`]), leximin water-filling, whole-unit rounding, least-cost
//! routing and FEFO lots; then the picks and the explanation of every line.

use std::ops::Range;

use chrono::NaiveDate;

use super::flow::{Cap, Cost, INF, Net};
use super::stock::Cell;
use super::{Incidents, MAX_QTY, Passed, RationLine, RationPick, Stock};
use crate::planner::{Priority, Skipped};
use crate::rules::{SkipReason, drawable, lateness, level_stock, lot_usable, required_expiry};

const SOURCE: usize = 0;
const SINK: usize = 1;
/// No position: the warehouse cannot supply the line.
const NONE: u32 = u32::MAX;

/// A cell's figures before the round, as the planner's explanation states them.
type Tally = crate::planner::Holding;

/// A line of the item.
struct Line {
    /// Index into the round's lines.
    round: usize,
    /// Canonical incident index, if the incident is in the round.
    incident: Option<usize>,
    demand: i64,
    priority: Priority,
}

/// The flow network of one tier of one item.
struct TierGraph {
    nodes: usize,
    /// Supply edges `S → gate`, `gate → piece` or `S → piece`, with capacities.
    supply: Vec<(usize, usize, Cap)>,
    /// For a gate node, the index of its `S → gate` edge in `supply`.
    gate_edge: Vec<Option<usize>>,
    /// Edges piece → line.
    arcs: Vec<Arc>,
    /// Pieces: node, cell and candidate range.
    pieces: Vec<(usize, usize, Range<usize>)>,
    /// Per node, its index in `pieces` (`usize::MAX` for other nodes).
    piece_at: Vec<usize>,
}

struct Arc {
    piece: usize,
    /// Index among the tier's lines.
    line: usize,
    cost: Cost,
}

/// Plans one item: fills `out[i]` for every `i` in `of_item`.
pub(crate) fn solve_item(
    stock: &Stock,
    incidents: &Incidents,
    today: NaiveDate,
    sku: &str,
    of_item: &[usize],
    out: &mut [RationLine],
) {
    let mut item = Item::new(stock, incidents, today, sku, of_item, out);
    for tier in [Priority::Critical, Priority::High, Priority::Normal] {
        // One line per incident in a tier (lines are merged), in incident order.
        let mut of_tier: Vec<usize> = (0..item.lines.len())
            .filter(|&l| {
                let line = &item.lines[l];
                line.priority == tier && line.demand > 0 && line.incident.is_some()
            })
            .collect();
        if of_tier.is_empty() {
            continue;
        }
        of_tier.sort_by_key(|&l| item.lines[l].incident);
        let g = item.tier_graph(&of_tier, tier == Priority::Critical);
        let demand: Vec<Cap> = of_tier
            .iter()
            .map(|&l| Cap::from(item.lines[l].demand))
            .collect();
        let mut net = max_net(&g, demand.len());
        let share = leximin(&mut net, &g, &demand);
        let units = round(&mut net, &g, &demand, &share);
        let flows = route(&g, &units);
        item.take_lots(&g, &of_tier, &flows);
    }
    item.write_lines(out);
}

/// One item's state through its tiers. Per-(line, cell) tables are `nl × nc`, indexed
/// `line * nc + cell`.
struct Item<'a> {
    stock: &'a Stock,
    incidents: &'a Incidents<'a>,
    min_days: i32,
    cells: &'a [Cell],
    /// Candidates: per cell, the lots usable on some arrival (not quarantined, with stock
    /// available), in FEFO order, as positions in `stock.lots`.
    cand: Vec<usize>,
    /// Their available stock when the round starts, and what is left of it.
    avail: Vec<i64>,
    left: Vec<i64>,
    /// Whether a candidate's stock counts toward its cell's reserve level today.
    counts: Vec<bool>,
    /// Per cell, its range of candidates.
    cell_cand: Vec<Range<usize>>,
    /// Per cell, its figures before the round, and its stock counting toward the level
    /// now (after the round's draws so far).
    tally: Vec<Tally>,
    counted: Vec<i64>,
    lines: Vec<Line>,
    /// Per (line, cell): where the lots the line may use start among the cell's
    /// candidates (`NONE`: the warehouse cannot supply the line).
    pos: Vec<u32>,
    /// Per (line, cell): taken, and held back by the floor when the line's tier was
    /// planned.
    taken: Vec<i64>,
    protected: Vec<i64>,
    /// Per line: (candidate, qty).
    picks: Vec<Vec<(usize, i64)>>,
}

impl<'a> Item<'a> {
    fn new(
        stock: &'a Stock,
        incidents: &'a Incidents<'a>,
        today: NaiveDate,
        sku: &str,
        of_item: &[usize],
        out: &[RationLine],
    ) -> Item<'a> {
        let min_days = stock.min_days_of(sku);
        let cells = stock.cells_of(sku);
        let nw = stock.warehouses.len();
        let nc = cells.len();
        let mut cand: Vec<usize> = Vec::new();
        let mut avail: Vec<i64> = Vec::new();
        let mut counts: Vec<bool> = Vec::new();
        let mut cell_cand: Vec<Range<usize>> = Vec::with_capacity(nc);
        let mut tally: Vec<Tally> = Vec::with_capacity(nc);
        for cell in cells {
            let start = cand.len();
            let mut t = Tally::default();
            for p in cell.lots.clone() {
                let lot = &stock.lots[p];
                if let Ok(a) = lot_usable(lot, Some(NaiveDate::MIN)) {
                    cand.push(p);
                    avail.push(a.min(MAX_QTY));
                    counts.push(level_stock(lot, today, min_days) > 0);
                }
                t.add(lot, today, min_days);
            }
            cell_cand.push(start..cand.len());
            tally.push(t);
        }
        let lines: Vec<Line> = of_item
            .iter()
            .map(|&i| Line {
                round: i,
                incident: incidents.index.get(&out[i].incident_id).copied(),
                demand: out[i].requested.min(MAX_QTY),
                priority: out[i].priority,
            })
            .collect();
        let nl = lines.len();
        let mut pos = vec![NONE; nl * nc];
        for (l, line) in lines.iter().enumerate() {
            let Some(i) = line.incident else { continue };
            for (c, cell) in cells.iter().enumerate() {
                let pair = &incidents.pairs[i * nw + cell.warehouse as usize];
                let (None, Some((_, date))) = (pair.block, pair.arrival) else {
                    continue;
                };
                let required = required_expiry(date, min_days);
                // For candidates `lot_usable` fails only on expiry, and FEFO order puts
                // the short-dated ones first: a partition.
                let r = cell_cand[c].clone();
                let p = cand[r.clone()]
                    .partition_point(|&lot| lot_usable(&stock.lots[lot], required).is_err());
                pos[l * nc + c] = (r.start + p) as u32;
            }
        }
        Item {
            stock,
            incidents,
            min_days,
            cells,
            left: avail.clone(),
            avail,
            counts,
            cell_cand,
            counted: tally.iter().map(|t| t.counted).collect(),
            tally,
            pos,
            taken: vec![0; nl * nc],
            protected: vec![0; nl * nc],
            picks: vec![Vec::new(); nl],
            cand,
            lines,
        }
    }

    /// The flow network of one tier (lines `of_tier`, in incident order) on the stock
    /// left; records what the floor holds back from each line.
    fn tier_graph(&mut self, of_tier: &[usize], critical: bool) -> TierGraph {
        let nc = self.cells.len();
        let nw = self.stock.warehouses.len();
        let pre = prefix(&self.left, &self.cell_cand);
        let mut g = TierGraph {
            nodes: 2 + of_tier.len(),
            supply: Vec::new(),
            gate_edge: Vec::new(),
            arcs: Vec::new(),
            pieces: Vec::new(),
            piece_at: Vec::new(),
        };
        let mut starts: Vec<u32> = Vec::new();
        for (c, cell) in self.cells.iter().enumerate() {
            let end = self.cell_cand[c].end;
            let suffix = |p: u32| pre[end + c] - pre[p as usize + c];
            let counted = self.counted[c];
            let cap = drawable(i64::MAX, counted, cell.level, critical);
            starts.clear();
            for &l in of_tier {
                let p = self.pos[l * nc + c];
                if p == NONE {
                    continue;
                }
                let usable = suffix(p);
                self.protected[l * nc + c] =
                    usable - drawable(usable, counted, cell.level, critical);
                if usable > 0 && cap > 0 {
                    starts.push(p);
                }
            }
            if starts.is_empty() {
                continue;
            }
            starts.sort_unstable();
            starts.dedup();
            // Pieces [starts[k], starts[k + 1]) with stock in them.
            let mut piece_of_start: Vec<usize> = Vec::with_capacity(starts.len());
            let mut pieces: Vec<(usize, Cap)> = Vec::new();
            for (k, &s) in starts.iter().enumerate() {
                let e = starts.get(k + 1).map_or(end, |&x| x as usize);
                let q = pre[e + c] - pre[s as usize + c];
                piece_of_start.push(pieces.len());
                if q > 0 {
                    let node = g.nodes + pieces.len();
                    g.pieces.push((node, c, s as usize..e));
                    pieces.push((node, Cap::from(q)));
                }
            }
            g.nodes += pieces.len();
            // The floor: one gate over the cell's pieces when it binds on several.
            let total: Cap = pieces.iter().map(|p| p.1).sum();
            if !critical && Cap::from(cap) < total && pieces.len() > 1 {
                let gate = g.nodes;
                g.nodes += 1;
                g.gate_edge.resize(g.nodes, None);
                g.gate_edge[gate] = Some(g.supply.len());
                g.supply.push((SOURCE, gate, Cap::from(cap)));
                for &(node, q) in &pieces {
                    g.supply.push((gate, node, q));
                }
            } else {
                for &(node, q) in &pieces {
                    g.supply.push((SOURCE, node, q.min(Cap::from(cap))));
                }
            }
            // Arcs: each line to the pieces of its suffix; later pieces cost more in the
            // tie-break (FEFO), as do warehouses later in (code, id) order.
            let w = i64::from(cell.warehouse);
            for (t, &l) in of_tier.iter().enumerate() {
                let p = self.pos[l * nc + c];
                let (Some(i), Ok(k)) = (self.lines[l].incident, starts.binary_search(&p)) else {
                    continue; // cannot supply, or no stock from here on
                };
                let eta_ms = self.incidents.pairs[i * nw + cell.warehouse as usize].eta_ms;
                for (j, &(node, _)) in pieces.iter().enumerate().skip(piece_of_start[k]) {
                    g.arcs.push(Arc {
                        piece: node,
                        line: t,
                        cost: Cost(eta_ms, (w << 20) + j as i64),
                    });
                }
            }
        }
        g.gate_edge.resize(g.nodes, None);
        g.piece_at = vec![usize::MAX; g.nodes];
        for (k, piece) in g.pieces.iter().enumerate() {
            g.piece_at[piece.0] = k;
        }
        g
    }

    /// Rule 8: takes each arc's flow from its piece's lots, FEFO; lines sharing a piece
    /// take in incident order.
    fn take_lots(&mut self, g: &TierGraph, of_tier: &[usize], flows: &[Cap]) {
        let nc = self.cells.len();
        let mut by_piece: Vec<Vec<(usize, Cap)>> = vec![Vec::new(); g.pieces.len()];
        for (a, arc) in g.arcs.iter().enumerate() {
            if flows[a] > 0 {
                by_piece[g.piece_at[arc.piece]].push((arc.line, flows[a]));
            }
        }
        for (k, &(_, c, ref range)) in g.pieces.iter().enumerate() {
            let mut j = range.start;
            for &(t, f) in &by_piece[k] {
                let l = of_tier[t];
                let mut f = i64::try_from(f).unwrap_or(i64::MAX);
                while f > 0 && j < range.end {
                    let q = self.left[j].min(f);
                    if q > 0 {
                        self.left[j] -= q;
                        f -= q;
                        if self.counts[j] {
                            self.counted[c] -= q;
                        }
                        self.taken[l * nc + c] += q;
                        self.picks[l].push((j, q));
                    }
                    if self.left[j] == 0 {
                        j += 1;
                    }
                }
                debug_assert_eq!(f, 0, "a piece's flow fits its lots");
            }
        }
    }

    /// Fills the round's lines: quantities, picks (nearest first, FEFO) and the
    /// explanation (rule 10).
    fn write_lines(&self, out: &mut [RationLine]) {
        let (stock, incidents, cells) = (self.stock, self.incidents, self.cells);
        let (nc, nw) = (cells.len(), stock.warehouses.len());
        let (tally, pos, taken) = (&self.tally, &self.pos, &self.taken);
        let prefix0 = prefix(&self.avail, &self.cell_cand);
        let after = prefix(&self.left, &self.cell_cand);
        let holding = tally.iter().filter(|t| t.held > 0).count();
        let mut cell_at = vec![NONE; nw];
        for (c, cell) in cells.iter().enumerate() {
            cell_at[cell.warehouse as usize] = c as u32;
        }
        for (l, line) in self.lines.iter().enumerate() {
            let reserved: i64 = self.picks[l].iter().map(|p| p.1).sum();
            let o = &mut out[line.round];
            o.reserved = reserved;
            o.shortfall = o.requested - reserved;
            let Some(i) = line.incident else { continue };
            let incident = incidents.list[i];
            let pair_of = |c: usize| &incidents.pairs[i * nw + cells[c].warehouse as usize];
            let mut ps: Vec<(usize, usize, i64)> = self.picks[l]
                .iter()
                .map(|&(j, q)| (cell_of(&self.cell_cand, j), j, q))
                .collect();
            ps.sort_by(|a, b| {
                pair_of(a.0)
                    .eta
                    .total_cmp(&pair_of(b.0).eta)
                    .then(cells[a.0].warehouse.cmp(&cells[b.0].warehouse))
                    .then(a.1.cmp(&b.1))
            });
            o.picks = ps
                .into_iter()
                .map(|(c, j, qty)| {
                    let w = &stock.warehouses[cells[c].warehouse as usize];
                    let lot = &stock.lots[self.cand[j]];
                    let pair = pair_of(c);
                    let at = pair.arrival.map_or(incident.now, |a| a.0);
                    let lateness = lateness(
                        incident.now,
                        at,
                        incident.needed_by,
                        Some(incident.delivery_target),
                    );
                    RationPick {
                        warehouse_id: w.id,
                        warehouse_code: w.code.clone(),
                        lot_id: lot.id,
                        lot_code: lot.lot_code.clone(),
                        expires_on: lot.expires_on,
                        qty,
                        eta_minutes: pair.eta,
                        distance_km: pair.distance_km,
                        arrives_at: at,
                        misses_target: lateness.misses_target,
                        after_needed_by: lateness.after_needed_by,
                        late: lateness.late(),
                    }
                })
                .collect();

            // The incident's warehouses nearest first, those holding the item.
            let order = incidents.order[i * nw..(i + 1) * nw]
                .iter()
                .map(|&w| cell_at[w as usize])
                .filter(|&c| c != NONE && tally[c as usize].held > 0)
                .map(|c| c as usize);
            let filled = o.shortfall == 0;
            // Sized up front: entries are large, and this is the round's biggest output.
            o.explanation = Vec::with_capacity(holding);
            o.explanation.extend(
                order
                    .filter(|&c| taken[l * nc + c] < tally[c].held)
                    .map(|c| {
                        let t = tally[c];
                        let w = cells[c].warehouse as usize;
                        let pair = &incidents.hot[i * nw + w];
                        let r = self.cell_cand[c].clone();
                        let sum = |v: &[i64], a: usize, b: usize| v[b + c] - v[a + c];
                        let p = pos[l * nc + c];
                        let took = taken[l * nc + c];
                        // Usable on arrival before the round, short-dated on arrival, and
                        // what the round left of the usable stock.
                        let (usable, short_dated, remains) = match (pair.arrives, p) {
                            (true, NONE) if pair.block.is_some() => {
                                // Blocked: the planner still reports what is short-dated.
                                let required = incidents.pairs[i * nw + w]
                                    .arrival
                                    .and_then(|(_, d)| required_expiry(d, self.min_days));
                                let q = self.cand[r.clone()].partition_point(|&lot| {
                                    lot_usable(&stock.lots[lot], required).is_err()
                                });
                                let s = sum(&prefix0, r.start, r.start + q);
                                (sum(&prefix0, r.start, r.end) - s, s, 0)
                            }
                            (true, p) if p != NONE => {
                                let p = p as usize;
                                let s = sum(&prefix0, r.start, p);
                                let total = sum(&prefix0, r.start, r.end);
                                (total - s, s, sum(&after, p, r.end))
                            }
                            _ => (0, 0, 0),
                        };
                        let open = pair.block.is_none();
                        let to_other_lines = if open {
                            (usable - took - remains).max(0)
                        } else {
                            0
                        };
                        let held_back = if open { self.protected[l * nc + c] } else { 0 };
                        let reason = match pair.block {
                            Some(b) => b,
                            None if filled && usable > took => SkipReason::NotNeeded,
                            None if held_back > 0 => SkipReason::ReserveLevel,
                            None if to_other_lines > 0 => SkipReason::FullyReserved,
                            None => lot_reason(short_dated, t.quarantined, t.reserved_elsewhere),
                        };
                        let wh = &stock.warehouses[w];
                        Passed {
                            skipped: Skipped {
                                warehouse_id: wh.id,
                                warehouse_code: wh.code.clone(),
                                reason,
                                eta_minutes: pair.eta_given,
                                held: t.held,
                                taken: took,
                                available: t.available,
                                quarantined: t.quarantined,
                                reserved_elsewhere: t.reserved_elsewhere,
                                short_dated,
                                counts_toward_level: t.counted,
                                reserve_level: cells[c].level,
                                protected: held_back,
                            },
                            to_other_lines,
                        }
                    }),
            );
        }
    }
}

/// Per cell, prefix sums of `values` over its candidate range: the sum of
/// `values[r.start..j]` is `out[j + c] − out[r.start + c]` for cell `c` with range `r`.
fn prefix(values: &[i64], ranges: &[Range<usize>]) -> Vec<i64> {
    let mut out = Vec::with_capacity(values.len() + ranges.len());
    for r in ranges {
        let mut s = 0i64;
        out.push(0);
        for v in &values[r.clone()] {
            s = s.saturating_add(*v);
            out.push(s);
        }
    }
    out
}

/// The cell whose candidate range holds position `j`.
fn cell_of(ranges: &[Range<usize>], j: usize) -> usize {
    ranges.partition_point(|r| r.end <= j)
}

/// The lot-level reason with the most stock behind it; on equal quantities expiry first,
/// then quarantine, then reservations (the planner's order).
fn lot_reason(short_dated: i64, quarantined: i64, reserved: i64) -> SkipReason {
    let mut best = (SkipReason::ExpiredOrShortDated, short_dated);
    for candidate in [
        (SkipReason::Quarantined, quarantined),
        (SkipReason::FullyReserved, reserved),
    ] {
        if candidate.1 > best.1 {
            best = candidate;
        }
    }
    best.0
}

fn gcd(mut a: Cap, mut b: Cap) -> Cap {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// The tier's network for max flows: supply edges (edge `j` is `g.supply[j]`), then the
/// arcs, then each line's edge to the sink; capacities are set by each use.
fn max_net(g: &TierGraph, lines: usize) -> Net {
    let mut net = Net::new(g.nodes);
    for &(u, v, _) in &g.supply {
        net.add(u, v, 0, Cost::default());
    }
    for a in &g.arcs {
        net.add(a.piece, 2 + a.line, 0, Cost::default());
    }
    for l in 0..lines {
        net.add(2 + l, SINK, 0, Cost::default());
    }
    net.finish(false);
    net
}

/// Rule 4: each line's exact leximin share as a fraction `(numerator, denominator)`.
fn leximin(net: &mut Net, g: &TierGraph, demand: &[Cap]) -> Vec<(Cap, Cap)> {
    let k = demand.len();
    let sup: Vec<usize> = (0..g.supply.len()).collect();
    let arcs: Vec<usize> = (sup.len()..sup.len() + g.arcs.len()).collect();
    let sinks: Vec<usize> = (0..k).map(|l| sup.len() + arcs.len() + l).collect();
    let mut base: Vec<Cap> = g.supply.iter().map(|s| s.2).collect();
    let mut alive = vec![true; g.nodes];
    let mut share: Vec<Option<(Cap, Cap)>> =
        demand.iter().map(|&d| (d <= 0).then_some((0, 1))).collect();
    loop {
        let active: Vec<usize> = (0..k).filter(|&l| share[l].is_none()).collect();
        if active.is_empty() {
            break;
        }
        let want: Cap = active.iter().map(|&l| demand[l]).sum();
        // Newton's iteration from t = 1 down to the level t = p / q.
        let (mut p, mut q): (Cap, Cap) = (1, 1);
        for _ in 0..=k + 1 {
            for (j, &(u, v, _)) in g.supply.iter().enumerate() {
                net.reset(sup[j], if alive[u] && alive[v] { base[j] * q } else { 0 });
            }
            for (a, arc) in g.arcs.iter().enumerate() {
                let on = alive[arc.piece] && alive[2 + arc.line];
                net.reset(arcs[a], if on { INF } else { 0 });
            }
            for l in 0..k {
                let on = share[l].is_none();
                net.reset(sinks[l], if on { p * demand[l] } else { 0 });
            }
            if net.max_flow(SOURCE, SINK) == p * want {
                break;
            }
            let reach = net.reachable(SOURCE);
            let behind: Cap = active
                .iter()
                .filter(|&&l| !reach[2 + l])
                .map(|&l| demand[l])
                .sum();
            let cut: Cap = g
                .supply
                .iter()
                .enumerate()
                .filter(|&(_, &(u, v, _))| alive[u] && alive[v] && reach[u] && !reach[v])
                .map(|(j, _)| base[j])
                .sum();
            if behind == 0 {
                break; // cannot happen: an unserved line is behind the cut
            }
            let d = gcd(cut, behind).max(1);
            (p, q) = (cut / d, behind / d);
        }
        if p >= q {
            for &l in &active {
                share[l] = Some((demand[l], 1));
            }
            break;
        }
        let reach = net.reachable(SOURCE);
        let fixed: Vec<usize> = active.iter().copied().filter(|&l| !reach[2 + l]).collect();
        if fixed.is_empty() {
            for &l in &active {
                share[l] = Some((p * demand[l], q));
            }
            break;
        }
        for &l in &fixed {
            share[l] = Some((p * demand[l], q));
        }
        // Remove the fixed lines with the stock only they use; a gate that fed them
        // keeps only what it has left.
        for (j, &(u, v, _)) in g.supply.iter().enumerate() {
            if alive[u]
                && alive[v]
                && reach[u]
                && !reach[v]
                && let Some(e) = g.gate_edge[u]
            {
                base[e] -= base[j];
            }
        }
        for v in 2..g.nodes {
            if !reach[v] {
                alive[v] = false;
            }
        }
    }
    share.into_iter().map(|s| s.unwrap_or((0, 1))).collect()
}

/// Rule 5: whole units, `⌊x*⌋` to each line, then one more unit each in order of the
/// largest remainder (ties: the line order, which is incident order) where deliverable.
fn round(net: &mut Net, g: &TierGraph, demand: &[Cap], share: &[(Cap, Cap)]) -> Vec<Cap> {
    let k = demand.len();
    let (ns, na) = (g.supply.len(), g.arcs.len());
    for (j, s) in g.supply.iter().enumerate() {
        net.reset(j, s.2);
    }
    for a in ns..ns + na {
        net.reset(a, INF);
    }
    let mut units: Vec<Cap> = share.iter().map(|&(n, d)| n / d).collect();
    let sinks: Vec<usize> = (0..k).map(|l| ns + na + l).collect();
    for l in 0..k {
        net.reset(sinks[l], units[l]);
    }
    let sent = net.max_flow(SOURCE, SINK);
    debug_assert_eq!(
        sent,
        units.iter().sum::<Cap>(),
        "the floors are deliverable"
    );
    let mut order: Vec<usize> = (0..k).filter(|&l| share[l].0 % share[l].1 != 0).collect();
    // Largest remainder first: r_a / d_a > r_b / d_b ⇔ r_a · d_b > r_b · d_a.
    order.sort_by(|&a, &b| {
        let (ra, da) = (share[a].0 % share[a].1, share[a].1);
        let (rb, db) = (share[b].0 % share[b].1, share[b].1);
        (rb * da).cmp(&(ra * db)).then(a.cmp(&b))
    });
    for l in order {
        net.widen(sinks[l], 1);
        if net.push_one_via(SOURCE, 2 + l, sinks[l]) {
            units[l] += 1;
        } else {
            net.widen(sinks[l], -1);
        }
    }
    units
}

/// Rule 7: the least-cost routing of `units` to each line; the flow on each arc.
fn route(g: &TierGraph, units: &[Cap]) -> Vec<Cap> {
    // Reversed: units leave the lines and end at the source through the supply edges.
    let mut net = Net::new(g.nodes);
    let arcs: Vec<usize> = g
        .arcs
        .iter()
        .map(|a| net.add(2 + a.line, a.piece, INF, a.cost))
        .collect();
    for &(u, v, c) in &g.supply {
        net.add(v, u, c, Cost::default());
    }
    net.finish(true);
    let mut excess = vec![0; g.nodes];
    for (l, &u) in units.iter().enumerate() {
        excess[2 + l] = u;
    }
    // Demands and the sink go through the search's heap; stock and gates do not.
    let mut queued = vec![false; g.nodes];
    queued[SOURCE] = true;
    for q in queued.iter_mut().skip(2).take(units.len()) {
        *q = true;
    }
    let (left, _) = net.min_cost_flow(&mut excess, SOURCE, &queued);
    debug_assert_eq!(left, 0, "the rounded shares are deliverable");
    arcs.into_iter().map(|e| net.flow(e)).collect()
}
