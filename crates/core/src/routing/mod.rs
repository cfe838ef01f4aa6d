//! Road network and truck travel times: parses and validates an uploaded GeoJSON network,
//! applies closures, and answers "how long from each warehouse to this incident" with Dijkstra.
//!
//! Invariants:
//! - Pure: no I/O, clock, randomness or hash-order dependence. The same network, closures and
//!   points always give the same times and routes (ties are broken by node index, then by the
//!   order in which edges appear in the uploaded file).
//! - A validated [`Network`] is non-empty, connected (ignoring closures and truck bans), and
//!   every edge has a finite, non-negative travel time and a positive length.
//! - Supplies move by truck: routing only ever uses edges with `trucks_allowed` that are not
//!   closed. The Humen Bridge (truck ban since 2019) is therefore never used for supplies.
//! - Points off the network join the nearest node that has at least one truck-allowed edge.
//!   That choice ignores closures on purpose: otherwise closing a road could move the snap to a
//!   better-connected node and make a trip *shorter*, and closing roads must never do that.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use geo::{
    BoundingRect, Coord, Distance, Haversine, Intersects, Length, LineString, MultiPolygon, Point,
    Rect,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Why an uploaded network was rejected. Every variant names the feature and, where it applies,
/// the property, so an admin can find the problem in a file of thousands of edges.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetworkError {
    /// The text is not JSON at all.
    #[error("network is not valid JSON: {0}")]
    Json(String),
    /// The document is JSON but not a GeoJSON FeatureCollection with a `features` array.
    #[error("network must be a GeoJSON FeatureCollection with a \"features\" array: {0}")]
    NotFeatureCollection(String),
    /// The collection has no features.
    #[error("network has no edges")]
    Empty,
    /// One feature is malformed; `property` is the offending member (`geometry`, `id`, ...).
    #[error("feature {index}{}: {property}: {problem}", id_suffix(.id))]
    Feature {
        /// Position in the `features` array, from 0.
        index: usize,
        /// The feature's `id` property, when it could be read.
        id: Option<String>,
        /// The offending member, e.g. `speed_kmh` or `geometry.coordinates`.
        property: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// Two features share an `id`.
    #[error("feature {index} (id \"{id}\"): id: duplicate of feature {first_index}")]
    DuplicateId {
        /// Position of the second occurrence.
        index: usize,
        /// The repeated id.
        id: String,
        /// Position of the first occurrence.
        first_index: usize,
    },
    /// The graph falls apart into several pieces; `index`/`id` is an edge that cannot be reached
    /// from the first edge of the file.
    #[error(
        "network is not connected: feature {index} (id \"{id}\") cannot be reached from feature 0 (id \"{reference_id}\"); {components} separate parts"
    )]
    Disconnected {
        /// Position of an edge outside the first edge's component.
        index: usize,
        /// Its id.
        id: String,
        /// The id of feature 0, the reference component.
        reference_id: String,
        /// How many connected components the network has.
        components: usize,
    },
}

fn id_suffix(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" (id \"{id}\")"),
        None => String::new(),
    }
}

impl NetworkError {
    /// A JSON pointer (RFC 6901) into the uploaded document at the offending member, for the
    /// `errors[]` of a problem+json response.
    pub fn pointer(&self) -> String {
        match self {
            NetworkError::Json(_) => String::new(),
            NetworkError::NotFeatureCollection(_) | NetworkError::Empty => "/features".to_owned(),
            NetworkError::Feature {
                index, property, ..
            } => {
                let path = property.replace('.', "/");
                if path == "geometry" || path.starts_with("geometry/") || path == "properties" {
                    format!("/features/{index}/{path}")
                } else {
                    format!("/features/{index}/properties/{path}")
                }
            }
            NetworkError::DuplicateId { index, .. } => format!("/features/{index}/properties/id"),
            NetworkError::Disconnected { index, .. } => format!("/features/{index}"),
        }
    }

