use super::*;
use crate::reserve::rotation::{
    MAX_WITHIN_DAYS, ROTATION_REASON, RotationAction, RotationLine, RotationPlan, RotationPolicy,
    plan,
};

const WATER: &str = "WATER";

fn network() -> Net {
    Net::new()
        .item(WATER, 0)
        .wh(1, "RC", Tier::RegionalCentre, None)
        .wh(2, "DD", Tier::District, Some(1))
        .wh(3, "G001", Tier::Community, Some(2))
        .wh(4, "G002", Tier::Community, Some(2))
        .road(1, 2, 25.0)
        .road(2, 3, 12.0)
        .road(2, 4, 5.0)
        .road(1, 3, 30.0)
        .road(1, 4, 30.0)
}

fn line<'a>(p: &'a RotationPlan, lot: &str) -> &'a RotationLine {
    p.lots
        .iter()
        .find(|l| l.lot_code == lot)
        .expect("lot in the plan")
}

fn issue(qty: i64, issue_by: i64) -> RotationAction {
    RotationAction::Issue {
        reason: ROTATION_REASON.to_owned(),
        qty,
        issue_by: day(issue_by),
    }
}

#[test]
fn an_expiring_lot_goes_to_the_nearest_point_that_needs_it_and_the_rest_is_issued() {
    // Arrange: the depot keeps 30 and holds 35; 20 of them expire in 100 days. Both grid
    // points need 10; G002 is nearer.
    let net = network()
        .tiers(TierPolicy {
            community: 30,
            ..TierPolicy::default()
        })
        .level(2, WATER, 30, None)
        .level(3, WATER, 10, None)
        .level(4, WATER, 10, None)
        .lot(1, 2, WATER, Some(100), 20)
        .lot(2, 2, WATER, None, 15);

    // Act
    let p = plan(&net.snapshot(), &RotationPolicy::new(180));

    // Assert
    assert_eq!(p.lots.len(), 1, "only the expiring lot");
    let l = line(&p, "L1");
    assert_eq!(
        l.action,
        RotationAction::Transfer {
            to_id: wid(4),
            to_code: "G002".into(),
            qty: 10,
            eta_minutes: 5.0,
            arrives_on: day(1),
        }
    );
    assert_eq!(l.remainder, Some(issue(10, 70)));
    assert_eq!(l.replacement_qty, 15, "35 − 20 leaves 15 of a 30 level");
    assert_eq!((p.saved_from_write_off, p.written_off), (1, 0));
    assert_eq!((p.saved_qty, p.written_off_qty), (20, 0));
}

#[test]
fn a_lot_nobody_needs_is_issued_while_it_has_a_month_left_else_written_off() {
    let mut q = network()
        .lot(1, 2, WATER, Some(45), 10)
        .lot(2, 2, WATER, Some(20), 10)
        .lot(3, 2, WATER, Some(-2), 10)
        .lot(4, 2, WATER, Some(200), 10) // beyond the horizon
        .lot(5, 2, WATER, None, 10) // never expires
        .lot(6, 2, WATER, Some(10), 10);
    q = q.edit_lot(6, |l| l.quarantined = true);
    let p = plan(&q.snapshot(), &RotationPolicy::new(180));
    let codes: Vec<&str> = p.lots.iter().map(|l| l.lot_code.as_str()).collect();
    assert_eq!(codes, vec!["L3", "L2", "L1"], "first expiry first");
    assert_eq!(line(&p, "L1").action, issue(10, 15));
    assert_eq!(
        line(&p, "L2").action,
        RotationAction::WriteOff {
            qty: 10,
            on: day(21)
        }
    );
    assert_eq!(
        line(&p, "L3").action,
        RotationAction::WriteOff {
            qty: 10,
            on: today()
        }
    );
    assert_eq!((p.saved_from_write_off, p.written_off), (1, 2));
    let p = plan(
        &q.snapshot(),
        &RotationPolicy {
            within_days: 180,
            issue_min_days: 10,
        },
    );
    assert_eq!(line(&p, "L2").action, issue(10, 10));
}

#[test]
fn a_point_that_would_get_the_lot_too_short_dated_is_passed_over() {
    // 60 days left: too few for a community point (90 by default), enough for a depot,
    // even one farther away.
    let net = network()
        .wh(5, "DD2", Tier::District, Some(1))
        .road(2, 5, 40.0)
        .level(4, WATER, 10, None)
        .level(5, WATER, 10, None)
        .lot(1, 2, WATER, Some(60), 50);
    let p = plan(&net.snapshot(), &RotationPolicy::new(90));
    let l = line(&p, "L1");
    assert!(
        matches!(&l.action, RotationAction::Transfer { to_code, qty: 10, .. } if to_code == "DD2"),
        "{:?}",
        l.action
    );
    assert_eq!(l.remainder, Some(issue(40, 30)));
}

