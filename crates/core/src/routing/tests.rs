use super::*;
use geo::{LineString, MultiPolygon, Polygon, point};
use proptest::prelude::*;

/// One test edge: id, coordinates, speed, trucks.
struct E<'a> {
    id: &'a str,
    coords: &'a [(f64, f64)],
    speed: f64,
    trucks: bool,
}

fn collection(edges: &[E]) -> String {
    let features: Vec<Value> = edges
        .iter()
        .map(|e| {
            json!({
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": e.coords.iter().map(|(x, y)| json!([x, y])).collect::<Vec<_>>(),
                },
                "properties": {
                    "id": e.id, "name": e.id, "road_class": "motorway",
                    "speed_kmh": e.speed, "trucks_allowed": e.trucks,
                }
            })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

// A toy Pearl River estuary. West bank W (Nansha-ish), east bank E (Dongguan-ish).
// - "direct": W–E straight across, fast (the Shenzhen–Zhongshan Link stand-in).
// - "north_w" + "north_e": the detour around the head of the estuary via N.
// - "humen": a very fast, short bridge WH–EH that bans trucks, with access roads.
const W: (f64, f64) = (113.50, 22.60);
const E_: (f64, f64) = (113.90, 22.60);
const N: (f64, f64) = (113.70, 23.00);
const WH: (f64, f64) = (113.60, 22.80);
const EH: (f64, f64) = (113.80, 22.80);

fn estuary() -> Network {
    let text = collection(&[
        E {
            id: "direct",
            coords: &[W, E_],
            speed: 100.0,
            trucks: true,
        },
        E {
            id: "north_w",
            coords: &[W, N],
            speed: 80.0,
            trucks: true,
        },
        E {
            id: "north_e",
            coords: &[N, E_],
            speed: 80.0,
            trucks: true,
        },
        E {
            id: "w_access",
            coords: &[W, WH],
            speed: 100.0,
            trucks: true,
        },
        E {
            id: "humen",
            coords: &[WH, EH],
            speed: 100.0,
            trucks: false,
        },
        E {
            id: "e_access",
            coords: &[EH, E_],
            speed: 100.0,
            trucks: true,
        },
    ]);
    Network::from_geojson(&text).expect("toy estuary is valid")
}

fn pt(c: (f64, f64)) -> Point<f64> {
    point!(x: c.0, y: c.1)
}

fn close(net: &Network, ids: &[&str]) -> ClosedEdges {
    net.closed_edges(&[Closure {
        edge_ids: ids.iter().map(|s| s.to_string()).collect(),
        area: None,
    }])
}

#[test]
fn the_direct_crossing_is_used_while_it_is_open() {
    let net = estuary();
    let route = net
        .route(
            pt(W),
            pt(E_),
            &ClosedEdges::default(),
            &SnapConfig::default(),
        )
        .expect("reachable");
    assert_eq!(route.edge_ids, vec!["direct"]);
    let expected = haversine_km(W.into(), E_.into()) / 100.0 * 60.0;
    assert!((route.minutes - expected).abs() < 1e-9);
}

#[test]
fn closing_the_direct_crossing_forces_the_detour_and_raises_the_time() {
    let net = estuary();
    let snap = SnapConfig::default();
    let open = net.travel_times(pt(E_), &[pt(W)], &ClosedEdges::default(), &snap)[0].expect("open");
    let closed = close(&net, &["direct"]);
    let detour = net.travel_times(pt(E_), &[pt(W)], &closed, &snap)[0].expect("detour exists");
    assert!(detour.minutes > open.minutes);
    assert!(detour.km > open.km);
    let route = net
        .route(pt(W), pt(E_), &closed, &snap)
        .expect("detour exists");
    assert_eq!(route.edge_ids, vec!["north_w", "north_e"]);
    assert_eq!(route.minutes, detour.minutes);
}

#[test]
fn the_no_truck_bridge_is_never_used_even_when_it_is_the_fastest() {
    let net = estuary();
    let closed = close(&net, &["direct", "north_e"]);
    // Without trucks rules, W -> WH -> EH -> E would be the only way left.
    assert!(
        net.route(pt(W), pt(E_), &closed, &SnapConfig::default())
            .is_none()
    );
    let route = net
        .route(
            pt(WH),
            pt(EH),
            &ClosedEdges::default(),
            &SnapConfig::default(),
        )
        .expect("reachable around the bridge");
    assert!(!route.edge_ids.iter().any(|id| id == "humen"));
}

#[test]
fn cutting_every_crossing_makes_the_other_bank_unreachable() {
    let net = estuary();
    let closed = close(&net, &["direct", "north_w"]);
    let times = net.travel_times(
        pt(E_),
        &[pt(W), pt(N), pt(E_)],
        &closed,
        &SnapConfig::default(),
    );
    assert_eq!(times[0], None);
    assert!(times[1].is_some());
    assert_eq!(times[2].map(|t| t.minutes), Some(0.0));
}

#[test]
fn an_area_closure_closes_every_edge_it_touches() {
    let net = estuary();
    // A box around the middle of the direct crossing only.
    let square = Polygon::new(
        LineString::from(vec![
            (113.69, 22.55),
            (113.71, 22.55),
            (113.71, 22.65),
            (113.69, 22.65),
            (113.69, 22.55),
        ]),
        vec![],
    );
    let closed = net.closed_edges(&[Closure {
        edge_ids: vec![],
        area: Some(MultiPolygon::new(vec![square])),
    }]);
    assert_eq!(closed.ids(&net), vec!["direct"]);
}

#[test]
fn unknown_edge_ids_are_reported_by_edge_index() {
    let net = estuary();
    assert!(net.edge_index("humen").is_some());
    assert_eq!(net.edge_index("nope"), None);
}

#[test]
fn to_geojson_reports_state_length_and_minutes() {
    let net = estuary();
    let closed = close(&net, &["direct"]);
    let doc = net.to_geojson(&closed);
    let features = doc["features"].as_array().expect("features");
    assert_eq!(features.len(), 6);
    let state = |id: &str| {
        features
            .iter()
            .find(|f| f["properties"]["id"] == id)
            .map(|f| f["properties"]["state"].clone())
    };
    assert_eq!(state("direct"), Some(json!("closed")));
    assert_eq!(state("humen"), Some(json!("no_trucks")));
    assert_eq!(state("north_w"), Some(json!("open")));
    assert!(
        features[0]["properties"]["length_km"]
            .as_f64()
            .is_some_and(|k| k > 40.0)
    );
    assert_eq!(features[0]["properties"]["road_class"], "motorway");
    // What we emit can be uploaded again.
    assert!(Network::from_geojson(&doc.to_string()).is_ok());
}

#[test]
fn a_point_off_the_network_pays_a_circuitous_slow_leg_to_its_nearest_node() {
    let net = estuary();
    let off = point!(x: 113.50, y: 22.55); // about 5.6 km south of W
    let snap = SnapConfig::default();
    let t = net.travel_times(pt(W), &[off], &ClosedEdges::default(), &snap)[0].expect("reachable");
    let km = haversine_km(off.0, W.into()) * 1.3;
    assert!((t.km - km).abs() < 1e-9);
    assert!((t.minutes - km / 30.0 * 60.0).abs() < 1e-9);
    let route = net
        .route(off, pt(E_), &ClosedEdges::default(), &snap)
        .expect("reachable");
    assert_eq!(route.path.0.first(), Some(&off.0));
    assert_eq!(route.path.0.last(), Some(&Coord::from(E_)));
}

#[test]
fn route_paths_follow_edges_in_travel_direction() {
    let net = estuary();
    let closed = close(&net, &["direct"]);
    // Travel E -> W: the edges were drawn W -> N -> E, so both must be reversed.
    let route = net
        .route(pt(E_), pt(W), &closed, &SnapConfig::default())
        .expect("reachable");
    assert_eq!(route.edge_ids, vec!["north_e", "north_w"]);
    assert_eq!(route.path.0, vec![E_.into(), N.into(), W.into()]);
}

#[test]
fn fixed_minutes_and_border_minutes_set_the_edge_time() {
    let text = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[113.5, 22.2], [114.0, 22.3]]},
         "properties": {"id": "hzmb", "minutes": 40, "border_minutes": 30, "trucks_allowed": true}}
    ]})
    .to_string();
    let net = Network::from_geojson(&text).expect("valid");
    let t = net.travel_times(
        point!(x: 114.0, y: 22.3),
        &[point!(x: 113.5, y: 22.2)],
        &ClosedEdges::default(),
        &SnapConfig::default(),
    );
    assert_eq!(t[0].map(|t| t.minutes), Some(70.0));
}