    /// The position of the feature in the `features` array, or `None` for a problem of the
    /// whole document.
    pub fn feature_index(&self) -> Option<usize> {
        match self {
            NetworkError::Json(_) | NetworkError::NotFeatureCollection(_) | NetworkError::Empty => {
                None
            }
            NetworkError::Feature { index, .. }
            | NetworkError::DuplicateId { index, .. }
            | NetworkError::Disconnected { index, .. } => Some(*index),
        }
    }

    /// The edge's `id` property, when the feature has a readable one.
    pub fn edge_id(&self) -> Option<&str> {
        match self {
            NetworkError::Feature { id, .. } => id.as_deref(),
            NetworkError::DuplicateId { id, .. } | NetworkError::Disconnected { id, .. } => {
                Some(id)
            }
            _ => None,
        }
    }

    /// The offending member, dotted (`speed_kmh`, `geometry.coordinates.3`): `id` for a
    /// duplicate, `geometry` for an edge the rest cannot reach, `features` or empty for the
    /// whole document.
    pub fn field(&self) -> String {
        match self {
            NetworkError::Json(_) => String::new(),
            NetworkError::NotFeatureCollection(_) | NetworkError::Empty => "features".to_owned(),
            NetworkError::Feature { property, .. } => property.clone(),
            NetworkError::DuplicateId { .. } => "id".to_owned(),
            NetworkError::Disconnected { .. } => "geometry".to_owned(),
        }
    }

    /// What is wrong, in words, without the feature and field that [`Self::feature_index`],
    /// [`Self::edge_id`] and [`Self::field`] name.
    pub fn reason(&self) -> String {
        match self {
            NetworkError::Feature { problem, .. } => problem.clone(),
            NetworkError::DuplicateId { first_index, .. } => {
                format!("duplicate of feature {first_index}")
            }
            NetworkError::Disconnected {
                reference_id,
                components,
                ..
            } => format!(
                "cannot be reached from feature 0 (id \"{reference_id}\"): the network is in {components} separate parts"
            ),
            other => other.to_string(),
        }
    }
}

/// Index of an edge in a [`Network`], as returned by [`Network::edge_index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EdgeIndex(usize);

impl EdgeIndex {
    /// The position of the edge in the uploaded `features` array.
    pub fn get(self) -> usize {
        self.0
    }
}

/// One road segment between two nodes, travelled in either direction.
#[derive(Debug, Clone)]
struct Edge {
    id: String,
    /// The uploaded properties, kept verbatim so that `to_geojson` returns what was uploaded.
    properties: Map<String, Value>,
    geometry: LineString<f64>,
    bbox: Rect<f64>,
    from: usize,
    to: usize,
    km: f64,
    minutes: f64,
    trucks_allowed: bool,
}

/// A validated road network: nodes are edge endpoints, edges are undirected.
#[derive(Debug, Clone)]
pub struct Network {
    nodes: Vec<Coord<f64>>,
    edges: Vec<Edge>,
    /// Compressed adjacency: the neighbours of node `n` are `adj[adj_start[n]..adj_start[n + 1]]`
    /// as `(edge, other node)`, in edge order, so that the search order is fixed.
    adj_start: Vec<usize>,
    adj: Vec<(usize, usize)>,
    by_id: HashMap<String, usize>,
    /// Nodes a truck can start from (at least one truck-allowed edge), with their positions as
    /// unit vectors: the nearest node by chord length is the nearest by great-circle distance.
    snap_nodes: Vec<(usize, [f64; 3])>,
}

/// Which edges are closed, for one set of closures on one network. Build it with
/// [`Network::closed_edges`]; the default value closes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosedEdges {
    closed: Vec<bool>,
}

impl ClosedEdges {
    /// Whether the edge is closed. Indices beyond the network (a default value) are open.
    pub fn is_closed(&self, edge: EdgeIndex) -> bool {
        self.closed.get(edge.0).copied().unwrap_or(false)
    }

    /// How many edges are closed.
    pub fn count(&self) -> usize {
        self.closed.iter().filter(|c| **c).count()
    }

    /// The ids of the closed edges, in file order.
    pub fn ids<'a>(&self, network: &'a Network) -> Vec<&'a str> {
        network
            .edges
            .iter()
            .enumerate()
            .filter(|(i, _)| self.is_closed(EdgeIndex(*i)))
            .map(|(_, e)| e.id.as_str())
            .collect()
    }
}

