//! Unit tests of the network rules.

use chrono::TimeZone;
use serde_json::json;

use super::*;

fn demo() -> Network {
    Network::from_geojson(DEMO_NETWORK).expect("the demo network parses")
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, hour, 0, 0)
        .single()
        .expect("a time")
}

fn pointers(err: AppError) -> Vec<String> {
    match err {
        AppError::Validation { errors, .. }
        | AppError::BadRequest { errors, .. }
        | AppError::Conflict { errors, .. } => errors.into_iter().map(|e| e.pointer).collect(),
        other => panic!("expected a problem with pointers, got {other:?}"),
    }
}

fn draft() -> ClosureDraft {
    ClosureDraft {
        name: "  Typhoon signal 8  ".into(),
        reason: " flooding ".into(),
        area: None,
        edge_ids: vec!["zhongjiang-1".into()],
        starts_at: None,
        ends_at: None,
    }
}

#[test]
fn a_closure_is_in_force_from_its_start_until_its_end() {
    assert!(closure_active(at(8), None, at(8)));
    assert!(closure_active(at(8), Some(at(10)), at(9)));
    assert!(
        !closure_active(at(8), Some(at(10)), at(10)),
        "ends_at is exclusive"
    );
    assert!(!closure_active(at(9), None, at(8)), "not yet");
}

#[test]
fn a_draft_is_trimmed_and_starts_now_unless_it_says_otherwise() {
    let id = ClosureId::new();
    let c = check_closure(draft(), id, at(8)).expect("valid");
    assert_eq!(
        (c.id, c.name.as_str(), c.reason.as_str()),
        (id, "Typhoon signal 8", "flooding")
    );
    assert_eq!((c.starts_at, c.ends_at), (at(8), None));
}

#[test]
fn a_bad_draft_names_the_field_at_fault() {
    let id = ClosureId::new();
    let refuse = |d: ClosureDraft| pointers(check_closure(d, id, at(8)).expect_err("refused"));
    assert_eq!(
        refuse(ClosureDraft {
            name: " ".into(),
            ..draft()
        }),
        ["/name"]
    );
    assert_eq!(
        refuse(ClosureDraft {
            name: "x".repeat(201),
            ..draft()
        }),
        ["/name"]
    );
    assert_eq!(
        refuse(ClosureDraft {
            reason: "".into(),
            ..draft()
        }),
        ["/reason"]
    );
    assert_eq!(
        refuse(ClosureDraft {
            edge_ids: vec![],
            ..draft()
        }),
        ["/area"]
    );
    assert_eq!(
        refuse(ClosureDraft {
            area: Some(json!({ "type": "Point", "coordinates": [113.0, 22.0] })),
            ..draft()
        }),
        ["/area"]
    );
    assert_eq!(
        refuse(ClosureDraft {
            starts_at: Some(at(9)),
            ends_at: Some(at(9)),
            ..draft()
        }),
        ["/ends_at"]
    );
}

#[test]
fn edge_ids_must_name_edges_of_the_network() {
    let net = demo();
    assert!(check_edges(&["zhongjiang-1".into()], &net).is_ok());
    let err = check_edges(&["zhongjiang-1".into(), "nowhere".into()], &net).expect_err("unknown");
    assert_eq!(pointers(err), ["/edge_ids/1"]);
}

#[test]
fn a_closure_shows_the_edges_it_closes_and_whether_it_is_in_force() {
    let net = demo();
    let c = check_closure(draft(), ClosureId::new(), at(8)).expect("valid");
    let shown = closure_out(c.clone(), &net, at(9));
    assert!(shown.active);
    assert_eq!(shown.closed_edge_ids, ["zhongjiang-1"]);
    let ended = StoredClosure {
        ends_at: Some(at(9)),
        ..c
    };
    assert!(!closure_out(ended.clone(), &net, at(9)).active);
    assert!(check_endable(&ended, at(8)).is_ok());
    assert_eq!(
        pointers(check_endable(&ended, at(9)).expect_err("ended")),
        ["id"]
    );
}

#[test]
fn stored_closures_parse_and_a_broken_area_is_a_server_error() {
    let ok = json!([{ "edge_ids": ["a", "b"], "area": null }, { "edge_ids": null, "area": null }]);
    let closures = closures_from_json(&ok).expect("parses");
    assert_eq!(closures.len(), 2);
    assert_eq!(closures[0].edge_ids, ["a", "b"]);
    assert!(closures[1].edge_ids.is_empty() && closures[1].area.is_none());
    let broken = json!([{ "edge_ids": [], "area": { "type": "Polygon" } }]);
    assert!(matches!(
        closures_from_json(&broken),
        Err(AppError::Internal(_))
    ));
    assert!(closures_from_json(&json!([])).expect("none").is_empty());
}

#[test]
fn a_point_parameter_is_lat_comma_lon_in_range() {
    let p = parse_lat_lon("from", " 22.5, 113.9 ").expect("valid");
    assert_eq!((p.lat, p.lon), (22.5, 113.9));
    let bad = parse_lat_lon("from", "22.5").expect_err("one number");
    assert!(matches!(bad, AppError::BadRequest { .. }));
    assert_eq!(pointers(bad), ["from"]);
    assert!(matches!(
        parse_lat_lon("to", "north,east"),
        Err(AppError::BadRequest { .. })
    ));
    let far = parse_lat_lon("to", "91,0").expect_err("out of range");
    assert!(matches!(far, AppError::Validation { .. }));
    assert_eq!(pointers(far), ["to"]);
}

#[tokio::test]
async fn the_cache_keeps_the_newest_of_concurrent_loads() {
    let cache = NetworkCache::default();
    let net = Arc::new(demo());
    assert!(cache.get(1).await.is_none());
    cache.offer(2, net.clone()).await;
    cache.offer(1, net.clone()).await;
    assert!(
        cache.get(2).await.is_some(),
        "an older load does not replace a newer one"
    );
    assert!(cache.get(1).await.is_none());
    cache.install(1, net).await;
    assert!(
        cache.get(1).await.is_some(),
        "a stored network is installed as is"
    );
}