fn feature(id: Value, coords: Value, extra: Value) -> Value {
    let mut props = json!({"id": id, "speed_kmh": 60, "trucks_allowed": true});
    if let (Some(p), Some(x)) = (props.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props})
}

fn load(features: Vec<Value>) -> Result<Network, NetworkError> {
    Network::from_geojson(&json!({"type": "FeatureCollection", "features": features}).to_string())
}

fn ok_feature(id: &str) -> Value {
    feature(json!(id), json!([[113.0, 22.0], [113.1, 22.0]]), json!({}))
}

fn property_of(e: &NetworkError) -> (usize, String) {
    match e {
        NetworkError::Feature {
            index, property, ..
        } => (*index, property.clone()),
        other => panic!("expected a feature error, got {other:?}"),
    }
}

#[test]
fn validation_rejects_documents_that_are_not_feature_collections() {
    assert!(matches!(
        Network::from_geojson("nope"),
        Err(NetworkError::Json(_))
    ));
    assert!(matches!(
        Network::from_geojson(r#"{"type": "Feature"}"#),
        Err(NetworkError::NotFeatureCollection(_))
    ));
    assert_eq!(load(vec![]).err(), Some(NetworkError::Empty));
}

#[test]
fn validation_names_the_feature_and_property_of_each_problem() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.0, 22.0]}, "properties": {"id": "p", "speed_kmh": 60, "trucks_allowed": true}}),
            "geometry.type",
        ),
        (
            feature(json!("short"), json!([[113.0, 22.0]]), json!({})),
            "geometry.coordinates",
        ),
        (
            feature(
                json!("swapped"),
                json!([[22.0, 113.0], [22.1, 113.0]]),
                json!({}),
            ),
            "geometry.coordinates.0",
        ),
        (
            feature(
                json!("slow"),
                json!([[113.0, 22.0], [113.1, 22.0]]),
                json!({"speed_kmh": 0}),
            ),
            "speed_kmh",
        ),
        (
            feature(
                json!("neg"),
                json!([[113.0, 22.0], [113.1, 22.0]]),
                json!({"speed_kmh": -5}),
            ),
            "speed_kmh",
        ),
        (
            feature(
                json!("none"),
                json!([[113.0, 22.0], [113.1, 22.0]]),
                json!({"speed_kmh": null}),
            ),
            "speed_kmh",
        ),
        (
            feature(
                json!("text"),
                json!([[113.0, 22.0], [113.1, 22.0]]),
                json!({"speed_kmh": "fast"}),
            ),
            "speed_kmh",
        ),
        (
            feature(
                json!("m"),
                json!([[113.0, 22.0], [113.1, 22.0]]),
                json!({"minutes": -1}),
            ),
            "minutes",
        ),
        (
            feature(
                json!("dot"),
                json!([[113.0, 22.0], [113.0, 22.0]]),
                json!({}),
            ),
            "geometry.coordinates",
        ),
        (
            feature(json!(7), json!([[113.0, 22.0], [113.1, 22.0]]), json!({})),
            "id",
        ),
        (
            feature(
                json!("t"),
                json!([[113.0, 22.0], [113.1, 22.0]]),
                json!({"trucks_allowed": "yes"}),
            ),
            "trucks_allowed",
        ),
    ];
    for (bad, property) in cases {
        let err = load(vec![ok_feature("a"), bad]).expect_err(property);
        assert_eq!(property_of(&err), (1, property.to_owned()), "{err}");
        assert!(
            err.pointer().starts_with("/features/1/"),
            "{}",
            err.pointer()
        );
        assert!(err.to_string().contains(property), "{err}");
    }
}