/// A closure order: named edges, an area (e.g. a typhoon wind circle or a flood polygon), or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closure {
    /// Edge ids closed by name. Check them with [`Network::edge_index`] first: unknown ids are
    /// ignored here.
    pub edge_ids: Vec<String>,
    /// Every edge whose geometry touches this area is closed (WGS84, x = lon, y = lat).
    pub area: Option<MultiPolygon<f64>>,
}

/// How a point off the network reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SnapConfig {
    /// Road distance ÷ straight-line distance for the last stretch. 1.3 is the usual urban
    /// circuity factor (road networks run 1.2–1.4 × the crow-fly distance).
    pub circuity: f64,
    /// Average speed on local roads between a warehouse or incident and the network, in km/h.
    /// 30 km/h: urban streets with junctions, loading areas and gates. Must be > 0; otherwise
    /// every point that is not exactly on a node is unreachable.
    pub speed_kmh: f64,
}

impl Default for SnapConfig {
    fn default() -> Self {
        SnapConfig {
            circuity: 1.3,
            speed_kmh: 30.0,
        }
    }
}

/// Time and distance of the fastest truck trip between two points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Travel {
    /// Travel time in minutes, snap legs included.
    pub minutes: f64,
    /// Road distance in km along the fastest path, snap legs included (at the circuity factor).
    pub km: f64,
}

/// The fastest truck trip, with the edges used and the drawn path.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Travel time in minutes, snap legs included.
    pub minutes: f64,
    /// Road distance in km, snap legs included.
    pub km: f64,
    /// Edge ids in travel order.
    pub edge_ids: Vec<String>,
    /// From the start point, along each edge in travel direction, to the end point
    /// (consecutive duplicate points removed).
    pub path: LineString<f64>,
}

impl Route {
    /// The route as a GeoJSON Feature (LineString with `minutes`, `km`, `edge_ids`).
    pub fn to_geojson(&self) -> Value {
        json!({
            "type": "Feature",
            "geometry": line_to_geojson(&self.path),
            "properties": {
                "minutes": self.minutes,
                "km": self.km,
                "edge_ids": self.edge_ids,
            }
        })
    }
}

fn line_to_geojson(line: &LineString<f64>) -> Value {
    let coords: Vec<Value> = line.0.iter().map(|c| json!([c.x, c.y])).collect();
    json!({ "type": "LineString", "coordinates": coords })
}

/// Coordinates are joined into one node when they agree to 1e-7 degrees (about 1 cm).
fn node_key(c: Coord<f64>) -> (i64, i64) {
    ((c.x * 1e7).round() as i64, (c.y * 1e7).round() as i64)
}

fn unit_vector(c: Coord<f64>) -> [f64; 3] {
    let (lat, lon) = (c.y.to_radians(), c.x.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn haversine_km(a: Coord<f64>, b: Coord<f64>) -> f64 {
    Haversine.distance(Point::from(a), Point::from(b)) / 1000.0
}

fn feature_error(
    index: usize,
    id: Option<&str>,
    property: &str,
    problem: impl Into<String>,
) -> NetworkError {
    NetworkError::Feature {
        index,
        id: id.map(str::to_owned),
        property: property.to_owned(),
        problem: problem.into(),
    }
}

/// A finite number, or an error naming the property.
fn number(
    props: &Map<String, Value>,
    key: &str,
    index: usize,
    id: &str,
) -> Result<Option<f64>, NetworkError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(feature_error(
                index,
                Some(id),
                key,
                format!("must be a number, got {v}"),
            )),
        },
    }
}

