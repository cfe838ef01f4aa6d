//! The two network-flow algorithms the rationing solver needs, written here because no
//! maintained pure-Rust crate offers both (see the module documentation of
//! [`super`]): Dinic's maximum flow, with the residual reachability and single-unit
//! augmentations the water-filling and the rounding use, and successive-shortest-path
//! minimum-cost flow with Dijkstra on reduced costs.
//!
//! Invariants: capacities are whole numbers (`i128`, so that scaled capacities of the
//! parametric search cannot overflow); every edge has a reverse twin (`rev`); costs are
//! lexicographic pairs and never negative on a forward edge, so Dijkstra on reduced
//! costs is exact. Everything is deterministic: a node's edges are visited in the order
//! they were added (or, for the min-cost flow, by cost, then that order).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::{Add, Sub};

/// A capacity or flow.
pub(crate) type Cap = i128;

/// Larger than any flow the solver sends (quantities are clamped to `MAX_QTY`, see
/// `super::MAX_QTY`), yet far from overflow when flows are added to it.
pub(crate) const INF: Cap = 1 << 120;

/// A lexicographic cost: the first component is minimised, then the second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cost(pub i64, pub i64);

impl Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost(self.0.saturating_add(o.0), self.1.saturating_add(o.1))
    }
}

impl Sub for Cost {
    type Output = Cost;
    fn sub(self, o: Cost) -> Cost {
        Cost(self.0.saturating_sub(o.0), self.1.saturating_sub(o.1))
    }
}

/// A flow network in compressed adjacency form: add the edges, then [`Net::finish`]. Each
/// node's edges (its out-edges and the reverse twins of its in-edges) are stored together,
/// so that a scan of a node reads contiguous memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Net {
    n: usize,
    /// Edges as added: (tail, head, capacity, cost).
    added: Vec<(u32, u32, Cap, Cost)>,
    /// Position of each added edge, after `finish`.
    pos: Vec<u32>,
    // Per position, in node order:
    to: Vec<u32>,
    /// Residual capacity.
    cap: Vec<Cap>,
    cost: Vec<Cost>,
    /// The position of the reverse twin.
    rev: Vec<u32>,
    /// A node's edges are `first[v]..first[v + 1]`.
    first: Vec<u32>,
    /// With edges by cost: a node's negative-cost edges are `first[v]..split[v]`, and
    /// `live[v]` lists those with residual capacity (a scan reads only them: reverse
    /// edges of the routing are many, and few carry flow).
    split: Vec<u32>,
    live: Vec<Vec<u32>>,
    // Scratch space, reused between calls.
    level: Vec<i32>,
    it: Vec<u32>,
}

/// An edge as returned by [`Net::add`].
pub(crate) type Edge = usize;

impl Net {
    /// An empty network on `n` nodes.
    pub(crate) fn new(n: usize) -> Net {
        Net {
            n,
            ..Net::default()
        }
    }

    /// Adds `u → v` with capacity `cap` and cost `cost` (and its reverse twin).
    pub(crate) fn add(&mut self, u: usize, v: usize, cap: Cap, cost: Cost) -> Edge {
        self.added.push((u as u32, v as u32, cap, cost));
        self.added.len() - 1
    }