#[test]
fn validation_rejects_duplicate_ids() {
    let err = load(vec![ok_feature("a"), ok_feature("a")]).expect_err("duplicate");
    assert_eq!(
        err,
        NetworkError::DuplicateId {
            index: 1,
            id: "a".into(),
            first_index: 0
        }
    );
    assert_eq!(err.pointer(), "/features/1/properties/id");
}

#[test]
fn validation_rejects_a_network_in_pieces_and_names_an_edge_in_another_piece() {
    let island = feature(
        json!("island"),
        json!([[114.0, 22.0], [114.1, 22.0]]),
        json!({}),
    );
    let err = load(vec![ok_feature("a"), island]).expect_err("disconnected");
    assert_eq!(
        err,
        NetworkError::Disconnected {
            index: 1,
            id: "island".into(),
            reference_id: "a".into(),
            components: 2
        }
    );
    assert!(err.to_string().contains("island"));
}

#[test]
fn equal_times_break_ties_the_same_way_every_time() {
    // Two identical parallel roads between A and B: the first in the file wins.
    let text = collection(&[
        E {
            id: "first",
            coords: &[(113.0, 22.0), (113.05, 22.05), (113.1, 22.0)],
            speed: 60.0,
            trucks: true,
        },
        E {
            id: "second",
            coords: &[(113.0, 22.0), (113.05, 21.95), (113.1, 22.0)],
            speed: 60.0,
            trucks: true,
        },
    ]);
    let net = Network::from_geojson(&text).expect("valid");
    for _ in 0..5 {
        let r = net
            .route(
                point!(x: 113.0, y: 22.0),
                point!(x: 113.1, y: 22.0),
                &ClosedEdges::default(),
                &SnapConfig::default(),
            )
            .expect("reachable");
        assert_eq!(r.edge_ids.len(), 1);
        let again = net
            .route(
                point!(x: 113.0, y: 22.0),
                point!(x: 113.1, y: 22.0),
                &ClosedEdges::default(),
                &SnapConfig::default(),
            )
            .expect("reachable");
        assert_eq!(r, again);
    }
}

