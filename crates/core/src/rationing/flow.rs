//! The two network-flow algorithms the rationing solver needs, written here because no
//! maintained pure-Rust crate offers both (see the module documentation of
//! [`super`]): Dinic's maximum flow, with the residual reachability and single-unit
//! augmentations the water-filling and the rounding use, and successive-shortest-path
//! minimum-cost flow with Dijkstra on reduced costs.
//!
//! Invariants: capacities are whole numbers (`i128`, so that scaled capacities of the
//! parametric search cannot overflow); every edge is stored with its reverse twin at
//! index `e ^ 1`; costs are lexicographic pairs and never negative on a forward edge, so
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

/// A flow network in compressed adjacency form: add the edges, then [`Net::finish`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Net {
    n: usize,
    to: Vec<u32>,
    /// Residual capacity.
    pub(crate) cap: Vec<Cap>,
    cost: Vec<Cost>,
    /// Edge ids by tail node: `adj[first[v]..first[v + 1]]`.
    adj: Vec<u32>,
    first: Vec<u32>,
    // Scratch space, reused between calls.
    level: Vec<i32>,
    it: Vec<u32>,
}

impl Net {
    /// An empty network on `n` nodes.
    pub(crate) fn new(n: usize) -> Net {
        Net {
            n,
            ..Net::default()
        }
    }

    /// Adds `u → v` with capacity `cap` and cost `cost` (and its reverse twin); returns
    /// the edge id. The flow on it is `cap(e ^ 1)`.
    pub(crate) fn add(&mut self, u: usize, v: usize, cap: Cap, cost: Cost) -> usize {
        let e = self.to.len();
        self.to.push(v as u32);
        self.cap.push(cap);
        self.cost.push(cost);
        self.to.push(u as u32);
        self.cap.push(0);
        self.cost.push(Cost(-cost.0, -cost.1));
        e
    }

    /// Builds the adjacency; call once, after the last [`Net::add`].
    pub(crate) fn finish(&mut self) {
        let mut count = vec![0u32; self.n + 1];
        for e in 0..self.to.len() {
            count[self.tail(e) + 1] += 1;
        }
        for v in 0..self.n {
            count[v + 1] += count[v];
        }
        let mut fill = count.clone();
        let mut adj = vec![0u32; self.to.len()];
        for e in 0..self.to.len() {
            let t = self.tail(e);
            adj[fill[t] as usize] = e as u32;
            fill[t] += 1;
        }
        self.first = count;
        self.adj = adj;
    }

    fn tail(&self, e: usize) -> usize {
        self.to[e ^ 1] as usize
    }

    fn edges(&self, v: usize) -> std::ops::Range<usize> {
        self.first[v] as usize..self.first[v + 1] as usize
    }

    /// The flow on forward edge `e`.
    pub(crate) fn flow(&self, e: usize) -> Cap {
        self.cap[e ^ 1]
    }

    /// Sets forward edge `e` to capacity `cap` with no flow.
    pub(crate) fn reset(&mut self, e: usize, cap: Cap) {
        self.cap[e] = cap;
        self.cap[e ^ 1] = 0;
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
            for i in self.edges(v) {
                let e = self.adj[i] as usize;
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
        while (self.it[v] as usize) < self.first[v + 1] as usize {
            let e = self.adj[self.it[v] as usize] as usize;
            let u = self.to[e] as usize;
            if self.cap[e] > 0 && self.level[u] == self.level[v] + 1 {
                let d = self.dfs(u, t, (limit - sent).min(self.cap[e]));
                if d > 0 {
                    self.cap[e] -= d;
                    self.cap[e ^ 1] += d;
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
            for i in self.edges(v) {
                let e = self.adj[i] as usize;
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
    pub(crate) fn push_one_via(&mut self, s: usize, v: usize, exit: usize) -> bool {
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
            for i in self.edges(x) {
                // The twin of an edge x → u is u → x.
                let back = (self.adj[i] as usize) ^ 1;
                let u = self.to[back ^ 1] as usize;
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
            self.cap[e] -= 1;
            self.cap[e ^ 1] += 1;
            x = self.to[e] as usize;
        }
        self.cap[exit] -= 1;
        self.cap[exit ^ 1] += 1;
        true
    }

    /// Successive shortest paths: sends `excess[v]` units from every node `v` to `sink` at
    /// least total cost, starting from the zero flow (every forward cost must be ≥ 0).
    /// Sources are served in index order; each path is a shortest one on reduced costs
    /// (Dijkstra, stopped when it settles `sink`), which keeps the flow optimal for what
    /// has been sent so far. Returns the units that could not be sent.
    pub(crate) fn min_cost_flow(&mut self, excess: &mut [Cap], sink: usize) -> Cap {
        let n = self.n;
        let mut pot = vec![Cost::default(); n];
        // Potentials as stored; conceptually every node also gains dist(sink) after each
        // search, which cancels in every reduced cost, so only settled nodes are touched.
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
                dist[s] = Cost::default();
                reached[s] = true;
                touched.push(s);
                heap.push(Reverse((Cost::default(), s as u32)));
                settled.clear();
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
                    for i in self.edges(v) {
                        let e = self.adj[i] as usize;
                        if self.cap[e] <= 0 {
                            continue;
                        }
                        let u = self.to[e] as usize;
                        if done[u] {
                            continue;
                        }
                        let nd = d + self.cost[e] + pot[v] - pot[u];
                        if !reached[u] || nd < dist[u] {
                            if !reached[u] {
                                reached[u] = true;
                                touched.push(u);
                            }
                            dist[u] = nd;
                            prev[u] = e as u32;
                            heap.push(Reverse((nd, u as u32)));
                        }
                    }
                }
                if !hit {
                    left += excess[s];
                    excess[s] = 0;
                    break;
                }
                // New potentials: + dist for settled nodes, + dist(sink) for the rest.
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
                    self.cap[e] -= push;
                    self.cap[e ^ 1] += push;
                    x = self.tail(e);
                }
                excess[s] -= push;
            }
        }
        left
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
        net.finish();
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
        net.finish();
        let mut excess = vec![1, 1, 0, 0, 0];
        assert_eq!(net.min_cost_flow(&mut excess, 4), 0);
        assert_eq!((net.flow(a), net.flow(b), net.flow(c)), (0, 1, 1));
    }
}