    /// Lays the edges out; call once, after the last [`Net::add`]. With `by_cost`, each
    /// node's edges are ordered by cost (then as added), as [`Net::min_cost_flow`] needs.
    pub(crate) fn finish(&mut self, by_cost: bool) {
        let m = self.added.len();
        let mut count = vec![0u32; self.n + 1];
        for &(u, v, _, _) in &self.added {
            count[u as usize + 1] += 1;
            count[v as usize + 1] += 1;
        }
        for v in 0..self.n {
            count[v + 1] += count[v];
        }
        // Half-edges per node: (edge, reversed?) in the order added.
        let mut half = vec![(0u32, false); 2 * m];
        let mut fill = count.clone();
        for (k, &(u, v, _, _)) in self.added.iter().enumerate() {
            half[fill[u as usize] as usize] = (k as u32, false);
            fill[u as usize] += 1;
            half[fill[v as usize] as usize] = (k as u32, true);
            fill[v as usize] += 1;
        }
        let cost_of = |&(k, r): &(u32, bool)| {
            let c = self.added[k as usize].3;
            if r { Cost(-c.0, -c.1) } else { c }
        };
        if by_cost {
            for v in 0..self.n {
                let r = count[v] as usize..count[v + 1] as usize;
                half[r].sort_by_key(|h| (cost_of(h), h.0, h.1));
            }
        }
        let mut at = vec![[0u32; 2]; m];
        for (p, &(k, r)) in half.iter().enumerate() {
            at[k as usize][usize::from(r)] = p as u32;
        }
        self.to = Vec::with_capacity(2 * m);
        self.cap = Vec::with_capacity(2 * m);
        self.cost = Vec::with_capacity(2 * m);
        self.rev = Vec::with_capacity(2 * m);
        for h in &half {
            let (k, r) = (h.0 as usize, h.1);
            let (u, v, c, _) = self.added[k];
            self.to.push(if r { u } else { v });
            self.cap.push(if r { 0 } else { c });
            self.cost.push(cost_of(h));
            self.rev.push(at[k][usize::from(!r)]);
        }
        self.pos = at.iter().map(|a| a[0]).collect();
        if by_cost {
            self.split = (0..self.n)
                .map(|v| {
                    let r = count[v] as usize..count[v + 1] as usize;
                    let neg = self.cost[r.clone()].partition_point(|c| *c < Cost::default());
                    (r.start + neg) as u32
                })
                .collect();
            self.live = (0..self.n)
                .map(|v| {
                    (count[v]..self.split[v])
                        .filter(|&e| self.cap[e as usize] > 0)
                        .collect()
                })
                .collect();
        }
        self.first = count;
    }

    /// Whether position `e` is a negative-cost edge of its tail (tracked in `live`).
    fn negative(&self, e: usize) -> Option<usize> {
        if self.split.is_empty() {
            return None;
        }
        let t = self.tail(e);
        (e < self.split[t] as usize).then_some(t)
    }

    fn edges(&self, v: usize) -> std::ops::Range<usize> {
        self.first[v] as usize..self.first[v + 1] as usize
    }

    fn tail(&self, e: usize) -> usize {
        self.to[self.rev[e] as usize] as usize
    }

    /// The flow on edge `e`.
    pub(crate) fn flow(&self, e: Edge) -> Cap {
        let p = self.pos[e] as usize;
        self.cap[self.rev[p] as usize]
    }

    /// Sets edge `e` to capacity `cap` with no flow.
    pub(crate) fn reset(&mut self, e: Edge, cap: Cap) {
        let p = self.pos[e] as usize;
        self.cap[p] = cap;
        let r = self.rev[p] as usize;
        self.cap[r] = 0;
    }

    /// Adds `delta` to the residual capacity of edge `e`.
    pub(crate) fn widen(&mut self, e: Edge, delta: Cap) {
        let p = self.pos[e] as usize;
        self.cap[p] += delta;
    }

    fn push(&mut self, e: usize, f: Cap) {
        let r = self.rev[e] as usize;
        let (was_e, was_r) = (self.cap[e] > 0, self.cap[r] > 0);
        self.cap[e] -= f;
        self.cap[r] += f;
        for (x, was) in [(e, was_e), (r, was_r)] {
            if let Some(t) = self.negative(x) {
                match (was, self.cap[x] > 0) {
                    (true, false) => {
                        let list = &mut self.live[t];
                        if let Some(i) = list.iter().position(|&y| y as usize == x) {
                            list.swap_remove(i);
                        }
                    }
                    (false, true) => self.live[t].push(x as u32),
                    _ => {}
                }
            }
        }
    }