/// The seed network, written by another part of the project; `None` (and the test skips) until
/// `seed/network.geojson` exists.
fn seed_network() -> Option<Network> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seed/network.geojson");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} not present", path.display());
        return None;
    };
    match Network::from_geojson(&text) {
        Ok(net) => Some(net),
        Err(e) => panic!("{}: {e} (at {})", path.display(), e.pointer()),
    }
}

#[test]
fn the_seed_network_loads_and_trucks_can_reach_every_truck_node() {
    let Some(net) = seed_network() else { return };
    assert!(net.edge_count() > 0);
    // from_geojson already rejects a disconnected network; trucks must also reach everything,
    // since the Humen Bridge ban has to leave a detour (the Nansha Bridge).
    let first = net
        .snap_nodes
        .first()
        .map(|&(n, _)| n)
        .expect("some truck node");
    let tree = net.tree(first, &ClosedEdges::default(), |_| false);
    let stranded: Vec<Coord<f64>> = net
        .snap_nodes
        .iter()
        .filter(|&&(n, _)| !tree.settled[n])
        .map(|&(n, _)| net.nodes[n])
        .collect();
    assert!(
        stranded.is_empty(),
        "truck nodes unreachable by truck: {stranded:?}"
    );
}

#[test]
fn on_the_seed_network_trucks_from_nansha_to_humen_take_the_nansha_bridge() {
    let Some(net) = seed_network() else { return };
    if net.edge_index("humen-bridge").is_none() || net.edge_index("nansha-bridge").is_none() {
        return; // the seed no longer models these crossings by these ids
    }
    let nansha = point!(x: 113.52, y: 22.8043);
    let humen = point!(x: 113.8051, y: 22.8543);
    let route = net
        .route(
            nansha,
            humen,
            &ClosedEdges::default(),
            &SnapConfig::default(),
        )
        .expect("reachable");
    assert!(
        route.edge_ids.iter().any(|id| id == "nansha-bridge"),
        "{:?}",
        route.edge_ids
    );
    assert!(
        !route
            .edge_ids
            .iter()
            .any(|id| id.starts_with("humen-bridge")),
        "{:?}",
        route.edge_ids
    );
}

