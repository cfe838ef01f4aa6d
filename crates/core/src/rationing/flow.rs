//! The two network-flow algorithms the rationing solver needs, written here because no
//! maintained pure-Rust crate offers both (see the module documentation of
//! [`super`]): Dinic's maximum flow, with the residual reachability and single-unit
//! augmentations the water-filling and the rounding use, and successive-shortest-path
//! minimum-cost flow with Dijkstra on reduced costs.
//!
//! Invariants: capacities are whole numbers (`i128`, so that scaled capacities of the
//! parametric search cannot overflow); every edge has a reverse twin (`rev`); costs are lexicographic pairs and never negative on a forward edge, so
//! Dijkstra on reduced costs is exact. Everything is deterministic: edges are visited in
//! the order they were added.

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
    /// `live[v]` counts those with residual capacity (so a scan can skip them all).
    split: Vec<u32>,
    live: Vec<u32>,
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
                        .count() as u32
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
                    (true, false) => self.live[t] -= 1,
                    (false, true) => self.live[t] += 1,
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
    /// Sources are served in index order; each path is a shortest one on reduced costs
    /// (Dijkstra, stopped when it settles `sink`), which keeps the flow optimal for what
    /// has been sent so far. Returns the units that could not be sent, and node potentials
    /// under which every residual edge `u → v` has reduced cost `cost + pot[u] − pot[v] ≥
    /// 0` (the optimality certificate).
    ///
    /// Each search first bounds the sink's distance by the paths of at most three edges
    /// from its source (demand → stock → [gate →] sink), and never queues a node at or
    /// beyond that bound: such a node could not be settled before the sink, and nodes not
    /// settled all get the same potential change. With each node's edges sorted by cost,
    /// the scan of a node stops at the first edge that cannot beat the bound, so far
    /// warehouses are not even looked at.
    pub(crate) fn min_cost_flow(&mut self, excess: &mut [Cap], sink: usize) -> (Cap, Vec<Cost>) {
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
        // Potentials as stored; conceptually every node also gains dist(sink) after each
        // search, which cancels in every reduced cost, so only settled nodes are touched.
        let mut pot = vec![Cost::default(); n];
        let mut dist = vec![Cost::default(); n];
        let mut done = vec![false; n];
        let mut reached = vec![false; n];
        let mut prev = vec![u32::MAX; n];
        let mut touched: Vec<usize> = Vec::new();
        let mut heap: BinaryHeap<Reverse<(Cost, u32)>> = BinaryHeap::new();
        let mut settled: Vec<usize> = Vec::new();
        let mut left = 0;
        for s in 0..n {
            while excess[s] > 0 {
                for &v in &touched {
                    done[v] = false;
                    reached[v] = false;
                }
                touched.clear();
                heap.clear();
                settled.clear();
                dist[s] = Cost::default();
                reached[s] = true;
                touched.push(s);
                heap.push(Reverse((Cost::default(), s as u32)));
                let mut bound = self.sink_bound(s, &pot, &to_sink, &hop);
                let mut hit = false;
                while let Some(Reverse((d, v))) = heap.pop() {
                    let v = v as usize;
                    if done[v] || d > dist[v] {
                        continue;
                    }
                    done[v] = true;
                    settled.push(v);
                    if v == sink {
                        hit = true;
                        break;
                    }
                    // Skip the negative-cost edges when none has residual capacity.
                    let mut from = self.first[v] as usize;
                    if !self.split.is_empty() && self.live[v] == 0 {
                        from = self.split[v] as usize;
                    }
                    for e in from..self.first[v + 1] as usize {
                        if self.cap[e] <= 0 {
                            continue;
                        }
                        // Potentials start at 0 and only decrease, so `−pot[u] ≥ 0` and
                        // `d + cost + pot[v]` bounds this and every later edge from below.
                        if bound.is_some_and(|b| d + self.cost[e] + pot[v] > b) {
                            break;
                        }
                        let u = self.to[e] as usize;
                        if done[u] {
                            continue;
                        }
                        let nd = d + self.cost[e] + pot[v] - pot[u];
                        if bound.is_some_and(|b| nd > b) {
                            continue;
                        }
                        if !reached[u] || nd < dist[u] {
                            if !reached[u] {
                                reached[u] = true;
                                touched.push(u);
                            }
                            dist[u] = nd;
                            prev[u] = e as u32;
                            heap.push(Reverse((nd, u as u32)));
                            if u == sink {
                                bound = Some(nd);
                            }
                        }
                    }
                }
                if !hit {
                    left += excess[s];
                    excess[s] = 0;
                    break;
                }
                // New potentials: + dist for settled nodes, + dist(sink) for the rest
                // (implicit: the same for every node).
                let ds = dist[sink];
                for &v in &settled {
                    pot[v] = pot[v] + dist[v] - ds;
                }
                let mut push = excess[s];
                let mut x = sink;
                while x != s {
                    let e = prev[x] as usize;
                    push = push.min(self.cap[e]);
                    x = self.tail(e);
                }
                let mut x = sink;
                while x != s {
                    let e = prev[x] as usize;
                    self.push(e, push);
                    x = self.tail(e);
                }
                excess[s] -= push;
            }
        }
        (left, pot)
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
        assert_eq!(net.min_cost_flow(&mut excess, 4).0, 0);
        assert_eq!((net.flow(a), net.flow(b), net.flow(c)), (0, 1, 1));
    }
}
