use std::collections::HashSet;

use super::*;

fn known<'a>(warehouses: &'a [(String, uuid::Uuid)]) -> Known<'a> {
    Known {
        warehouses,
        districts: HashSet::from(["Jianghai", "Xinhui"]),
        skus: HashSet::from(["WATER-5L", "LAMP-HANDCRANK"]),
    }
}

#[test]
fn a_scope_names_warehouses_tier_district_and_skus() {
    let id = uuid::Uuid::from_u128(7);
    let warehouses = [("JM-JH-TS".to_owned(), id)];
    let body = ScopeBody {
        warehouses: vec!["JM-JH-TS".into()],
        tier: Some("community".into()),
        district: Some("Jianghai".into()),
        skus: vec!["WATER-5L".into()],
    };
    let scope = body.resolve(&known(&warehouses)).expect("a known scope");
    assert_eq!(scope.warehouses, vec![id]);
    assert_eq!(scope.tiers, vec![Tier::Community]);
    assert_eq!(scope.districts, vec!["Jianghai".to_owned()]);
    assert_eq!(scope.skus, vec!["WATER-5L".to_owned()]);
    assert_eq!(
        ScopeBody::default()
            .resolve(&known(&warehouses))
            .expect("empty"),
        Scope::default(),
        "an empty scope is the whole network"
    );
}

#[test]
fn an_unknown_scope_names_every_offending_part() {
    let warehouses = [("JM-JH-TS".to_owned(), uuid::Uuid::from_u128(7))];
    let body = ScopeBody {
        warehouses: vec!["JM-JH-TS".into(), "NOPE".into()],
        tier: Some("village".into()),
        district: Some("Atlantis".into()),
        skus: vec!["WATER-5L".into(), "UNOBTAINIUM".into()],
    };
    let Err(AppError::Validation { errors, .. }) = body.resolve(&known(&warehouses)) else {
        panic!("an unknown scope is refused");
    };
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        vec![
            "/scope/warehouses/1",
            "/scope/tier",
            "/scope/district",
            "/scope/skus/1"
        ]
    );
}

#[test]
fn the_rotation_window_is_from_one_day_to_a_year() {
    assert_eq!(within_days(None).expect("default"), 180);
    assert_eq!(within_days(Some(1)).expect("one day"), 1);
    assert_eq!(within_days(Some(365)).expect("a year"), 365);
    for bad in [0, -5, 366, i64::MAX] {
        let Err(AppError::Validation { errors, .. }) = within_days(Some(bad)) else {
            panic!("{bad} is refused");
        };
        assert_eq!(errors[0].pointer, "within_days");
    }
}

#[test]
fn a_fingerprint_follows_the_transfers() {
    assert_eq!(fingerprint(&[1, 2]), fingerprint(&[1, 2]));
    assert_ne!(fingerprint(&[1, 2]), fingerprint(&[2, 1]));
    assert_eq!(fingerprint(&[1]).len(), 24);
}