#[test]
fn on_the_seed_network_a_typhoon_closing_the_sea_crossings_forces_the_long_way_round() {
    let Some(net) = seed_network() else { return };
    // gba-geography.md §9.3: at T8 / orange, HZMB, the Shenzhen–Zhongshan Link, the Huangmaohai
    // Link and the Hengqin bridges close.
    let sea = [
        "hzmb-main",
        "shenzhen-zhongshan-link",
        "huangmaohai-link",
        "hengqin-bridge",
    ];
    if sea.iter().any(|id| net.edge_index(id).is_none()) {
        return;
    }
    let zhongshan = point!(x: 113.5788, y: 22.5286);
    let shenzhen_airport = point!(x: 113.811, y: 22.6393);
    let snap = SnapConfig::default();
    let calm = net
        .route(zhongshan, shenzhen_airport, &ClosedEdges::default(), &snap)
        .expect("reachable");
    assert_eq!(calm.edge_ids, vec!["shenzhen-zhongshan-link"]);
    let typhoon = close(&net, &sea);
    let storm = net
        .route(zhongshan, shenzhen_airport, &typhoon, &snap)
        .expect("the head of the estuary stays open");
    assert!(
        storm.minutes > calm.minutes + 30.0,
        "{} vs {}",
        storm.minutes,
        calm.minutes
    );
    // Round the head of the estuary (via Guangzhou or the Nansha Bridge), never over a closed
    // crossing or the truck-banned Humen Bridge.
    assert!(
        !storm
            .edge_ids
            .iter()
            .any(|id| sea.contains(&id.as_str()) || id.starts_with("humen-bridge")),
        "{:?}",
        storm.edge_ids
    );
}

// ---------- properties ----------

#[derive(Debug, Clone)]
struct RandomNet {
    text: String,
    nodes: Vec<(f64, f64)>,
}