    /// Dinic's algorithm: augments the current flow to a maximum `s`–`t` flow and returns
    /// what it added.
    pub(crate) fn max_flow(&mut self, s: usize, t: usize) -> Cap {
        let mut total = 0;
        self.level.resize(self.n, -1);
        self.it.resize(self.n, 0);
        while self.bfs_levels(s, t) {
            for v in 0..self.n {
                self.it[v] = self.first[v];
            }
            loop {
                let f = self.dfs(s, t, INF);
                if f == 0 {
                    break;
                }
                total += f;
            }
        }
        total
    }

    fn bfs_levels(&mut self, s: usize, t: usize) -> bool {
        self.level.iter_mut().for_each(|l| *l = -1);
        self.level[s] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(v) = queue.pop_front() {
            for e in self.edges(v) {
                let u = self.to[e] as usize;
                if self.cap[e] > 0 && self.level[u] < 0 {
                    self.level[u] = self.level[v] + 1;
                    queue.push_back(u);
                }
            }
        }
        self.level[t] >= 0
    }

    fn dfs(&mut self, v: usize, t: usize, limit: Cap) -> Cap {
        if v == t {
            return limit;
        }
        let mut sent = 0;
        while self.it[v] < self.first[v + 1] {
            let e = self.it[v] as usize;
            let u = self.to[e] as usize;
            if self.cap[e] > 0 && self.level[u] == self.level[v] + 1 {
                let d = self.dfs(u, t, (limit - sent).min(self.cap[e]));
                if d > 0 {
                    self.push(e, d);
                    sent += d;
                    if sent == limit {
                        return sent;
                    }
                }
            }
            self.it[v] += 1;
        }
        // Nothing more gets through `v` in this phase.
        self.level[v] = -1;
        sent
    }

    /// The nodes reachable from `s` over edges with residual capacity: the source side
    /// of the minimum cut that a maximum flow leaves.
    pub(crate) fn reachable(&self, s: usize) -> Vec<bool> {
        let mut seen = vec![false; self.n];
        seen[s] = true;
        let mut stack = vec![s];
        while let Some(v) = stack.pop() {
            for e in self.edges(v) {
                let u = self.to[e] as usize;
                if self.cap[e] > 0 && !seen[u] {
                    seen[u] = true;
                    stack.push(u);
                }
            }
        }
        seen
    }

    /// Pushes one unit from `s` through `v` into the edge `exit` (out of `v`), if a path
    /// `s → … → v` with residual capacity exists. Searches backwards from `v`, which
    /// finds spare stock next to a demand quickly. Returns whether it pushed.
    pub(crate) fn push_one_via(&mut self, s: usize, v: usize, exit: Edge) -> bool {
        let exit = self.pos[exit] as usize;
        if self.cap[exit] <= 0 {
            return false;
        }
        // pred[u] = the edge u → (node nearer v) used to reach u backwards.
        let mut pred: Vec<u32> = vec![u32::MAX; self.n];
        let mut seen = vec![false; self.n];
        seen[v] = true;
        let mut queue = VecDeque::from([v]);
        let mut found = v == s;
        while let Some(x) = queue.pop_front() {
            if found {
                break;
            }
            for e in self.edges(x) {
                // The twin of an edge x → u is u → x.
                let back = self.rev[e] as usize;
                let u = self.to[e] as usize;
                if self.cap[back] > 0 && !seen[u] {
                    seen[u] = true;
                    pred[u] = back as u32;
                    if u == s {
                        found = true;
                        break;
                    }
                    queue.push_back(u);
                }
            }
        }
        if !found {
            return false;
        }
        let mut x = s;
        while x != v {
            let e = pred[x] as usize;
            self.push(e, 1);
            x = self.to[e] as usize;
        }
        self.push(exit, 1);
        true
    }