#[test]
fn later_lots_see_the_need_earlier_lots_filled() {
    let net = network()
        .level(2, WATER, 10, None)
        .lot(1, 1, WATER, Some(50), 6)
        .lot(2, 1, WATER, Some(60), 6);
    let p = plan(&net.snapshot(), &RotationPolicy::new(90));
    assert_eq!(line(&p, "L1").action.qty(), 6);
    let second = line(&p, "L2");
    assert!(matches!(
        second.action,
        RotationAction::Transfer { qty: 4, .. }
    ));
    assert_eq!(second.remainder, Some(issue(2, 30)));
}

#[test]
fn replacement_restores_the_level_lot_by_lot() {
    // A 100 level held in two lots of 60 that both expire: 40 then 60 to procure.
    let net = network()
        .level(1, WATER, 100, None)
        .lot(1, 1, WATER, Some(50), 60)
        .lot(2, 1, WATER, Some(80), 60);
    let p = plan(&net.snapshot(), &RotationPolicy::new(90));
    assert_eq!(line(&p, "L1").replacement_qty, 40);
    assert_eq!(line(&p, "L2").replacement_qty, 60);
    // A lot that no longer counts toward the level needs no replacement here.
    let net = network()
        .item(WATER, 60)
        .level(1, WATER, 100, None)
        .lot(1, 1, WATER, Some(50), 60);
    let p = plan(&net.snapshot(), &RotationPolicy::new(90));
    assert_eq!(line(&p, "L1").replacement_qty, 0);
}

#[test]
fn the_calendar_sums_expiring_stock_per_month_warehouse_and_category() {
    let mut net = network()
        .lot(1, 2, WATER, Some(10), 5) // 2026-12-16
        .lot(2, 2, WATER, Some(20), 7) // 2026-12-26
        .lot(3, 2, WATER, Some(40), 11) // 2027-01-15
        .lot(4, 3, "MASK", Some(12), 3);
    net.state.items.push(ReserveItem {
        sku: WATER.into(),
        min_remaining_days: 0,
        category: Some("drinking_water".into()),
    });
    let p = plan(&net.snapshot(), &RotationPolicy::new(60));
    let cal: Vec<(&str, &str, &str, i64, u32)> = p
        .calendar
        .iter()
        .map(|b| {
            (
                b.month.as_str(),
                b.warehouse_code.as_str(),
                b.group.as_str(),
                b.qty,
                b.lots,
            )
        })
        .collect();
    assert_eq!(
        cal,
        vec![
            ("2026-12", "DD", "drinking_water", 12, 2),
            ("2026-12", "G001", "MASK", 3, 1),
            ("2027-01", "DD", "drinking_water", 11, 1),
        ]
    );
}

#[test]
fn within_days_is_clamped_to_a_year() {
    let net = network()
        .lot(1, 2, WATER, Some(i64::from(MAX_WITHIN_DAYS)), 5)
        .lot(2, 2, WATER, Some(i64::from(MAX_WITHIN_DAYS) + 1), 5);
    let p = plan(&net.snapshot(), &RotationPolicy::new(10_000));
    assert_eq!(p.horizon, day(365));
    assert_eq!(p.lots.len(), 1);
}

#[test]
fn agreement_and_inactive_warehouses_are_not_rotated() {
    let net = network()
        .wh(5, "AG", Tier::Agreement, None)
        .wh(6, "OLD", Tier::District, None)
        .edit_wh(6, |w| w.active = false)
        .lot(1, 5, WATER, Some(10), 5)
        .lot(2, 6, WATER, Some(10), 5)
        .lot(3, 2, WATER, Some(10), 5)
        .edit_lot(3, |l| l.reserved = 5);
    let p = plan(&net.snapshot(), &RotationPolicy::new(30));
    assert!(p.lots.is_empty(), "{:?}", p.lots);
}

#[test]
fn rotation_plans_serialize_with_a_tagged_action() {
    let net = network().lot(1, 2, WATER, Some(45), 10);
    let v =
        serde_json::to_value(plan(&net.snapshot(), &RotationPolicy::new(60))).expect("serializes");
    assert_eq!(v["lots"][0]["action"]["kind"], "issue");
    assert_eq!(v["lots"][0]["action"]["reason"], "rotation");
}