/// Connected random networks: a chain through all nodes plus random extra edges, each with a
/// random speed or fixed time, a truck flag, and sometimes a bend.
fn random_net() -> impl Strategy<Value = RandomNet> {
    (3usize..10)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec((0.0f64..0.05, 0.0f64..1.0), n),
                proptest::collection::vec((0..n, 0..n, 20.0f64..120.0, 0u8..6, any::<bool>()), n - 1..3 * n),
            )
        })
        .prop_map(|(jitter, extra)| {
            let nodes: Vec<(f64, f64)> = jitter
                .iter()
                .enumerate()
                .map(|(i, (dx, y))| (113.0 + 0.1 * i as f64 + dx, 22.0 + y))
                .collect();
            let n = nodes.len();
            let mut features = Vec::new();
            let mut push = |a: usize, b: usize, speed: f64, kind: u8, bend: bool| {
                let (pa, pb) = (nodes[a], nodes[b]);
                let mut coords = vec![json!([pa.0, pa.1])];
                if bend {
                    coords.push(json!([(pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0 + 0.01]));
                }
                coords.push(json!([pb.0, pb.1]));
                let mut props = json!({"id": format!("e{}", features.len()), "trucks_allowed": kind != 0});
                if kind == 1 {
                    props["minutes"] = json!((speed / 4.0).round());
                } else {
                    props["speed_kmh"] = json!(speed);
                }
                features.push(json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props}));
            };
            for (i, &(_, _, speed, kind, bend)) in extra.iter().enumerate().take(n - 1) {
                push(i, i + 1, speed, kind.max(2), bend); // the chain always allows trucks
            }
            for &(a, b, speed, kind, bend) in extra.iter().skip(n - 1) {
                if a != b {
                    push(a, b, speed, kind, bend);
                }
            }
            RandomNet {
                text: json!({"type": "FeatureCollection", "features": features}).to_string(),
                nodes,
            }
        })
}

fn any_point() -> impl Strategy<Value = Point<f64>> {
    (113.0f64..114.0, 22.0f64..23.0).prop_map(|(x, y)| point!(x: x, y: y))
}

fn minutes(t: Option<Travel>) -> f64 {
    t.map_or(f64::INFINITY, |t| t.minutes)
}

proptest! {
    #[test]
    fn route_minutes_equal_the_travel_time_and_the_path_is_usable(
        rn in random_net(), from in any_point(), to in any_point(), mask in any::<u64>()
    ) {
        let net = Network::from_geojson(&rn.text).expect("generated networks are valid");
        let ids: Vec<String> = (0..net.edge_count()).filter(|i| mask >> (i % 64) & 1 == 1 && i % 3 == 0).map(|i| format!("e{i}")).collect();
        let closed = net.closed_edges(&[Closure { edge_ids: ids, area: None }]);
        let snap = SnapConfig::default();
        let t = net.travel_times(to, &[from], &closed, &snap)[0];
        let r = net.route(from, to, &closed, &snap);
        prop_assert_eq!(t.map(|t| t.minutes), r.as_ref().map(|r| r.minutes));
        prop_assert_eq!(t.map(|t| t.km), r.as_ref().map(|r| r.km));
        if let Some(r) = r {
            for id in &r.edge_ids {
                let e = net.edge_index(id).expect("known edge");
                prop_assert!(!closed.is_closed(e) && net.edges[e.get()].trucks_allowed);
            }
            prop_assert_eq!(r.path.0.first(), Some(&from.0));
            prop_assert_eq!(r.path.0.last(), Some(&to.0));
            let sum: f64 = r.edge_ids.iter().filter_map(|id| net.edge_index(id)).map(|e| net.edges[e.get()].minutes).sum();
            prop_assert!(sum <= r.minutes + 1e-9);
        }
    }

    #[test]
    fn the_fastest_time_is_no_slower_than_any_walk(
        rn in random_net(), start in 0usize..10, steps in proptest::collection::vec(any::<u16>(), 0..12)
    ) {
        let net = Network::from_geojson(&rn.text).expect("valid");
        let closed = ClosedEdges::default();
        let node_of = |c: (f64, f64)| net.nodes.iter().position(|n| *n == Coord::from(c));
        let Some(mut at) = node_of(rn.nodes[start % rn.nodes.len()]) else { return Ok(()); };
        let origin = at;
        let mut walked = 0.0;
        for s in steps {
            let usable: Vec<(usize, usize)> = net.adj[net.adj_start[at]..net.adj_start[at + 1]]
                .iter().copied().filter(|&(e, _)| net.usable(e, &closed)).collect();
            if usable.is_empty() { break; }
            let (e, v) = usable[s as usize % usable.len()];
            walked += net.edges[e].minutes;
            at = v;
        }
        let snap = SnapConfig::default();
        let t = net.travel_times(Point::from(net.nodes[at]), &[Point::from(net.nodes[origin])], &closed, &snap)[0];
        prop_assert!(minutes(t) <= walked + 1e-9, "dijkstra {} > walk {}", minutes(t), walked);
    }

    #[test]
    fn closing_more_edges_never_makes_a_trip_faster(
        rn in random_net(), to in any_point(), from in proptest::collection::vec(any_point(), 1..6),
        first in any::<u64>(), more in any::<u64>()
    ) {
        let net = Network::from_geojson(&rn.text).expect("valid");
        let pick = |mask: u64| -> Vec<String> {
            (0..net.edge_count()).filter(|i| mask >> (i % 64) & 1 == 1).map(|i| format!("e{i}")).collect()
        };
        let some = Closure { edge_ids: pick(first & more & (more >> 7)), area: None };
        let extra = Closure { edge_ids: pick(more), area: None };
        let fewer = net.closed_edges(std::slice::from_ref(&some));
        let more_closed = net.closed_edges(&[some, extra]);
        let snap = SnapConfig::default();
        let a = net.travel_times(to, &from, &fewer, &snap);
        let b = net.travel_times(to, &from, &more_closed, &snap);
        for (x, y) in a.iter().zip(&b) {
            prop_assert!(minutes(*y) >= minutes(*x), "{:?} < {:?}", y, x);
        }
    }
}