fn parse_geometry(
    feature: &Value,
    index: usize,
    id: Option<&str>,
) -> Result<LineString<f64>, NetworkError> {
    let geometry = feature
        .get("geometry")
        .filter(|g| g.is_object())
        .ok_or_else(|| feature_error(index, id, "geometry", "missing; expected a LineString"))?;
    match geometry.get("type").and_then(Value::as_str) {
        Some("LineString") => {}
        Some(other) => {
            return Err(feature_error(
                index,
                id,
                "geometry.type",
                format!("must be \"LineString\", got \"{other}\""),
            ));
        }
        None => return Err(feature_error(index, id, "geometry.type", "missing")),
    }
    let coordinates = geometry
        .get("coordinates")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            feature_error(index, id, "geometry.coordinates", "missing or not an array")
        })?;
    if coordinates.len() < 2 {
        return Err(feature_error(
            index,
            id,
            "geometry.coordinates",
            format!(
                "a LineString needs at least 2 positions, got {}",
                coordinates.len()
            ),
        ));
    }
    let mut coords = Vec::with_capacity(coordinates.len());
    for (i, position) in coordinates.iter().enumerate() {
        let property = format!("geometry.coordinates.{i}");
        let pair = position
            .as_array()
            .filter(|p| p.len() >= 2)
            .ok_or_else(|| feature_error(index, id, &property, "expected [lon, lat]"))?;
        let (Some(lon), Some(lat)) = (pair[0].as_f64(), pair[1].as_f64()) else {
            return Err(feature_error(
                index,
                id,
                &property,
                "lon and lat must be numbers",
            ));
        };
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(feature_error(
                index,
                id,
                &property,
                format!(
                    "[{lon}, {lat}] is out of range: lon must be in [-180, 180], lat in [-90, 90] (GeoJSON order is [lon, lat])"
                ),
            ));
        }
        coords.push(Coord { x: lon, y: lat });
    }
    Ok(LineString::new(coords))
}

/// One feature that passed its own checks (duplicates and connectivity are the whole
/// network's).
struct ParsedFeature {
    id: String,
    properties: Map<String, Value>,
    geometry: LineString<f64>,
    km: f64,
    minutes: f64,
    trucks_allowed: bool,
}

/// Checks one feature on its own and returns it, or every problem it has with its id
/// when that could be read (so that duplicates are still found).
fn parse_feature(
    index: usize,
    feature: &Value,
) -> Result<ParsedFeature, (Option<String>, Vec<NetworkError>)> {
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err((
            None,
            vec![feature_error(index, None, "type", "must be \"Feature\"")],
        ));
    }
    let props = match feature.get("properties") {
        Some(Value::Object(p)) => p,
        _ => {
            let problem = feature_error(index, None, "properties", "missing or not an object");
            return Err((None, vec![problem]));
        }
    };
    let id = match props.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err((
                None,
                vec![feature_error(index, None, "id", "must not be empty")],
            ));
        }
        Some(v) => {
            let problem = feature_error(index, None, "id", format!("must be a string, got {v}"));
            return Err((None, vec![problem]));
        }
        None => return Err((None, vec![feature_error(index, None, "id", "missing")])),
    };
    let mut errors = Vec::new();
    let mut bad = |property: &str, problem: String| {
        errors.push(feature_error(index, Some(&id), property, problem));
    };
    let geometry = parse_geometry(feature, index, Some(&id));
    for key in ["name", "road_class"] {
        match props.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(v) => bad(key, format!("must be a string, got {v}")),
        }
    }
    // A property that is not a number is reported once; the checks that need it skip.
    let speed = number(props, "speed_kmh", index, &id);
    let fixed = number(props, "minutes", index, &id);
    let border = number(props, "border_minutes", index, &id);
    for r in [&speed, &fixed, &border] {
        if let Err(NetworkError::Feature {
            property, problem, ..
        }) = r
        {
            bad(property, problem.clone());
        }
    }
    if let Ok(Some(s)) = speed
        && s <= 0.0
    {
        bad("speed_kmh", format!("must be > 0, got {s}"));
    }
    if let Ok(Some(m)) = fixed
        && m < 0.0
    {
        bad("minutes", format!("must be >= 0, got {m}"));
    }
    if let Ok(Some(b)) = border
        && b < 0.0
    {
        bad("border_minutes", format!("must be >= 0, got {b}"));
    }
    let trucks_allowed = match props.get("trucks_allowed") {
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => {
            bad("trucks_allowed", format!("must be true or false, got {v}"));
            None
        }
        None => {
            bad("trucks_allowed", "missing (true or false)".to_owned());
            None
        }
    };
    let geometry = match geometry {
        Ok(g) => Some(g),
        Err(e) => {
            // In member order: the geometry's problem comes first.
            errors.insert(0, e);
            None
        }
    };
    let km = geometry
        .as_ref()
        .map(|g| Haversine.length(g) / 1000.0)
        .filter(|km| {
            let positive = *km > 0.0;
            if !positive {
                errors.push(feature_error(
                    index,
                    Some(&id),
                    "geometry.coordinates",
                    "zero-length edge: all positions are the same point",
                ));
            }
            positive
        });
    let drive = match (fixed, speed, km) {
        (Ok(Some(m)), _, _) => Some(m),
        (Ok(None), Ok(Some(s)), Some(km)) => Some(km / s * 60.0),
        (Ok(None), Ok(None), _) => {
            errors.push(feature_error(
                index,
                Some(&id),
                "speed_kmh",
                "missing: give speed_kmh (> 0) or a fixed minutes",
            ));
            None
        }
        _ => None,
    };
    let minutes = drive.map(|d| d + border.ok().flatten().unwrap_or(0.0));
    if minutes.is_some_and(|m| !m.is_finite()) {
        errors.push(feature_error(
            index,
            Some(&id),
            "minutes",
            "travel time is not finite",
        ));
    }
    match (geometry, km, minutes, trucks_allowed) {
        (Some(geometry), Some(km), Some(minutes), Some(trucks_allowed)) if errors.is_empty() => {
            Ok(ParsedFeature {
                id,
                properties: props.clone(),
                geometry,
                km,
                minutes,
                trucks_allowed,
            })
        }
        _ => Err((Some(id), errors)),
    }
}