    /// Successive shortest paths: sends `excess[v]` units from every node `v` to `sink` at
    /// least total cost, starting from the zero flow (every forward cost must be ≥ 0).
    /// Sources are served one at a time, smallest excess first (ties by index: serving
    /// small demands first leaves the large ones fewer re-routings); each path is a
    /// shortest one on reduced costs, which keeps the flow optimal for what has been sent
    /// so far. Returns the units that could not be sent, and node potentials under which
    /// every residual edge `u → v` has reduced cost `cost + pot[u] − pot[v] ≥ 0` (the
    /// optimality certificate).
    ///
    /// The search is Dijkstra's, stopped when it settles `sink`, with three exact
    /// shortcuts. (1) It first bounds the sink's distance by the paths of at most three
    /// edges from its source (demand → stock → [gate →] sink), and never follows an edge
    /// beyond that bound: nodes not settled before the sink all get the same potential
    /// change. (2) Each node's edges are sorted by cost, and potentials start at 0 and
    /// only decrease, so `cost + pot[v]` bounds an edge's reduced cost from below and a
    /// node's scan stops at the first edge past the bound; far warehouses are never
    /// looked at. (3) Only the nodes marked `queued` (the demands and the sink) go through
    /// the heap; the others (stock and gates, many but cheap) are relaxed on the spot,
    /// label-correcting: a distance below the sink's is final when the sink settles.
    pub(crate) fn min_cost_flow(
        &mut self,
        excess: &mut [Cap],
        sink: usize,
        queued: &[bool],
    ) -> (Cap, Vec<Cost>) {
        let n = self.n;
        // The edge into the sink from each node, if any; for a node without one, an edge
        // to a node with one (a stock piece's edge to its gate).
        let to_sink: Vec<u32> = (0..n)
            .map(|v| {
                self.edges(v)
                    .rfind(|&e| self.to[e] as usize == sink)
                    .map_or(u32::MAX, |e| e as u32)
            })
            .collect();
        let hop: Vec<u32> = (0..n)
            .map(|v| {
                if to_sink[v] != u32::MAX {
                    return u32::MAX;
                }
                self.edges(v)
                    .find(|&e| {
                        let x = self.to[e] as usize;
                        x != sink && to_sink[x] != u32::MAX && self.cost[e] >= Cost::default()
                    })
                    .map_or(u32::MAX, |e| e as u32)
            })
            .collect();
        let mut order: Vec<usize> = (0..n).filter(|&v| excess[v] > 0).collect();
        order.sort_by_key(|&v| (excess[v], v));
        // Potentials as stored; conceptually every node also gains dist(sink) after each
        // search, which cancels in every reduced cost, so only settled nodes are touched.
        let mut pot = vec![Cost::default(); n];
        let mut sr = Search {
            dist: vec![Cost::default(); n],
            prev: vec![u32::MAX; n],
            done: vec![false; n],
            reached: vec![false; n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
            stack: Vec::new(),
            bound: None,
        };
        let mut left = 0;
        for s in order {
            while excess[s] > 0 {
                for &v in &sr.touched {
                    sr.done[v] = false;
                    sr.reached[v] = false;
                }
                sr.touched.clear();
                sr.heap.clear();
                sr.dist[s] = Cost::default();
                sr.reached[s] = true;
                sr.touched.push(s);
                sr.heap.push(Reverse((Cost::default(), s as u32)));
                sr.bound = self.sink_bound(s, &pot, &to_sink, &hop);
                let mut hit = false;
                while let Some(Reverse((d, v))) = sr.heap.pop() {
                    let v = v as usize;
                    if sr.done[v] || d > sr.dist[v] {
                        continue;
                    }
                    sr.done[v] = true;
                    if v == sink {
                        hit = true;
                        break;
                    }
                    self.expand(v, sink, queued, &pot, &mut sr);
                }
                if !hit {
                    left += excess[s];
                    excess[s] = 0;
                    break;
                }
                // New potentials: + dist for nodes settled before the sink, + dist(sink)
                // for the rest (implicit: the same for every node).
                let ds = sr.dist[sink];
                for &v in &sr.touched {
                    if sr.dist[v] < ds && (sr.done[v] || !queued[v]) {
                        pot[v] = pot[v] + sr.dist[v] - ds;
                    }
                }
                let mut push = excess[s];
                let mut x = sink;
                while x != s {
                    let e = sr.prev[x] as usize;
                    push = push.min(self.cap[e]);
                    x = self.tail(e);
                }
                let mut x = sink;
                while x != s {
                    let e = sr.prev[x] as usize;
                    self.push(e, push);
                    x = self.tail(e);
                }
                excess[s] -= push;
            }
        }
        (left, pot)
    }

    /// Relaxes the edges of `v` (settled, or an unqueued node whose distance just fell),
    /// following unqueued nodes on the spot.
    fn expand(&self, v: usize, sink: usize, queued: &[bool], pot: &[Cost], sr: &mut Search) {
        sr.stack.push(v);
        while let Some(v) = sr.stack.pop() {
            let d = sr.dist[v];
            // The negative-cost edges with residual capacity, then the others by cost.
            let (live, from) = if self.split.is_empty() {
                (&[][..], self.first[v] as usize)
            } else {
                (&self.live[v][..], self.split[v] as usize)
            };
            for &e in live {
                self.relax(v, d, e as usize, sink, queued, pot, sr);
            }
            for e in from..self.first[v + 1] as usize {
                if self.cap[e] <= 0 {
                    continue;
                }
                // Potentials are ≤ 0, so `d + cost + pot[v]` bounds this and every later
                // edge's distance from below.
                if sr.bound.is_some_and(|b| d + self.cost[e] + pot[v] > b) {
                    break;
                }
                self.relax(v, d, e, sink, queued, pot, sr);
            }
        }
    }

    /// Relaxes edge `e` out of `v` (at distance `d`).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn relax(
        &self,
        v: usize,
        d: Cost,
        e: usize,
        sink: usize,
        queued: &[bool],
        pot: &[Cost],
        sr: &mut Search,
    ) {
        let u = self.to[e] as usize;
        if sr.done[u] {
            return;
        }
        let nd = d + self.cost[e] + pot[v] - pot[u];
        if sr.bound.is_some_and(|b| nd > b) || (sr.reached[u] && nd >= sr.dist[u]) {
            return;
        }
        if !sr.reached[u] {
            sr.reached[u] = true;
            sr.touched.push(u);
        }
        sr.dist[u] = nd;
        sr.prev[u] = e as u32;
        if u == sink {
            sr.bound = Some(nd);
        }
        if queued[u] {
            sr.heap.push(Reverse((nd, u as u32)));
        } else {
            sr.stack.push(u);
        }
    }