fn check(features: Vec<Value>) -> Result<Network, Vec<NetworkError>> {
    Network::check_geojson(&json!({"type": "FeatureCollection", "features": features}).to_string())
}

#[test]
fn a_check_names_every_bad_edge_and_every_bad_member_in_file_order() {
    let no_flag = json!({"type": "Feature", "properties": {"id": "b", "speed_kmh": 50},
        "geometry": {"type": "LineString", "coordinates": [[113.1, 22.0], [113.2, 22.0]]}});
    let two_problems = feature(
        json!("c"),
        json!([[113.2, 22.0], [113.2, 22.0]]),
        json!({"speed_kmh": -3}),
    );
    let errors = check(vec![
        ok_feature("a"),
        no_flag,
        two_problems,
        ok_feature("a"),
        json!({"type": "Feature"}),
    ])
    .expect_err("four bad edges");

    let named: Vec<(Option<usize>, Option<&str>, String)> = errors
        .iter()
        .map(|e| (e.feature_index(), e.edge_id(), e.field()))
        .collect();
    assert_eq!(
        named,
        vec![
            (Some(1), Some("b"), "trucks_allowed".to_owned()),
            (Some(2), Some("c"), "speed_kmh".to_owned()),
            (Some(2), Some("c"), "geometry.coordinates".to_owned()),
            (Some(3), Some("a"), "id".to_owned()),
            (Some(4), None, "properties".to_owned()),
        ]
    );
    assert!(errors.iter().all(|e| !e.reason().is_empty()));
    assert_eq!(
        load(vec![ok_feature("a"), ok_feature("a")]).err(),
        check(vec![ok_feature("a"), ok_feature("a")])
            .err()
            .map(|mut e| e.remove(0)),
        "from_geojson gives the first problem of the check"
    );
}

#[test]
fn a_check_names_every_edge_outside_the_first_piece() {
    let island = |id: &str, lon: f64| {
        feature(
            json!(id),
            json!([[lon, 22.0], [lon + 0.1, 22.0]]),
            json!({}),
        )
    };
    let errors = check(vec![
        ok_feature("a"),
        island("x", 114.0),
        island("y", 115.0),
    ])
    .expect_err("in pieces");
    let ids: Vec<Option<&str>> = errors.iter().map(NetworkError::edge_id).collect();
    assert_eq!(ids, vec![Some("x"), Some("y")]);
    assert!(errors.iter().all(|e| e.field() == "geometry"));
}