/// Weighted union-find to find connected components at load time.
fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Heap key: minutes with a total order, then node index so that ties pop in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64, usize);

impl Eq for Key {}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Result of one Dijkstra run rooted at the destination.
struct Tree {
    minutes: Vec<f64>,
    km: Vec<f64>,
    /// The edge leading one step *toward the root*, for nodes reached from elsewhere.
    toward_root: Vec<Option<usize>>,
    settled: Vec<bool>,
}

/// Where a point joins the network and what the leg costs.
#[derive(Debug, Clone, Copy)]
struct Snap {
    node: usize,
    minutes: f64,
    km: f64,
}

impl Network {
    /// Parses and validates a GeoJSON FeatureCollection of LineString edges.
    ///
    /// Properties per feature: `id` (unique string), `name`, `road_class` (optional strings),
    /// `speed_kmh` (> 0) or `minutes` (fixed, ≥ 0; wins over the speed when both are given),
    /// `trucks_allowed` (bool, required so that a forgotten flag never opens a truck ban), and
    /// optional `border_minutes` (≥ 0, e.g. customs). Returns the first problem found, in file
    /// order; [`Network::check_geojson`] returns every one.
    pub fn from_geojson(text: &str) -> Result<Network, NetworkError> {
        Network::check_geojson(text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Like [`Network::from_geojson`], but refuses with every problem of the document, never
    /// an empty list: in file order, and within a feature in the order the checks run, so
    /// that an admin fixes a file of thousands of edges in one pass. A document that is not
    /// a FeatureCollection gives one problem. Connectivity is checked only once every
    /// feature is valid (a bad edge may be the one that joins the pieces); then every edge
    /// outside the first edge's piece is named.
    pub fn check_geojson(text: &str) -> Result<Network, Vec<NetworkError>> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| vec![NetworkError::Json(e.to_string())])?;
        match doc.get("type").and_then(Value::as_str) {
            Some("FeatureCollection") => {}
            Some(other) => {
                return Err(vec![NetworkError::NotFeatureCollection(format!(
                    "\"type\" is \"{other}\""
                ))]);
            }
            None => {
                return Err(vec![NetworkError::NotFeatureCollection(
                    "\"type\" is missing".to_owned(),
                )]);
            }
        }
        let features = doc
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                vec![NetworkError::NotFeatureCollection(
                    "\"features\" is not an array".to_owned(),
                )]
            })?;
        if features.is_empty() {
            return Err(vec![NetworkError::Empty]);
        }

        let mut errors: Vec<NetworkError> = Vec::new();
        let mut nodes: Vec<Coord<f64>> = Vec::new();
        let mut node_of: HashMap<(i64, i64), usize> = HashMap::new();
        let mut edges: Vec<Edge> = Vec::with_capacity(features.len());
        let mut by_id: HashMap<String, usize> = HashMap::with_capacity(features.len());

        for (index, feature) in features.iter().enumerate() {
            let (id, parsed) = match parse_feature(index, feature) {
                Ok(edge) => (edge.id.clone(), Some(edge)),
                Err((id, problems)) => {
                    errors.extend(problems);
                    match id {
                        Some(id) => (id, None),
                        None => continue,
                    }
                }
            };
            if let Some(&first_index) = by_id.get(&id) {
                errors.push(NetworkError::DuplicateId {
                    index,
                    id,
                    first_index,
                });
                continue;
            }
            by_id.insert(id, index);
            let Some(p) = parsed else { continue };
            if !errors.is_empty() {
                // The network is refused: only the problems of the rest still matter.
                continue;
            }
            let mut endpoint = |c: Coord<f64>| {
                *node_of.entry(node_key(c)).or_insert_with(|| {
                    nodes.push(c);
                    nodes.len() - 1
                })
            };
            // A LineString always has a first and last position: we checked for 2 above.
            let (first, last) = (p.geometry.0[0], p.geometry.0[p.geometry.0.len() - 1]);
            let (from, to) = (endpoint(first), endpoint(last));
            let bbox = p
                .geometry
                .bounding_rect()
                .unwrap_or_else(|| Rect::new(first, last));
            edges.push(Edge {
                id: p.id,
                properties: p.properties,
                geometry: p.geometry,
                bbox,
                from,
                to,
                km: p.km,
                minutes: p.minutes,
                trucks_allowed: p.trucks_allowed,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        // Connectivity over all edges, whatever their truck flag: a missing link is a data error,
        // a truck ban is a rule.
        let mut parent: Vec<usize> = (0..nodes.len()).collect();
        for e in &edges {
            let (a, b) = (find(&mut parent, e.from), find(&mut parent, e.to));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
        let mut roots: Vec<usize> = (0..nodes.len()).map(|n| find(&mut parent, n)).collect();
        let reference = roots[edges[0].from];
        let outside: Vec<(usize, &Edge)> = edges
            .iter()
            .enumerate()
            .filter(|(_, e)| roots[e.from] != reference)
            .collect();
        if !outside.is_empty() {
            roots.sort_unstable();
            roots.dedup();
            return Err(outside
                .into_iter()
                .map(|(index, e)| NetworkError::Disconnected {
                    index,
                    id: e.id.clone(),
                    reference_id: edges[0].id.clone(),
                    components: roots.len(),
                })
                .collect());
        }

        let mut degree = vec![0usize; nodes.len() + 1];
        for e in &edges {
            degree[e.from] += 1;
            if e.to != e.from {
                degree[e.to] += 1;
            }
        }
        let mut adj_start = Vec::with_capacity(nodes.len() + 1);
        let mut acc = 0;
        for d in &degree[..nodes.len()] {
            adj_start.push(acc);
            acc += d;
        }
        adj_start.push(acc);
        let mut fill = adj_start.clone();
        let mut adj = vec![(0, 0); acc];
        for (i, e) in edges.iter().enumerate() {
            adj[fill[e.from]] = (i, e.to);
            fill[e.from] += 1;
            if e.to != e.from {
                adj[fill[e.to]] = (i, e.from);
                fill[e.to] += 1;
            }
        }
        let snap_nodes = (0..nodes.len())
            .filter(|&n| {
                adj[adj_start[n]..adj_start[n + 1]]
                    .iter()
                    .any(|&(e, _)| edges[e].trucks_allowed)
            })
            .map(|n| (n, unit_vector(nodes[n])))
            .collect();

        Ok(Network {
            nodes,
            edges,
            adj_start,
            adj,
            by_id,
            snap_nodes,
        })
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Number of nodes (distinct edge endpoints).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The index of the edge with this id, or `None` if the network has no such edge
    /// (the HTTP layer answers 422 for closures naming unknown edges).
    pub fn edge_index(&self, id: &str) -> Option<EdgeIndex> {
        self.by_id.get(id).copied().map(EdgeIndex)
    }

    /// The edge's id.
    pub fn edge_id(&self, edge: EdgeIndex) -> Option<&str> {
        self.edges.get(edge.0).map(|e| e.id.as_str())
    }

    /// Which edges the closures close: listed by id, or touching a closure area.
    pub fn closed_edges(&self, closures: &[Closure]) -> ClosedEdges {
        let mut closed = vec![false; self.edges.len()];
        for closure in closures {
            for id in &closure.edge_ids {
                if let Some(&i) = self.by_id.get(id) {
                    closed[i] = true;
                }
            }
            if let Some(area) = &closure.area {
                let Some(area_box) = area.bounding_rect() else {
                    continue; // an empty area closes nothing
                };
                for (i, e) in self.edges.iter().enumerate() {
                    // The box test is cheap and rejects most edges before the exact test.
                    if !closed[i] && e.bbox.intersects(&area_box) && e.geometry.intersects(area) {
                        closed[i] = true;
                    }
                }
            }
        }
        ClosedEdges { closed }
    }

    /// The network as a GeoJSON FeatureCollection: each edge with its uploaded properties plus
    /// `state` (`closed` beats `no_trucks` beats `open`), `length_km` and `minutes`.
    pub fn to_geojson(&self, closed: &ClosedEdges) -> Value {
        let features: Vec<Value> = self
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let state = if closed.is_closed(EdgeIndex(i)) {
                    "closed"
                } else if !e.trucks_allowed {
                    "no_trucks"
                } else {
                    "open"
                };
                let mut properties = e.properties.clone();
                properties.insert("state".to_owned(), json!(state));
                properties.insert("length_km".to_owned(), json!(e.km));
                properties.insert("minutes".to_owned(), json!(e.minutes));
                json!({
                    "type": "Feature",
                    "geometry": line_to_geojson(&e.geometry),
                    "properties": properties,
                })
            })
            .collect();
        json!({ "type": "FeatureCollection", "features": features })
    }

    fn usable(&self, edge: usize, closed: &ClosedEdges) -> bool {
        self.edges[edge].trucks_allowed && !closed.is_closed(EdgeIndex(edge))
    }

    /// The nearest truck node to `p` (lowest node index on a tie) and the cost of getting there.
    fn snap(&self, p: Point<f64>, snap: &SnapConfig) -> Option<Snap> {
        let c = p.0;
        if !c.x.is_finite() || !c.y.is_finite() {
            return None;
        }
        let u = unit_vector(c);
        let mut best: Option<(f64, usize)> = None;
        for &(n, v) in &self.snap_nodes {
            let (dx, dy, dz) = (u[0] - v[0], u[1] - v[1], u[2] - v[2]);
            let chord2 = dx * dx + dy * dy + dz * dz;
            if best.is_none_or(|(b, _)| chord2 < b) {
                best = Some((chord2, n));
            }
        }
        let (_, node) = best?;
        let km = haversine_km(c, self.nodes[node]) * snap.circuity;
        let minutes = if km > 0.0 {
            km / snap.speed_kmh * 60.0
        } else {
            0.0
        };
        // A nonsensical config (speed <= 0, negative circuity) must not yield a usable time.
        (minutes.is_finite() && minutes >= 0.0 && km >= 0.0).then_some(Snap { node, minutes, km })
    }

    /// Dijkstra from `root` over open truck edges; stops once `done` says every node of interest
    /// is settled. Settled values do not depend on when the search stops.
    fn tree(&self, root: usize, closed: &ClosedEdges, mut done: impl FnMut(usize) -> bool) -> Tree {
        let n = self.nodes.len();
        let mut t = Tree {
            minutes: vec![f64::INFINITY; n],
            km: vec![f64::INFINITY; n],
            toward_root: vec![None; n],
            settled: vec![false; n],
        };
        let mut heap = BinaryHeap::new();
        t.minutes[root] = 0.0;
        t.km[root] = 0.0;
        heap.push(Reverse(Key(0.0, root)));
        while let Some(Reverse(Key(d, u))) = heap.pop() {
            if t.settled[u] {
                continue;
            }
            t.settled[u] = true;
            if done(u) {
                break;
            }
            for &(e, v) in &self.adj[self.adj_start[u]..self.adj_start[u + 1]] {
                if t.settled[v] || !self.usable(e, closed) {
                    continue;
                }
                let nd = d + self.edges[e].minutes;
                // Strictly better only: on equal times the first edge found (file order) stays.
                if nd < t.minutes[v] {
                    t.minutes[v] = nd;
                    t.km[v] = t.km[u] + self.edges[e].km;
                    t.toward_root[v] = Some(e);
                    heap.push(Reverse(Key(nd, v)));
                }
            }
        }
        t
    }

    /// Combines the two snap legs with the network time. Both public queries use this one
    /// expression so that their minutes agree to the last bit.
    fn trip(source: Snap, dest: Snap, t: &Tree) -> Option<Travel> {
        if !t.settled[source.node] {
            return None;
        }
        Some(Travel {
            minutes: source.minutes + t.minutes[source.node] + dest.minutes,
            km: source.km + t.km[source.node] + dest.km,
        })
    }

    /// Truck travel from each source to `to` (the many-warehouses-to-one-incident case), from one
    /// search rooted at `to`. `None` means unreachable with the current closures.
    pub fn travel_times(
        &self,
        to: Point<f64>,
        sources: &[Point<f64>],
        closed: &ClosedEdges,
        snap: &SnapConfig,
    ) -> Vec<Option<Travel>> {
        let Some(dest) = self.snap(to, snap) else {
            return vec![None; sources.len()];
        };
        let snaps: Vec<Option<Snap>> = sources.iter().map(|&s| self.snap(s, snap)).collect();
        let mut wanted = vec![false; self.nodes.len()];
        let mut remaining = 0usize;
        for s in snaps.iter().flatten() {
            if !wanted[s.node] {
                wanted[s.node] = true;
                remaining += 1;
            }
        }
        let tree = self.tree(dest.node, closed, |u| {
            if wanted[u] {
                remaining -= 1;
            }
            remaining == 0
        });
        snaps
            .iter()
            .map(|s| s.and_then(|s| Self::trip(s, dest, &tree)))
            .collect()
    }

    /// The fastest truck route from `from` to `to`, or `None` if unreachable. Its minutes equal
    /// `travel_times(to, &[from], ..)` exactly: both come from a search rooted at `to`.
    pub fn route(
        &self,
        from: Point<f64>,
        to: Point<f64>,
        closed: &ClosedEdges,
        snap: &SnapConfig,
    ) -> Option<Route> {
        let dest = self.snap(to, snap)?;
        let source = self.snap(from, snap)?;
        let tree = self.tree(dest.node, closed, |u| u == source.node);
        let travel = Self::trip(source, dest, &tree)?;

        let mut edge_ids = Vec::new();
        let mut coords: Vec<Coord<f64>> = vec![from.0, self.nodes[source.node]];
        let mut node = source.node;
        // Walk toward the root: this is the travel direction, so each edge is oriented from the
        // node we are at to the next one.
        while let Some(e) = tree.toward_root[node] {
            let edge = &self.edges[e];
            edge_ids.push(edge.id.clone());
            if edge.from == node {
                coords.extend(edge.geometry.0.iter().copied());
                node = edge.to;
            } else {
                coords.extend(edge.geometry.0.iter().rev().copied());
                node = edge.from;
            }
        }
        coords.push(self.nodes[dest.node]);
        coords.push(to.0);
        coords.dedup();
        Some(Route {
            minutes: travel.minutes,
            km: travel.km,
            edge_ids,
            path: LineString::new(coords),
        })
    }
}

#[cfg(test)]
mod tests;