    /// The shortest reduced length of a path `s → u → sink` or `s → u → hop(u) → sink`
    /// with residual capacity, if there is one: an upper bound on the sink's distance.
    fn sink_bound(&self, s: usize, pot: &[Cost], to_sink: &[u32], hop: &[u32]) -> Option<Cost> {
        let reduced = |e: usize| self.cost[e] + pot[self.tail(e)] - pot[self.to[e] as usize];
        let last = |x: usize| -> Option<Cost> {
            let e = to_sink[x];
            (e != u32::MAX && self.cap[e as usize] > 0).then(|| reduced(e as usize))
        };
        let mut best: Option<Cost> = None;
        for e in self.edges(s) {
            if self.cap[e] <= 0 {
                continue;
            }
            // Edges are sorted by cost and potentials are ≤ 0 (see `min_cost_flow`).
            if best.is_some_and(|b| self.cost[e] + pot[s] >= b) {
                break;
            }
            let u = self.to[e] as usize;
            let via = last(u).or_else(|| {
                let f = hop[u];
                if f == u32::MAX || self.cap[f as usize] <= 0 {
                    return None;
                }
                last(self.to[f as usize] as usize).map(|t| reduced(f as usize) + t)
            });
            if let Some(v) = via {
                let c = reduced(e) + v;
                best = Some(best.map_or(c, |b| b.min(c)));
            }
        }
        best
    }
}

/// The state of one shortest-path search of [`Net::min_cost_flow`].
struct Search {
    dist: Vec<Cost>,
    prev: Vec<u32>,
    /// Settled (queued nodes only).
    done: Vec<bool>,
    reached: Vec<bool>,
    touched: Vec<usize>,
    heap: BinaryHeap<Reverse<(Cost, u32)>>,
    /// Unqueued nodes whose distance fell, to relax.
    stack: Vec<usize>,
    /// The best distance to the sink found so far.
    bound: Option<Cost>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dinic_finds_the_maximum_flow_of_a_small_network() {
        // s=0, t=3: 0→1 (3), 0→2 (2), 1→2 (1), 1→3 (2), 2→3 (3): max flow 5.
        let mut net = Net::new(4);
        net.add(0, 1, 3, Cost::default());
        net.add(0, 2, 2, Cost::default());
        net.add(1, 2, 1, Cost::default());
        net.add(1, 3, 2, Cost::default());
        net.add(2, 3, 3, Cost::default());
        net.finish(false);
        assert_eq!(net.max_flow(0, 3), 5);
        let r = net.reachable(0);
        assert!(r[0] && !r[3]);
    }

    #[test]
    fn successive_shortest_paths_find_the_cheapest_routing() {
        // Two demands (nodes 0, 1) to the sink 4 through supplies 2 (cap 1) and 3 (cap 5).
        // Demand 0 is cheap at either; demand 1 only reaches 2. Optimal: 1 via 2, 0 via 3.
        let mut net = Net::new(5);
        let a = net.add(0, 2, INF, Cost(1, 0));
        let b = net.add(0, 3, INF, Cost(2, 0));
        let c = net.add(1, 2, INF, Cost(5, 0));
        net.add(2, 4, 1, Cost::default());
        net.add(3, 4, 5, Cost::default());
        net.finish(true);
        let mut excess = vec![1, 1, 0, 0, 0];
        let queued = [true, true, false, false, true];
        assert_eq!(net.min_cost_flow(&mut excess, 4, &queued).0, 0);
        assert_eq!((net.flow(a), net.flow(b), net.flow(c)), (0, 1, 1));
    }

    use proptest::prelude::*;

    /// A random network shaped like the solver's: demands → stock pieces (some behind a
    /// gate) → sink, with random eligibility and costs (ties likely).
    #[derive(Debug, Clone)]
    struct Shape {
        demands: usize,
        /// (supply, gate index or none)
        pieces: Vec<(i64, Option<usize>)>,
        gates: Vec<i64>,
        /// (demand, piece, cost, tie)
        arcs: Vec<(usize, usize, i64, i64)>,
    }

    fn shape() -> impl Strategy<Value = Shape> {
        (
            1usize..5,
            proptest::collection::vec((0i64..12, prop::option::weighted(0.4, 0usize..3)), 1..9),
            proptest::collection::vec(0i64..15, 3),
            proptest::collection::vec((0usize..5, 0usize..9, 0i64..6, 0i64..3), 1..30),
        )
            .prop_map(|(demands, pieces, gates, arcs)| {
                let np = pieces.len();
                Shape {
                    demands,
                    pieces,
                    gates,
                    arcs: arcs
                        .into_iter()
                        .map(|(d, p, c, t)| (d % demands, p % np, c, t))
                        .collect(),
                }
            })
    }

    /// Nodes: 0 = sink, demands, pieces, gates. Edges run demand → piece → [gate →] sink.
    fn build(s: &Shape) -> (Net, usize) {
        let (d0, p0) = (1, 1 + s.demands);
        let g0 = p0 + s.pieces.len();
        let mut net = Net::new(g0 + s.gates.len());
        for &(d, p, c, t) in &s.arcs {
            net.add(d0 + d, p0 + p, INF, Cost(c, t));
        }
        for (p, &(supply, gate)) in s.pieces.iter().enumerate() {
            let to = gate.map_or(0, |g| g0 + g);
            net.add(p0 + p, to, Cap::from(supply), Cost::default());
        }
        for (g, &cap) in s.gates.iter().enumerate() {
            net.add(g0 + g, 0, Cap::from(cap), Cost::default());
        }
        (net, d0)
    }

    /// Whether the residual network has a cycle of negative cost (Bellman–Ford).
    fn negative_cycle(net: &Net) -> bool {
        let mut dist = vec![Cost::default(); net.n];
        for _ in 0..=net.n {
            let mut changed = false;
            for v in 0..net.n {
                for e in net.edges(v) {
                    let u = net.to[e] as usize;
                    if net.cap[e] > 0 && dist[v] + net.cost[e] < dist[u] {
                        dist[u] = dist[v] + net.cost[e];
                        changed = true;
                    }
                }
            }
            if !changed {
                return false;
            }
        }
        true
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn min_cost_flows_leave_no_negative_cycle(s in shape(), want in proptest::collection::vec(0i128..20, 4)) {
            // What each demand can be sent: a max flow with the wanted amounts as caps,
            // from a super source (node n).
            let (mut probe, d0) = build(&s);
            let top = probe.n;
            probe.n += 1;
            let caps: Vec<Edge> = (0..s.demands)
                .map(|d| probe.add(top, d0 + d, want[d], Cost::default()))
                .collect();
            probe.finish(false);
            probe.max_flow(top, 0);
            let units: Vec<Cap> = caps.iter().map(|&e| probe.flow(e)).collect();

            let (mut net, _) = build(&s);
            net.finish(true);
            let mut excess = vec![0; net.n];
            let mut queued = vec![false; net.n];
            queued[0] = true;
            for d in 0..s.demands {
                excess[d0 + d] = units[d];
                queued[d0 + d] = true;
            }
            let (left, pot) = net.min_cost_flow(&mut excess, 0, &queued);
            prop_assert_eq!(left, 0, "a feasible amount is sent in full");
            prop_assert!(!negative_cycle(&net), "the flow is not of least cost");
            // The potentials certify it: no residual edge has a negative reduced cost.
            for v in 0..net.n {
                for e in net.edges(v) {
                    if net.cap[e] > 0 {
                        let u = net.to[e] as usize;
                        prop_assert!(net.cost[e] + pot[v] - pot[u] >= Cost::default());
                    }
                }
            }
        }

        #[test]
        fn dinic_matches_the_min_cut_by_enumeration(s in shape(), want in proptest::collection::vec(0i64..25, 4)) {
            // Max flow from a super source feeding demand d up to want[d] equals the least
            // cut: over the sets X of demands left on the source side,
            // Σ_{d ∉ X} want[d] + Σ_ungated pieces next to X supply
            // + Σ_gates min(gate, Σ supply of its pieces next to X).
            let (mut net, d0) = build(&s);
            let top = net.n;
            net.n += 1;
            for (d, &w) in want.iter().enumerate().take(s.demands) {
                net.add(top, d0 + d, Cap::from(w), Cost::default());
            }
            net.finish(false);
            let flow = net.max_flow(top, 0);
            let mut best = i64::MAX;
            for x in 0u32..(1 << s.demands) {
                let next: Vec<bool> = (0..s.pieces.len())
                    .map(|p| s.arcs.iter().any(|&(d, q, _, _)| q == p && x & (1 << d) != 0))
                    .collect();
                let mut cut: i64 = (0..s.demands).filter(|d| x & (1 << d) == 0).map(|d| want[d]).sum();
                for (p, &(supply, gate)) in s.pieces.iter().enumerate() {
                    if next[p] && gate.is_none() {
                        cut += supply;
                    }
                }
                for (g, &cap) in s.gates.iter().enumerate() {
                    let behind: i64 = s
                        .pieces
                        .iter()
                        .enumerate()
                        .filter(|&(p, &(_, gate))| gate == Some(g) && next[p])
                        .map(|(_, &(supply, _))| supply)
                        .sum();
                    cut += cap.min(behind);
                }
                best = best.min(cut);
            }
            prop_assert_eq!(flow, Cap::from(best));
        }
    }
}
