use super::*;
use proptest::prelude::*;

fn uuid(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn lot(id: u8, cell: u8, on_hand: i64, reserved: i64, quarantined: bool, level: i64) -> LockedLot {
    LockedLot {
        id: uuid(id),
        warehouse_id: uuid(100 + cell),
        item_id: uuid(200),
        on_hand,
        reserved,
        quarantined,
        expires_on: None,
        min_remaining_days: 0,
        level,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 6).expect("date")
}

/// [`plan_holds`] on [`today`].
fn holds(locked: &[LockedLot], takes: &Takes, critical: bool) -> bool {
    plan_holds(locked, takes, critical, today())
}

fn takes(picks: &[(u8, u8, i64)]) -> Takes {
    let mut t = Takes::default();
    for &(id, cell, qty) in picks {
        t.add(uuid(id), uuid(100 + cell), uuid(200), qty);
    }
    t
}

#[test]
fn a_non_critical_draw_leaves_the_reserve_level() {
    assert_eq!(drawable(50, 50, 30, false), 20);
    assert_eq!(
        drawable(10, 50, 30, false),
        10,
        "usable stock bounds the draw"
    );
    assert_eq!(
        drawable(50, 20, 30, false),
        0,
        "below the level nothing is drawable"
    );
    assert_eq!(
        drawable(50, 50, -5, false),
        50,
        "a negative level counts as 0"
    );
}

#[test]
fn a_critical_draw_may_empty_the_cell() {
    assert_eq!(drawable(50, 50, 30, true), 50);
    assert!(floor_holds(50, 50, 30, true));
}

#[test]
fn the_floor_is_kept_exactly_at_the_level() {
    assert!(floor_holds(50, 20, 30, false));
    assert!(!floor_holds(50, 21, 30, false));
}

#[test]
fn a_plan_holds_on_the_stock_it_was_made_on() {
    let locked = [lot(1, 0, 40, 10, false, 0), lot(2, 0, 5, 0, false, 0)];
    assert!(holds(&locked, &takes(&[(1, 0, 30), (2, 0, 5)]), false));
}

#[test]
fn a_plan_fails_when_a_lot_has_less_than_it_takes() {
    let locked = [lot(1, 0, 40, 11, false, 0)];
    assert!(!holds(&locked, &takes(&[(1, 0, 30)]), true));
}

#[test]
fn a_plan_fails_on_a_quarantined_lot_or_a_lot_not_locked() {
    let locked = [lot(1, 0, 40, 0, true, 0)];
    assert!(!holds(&locked, &takes(&[(1, 0, 1)]), true));
    assert!(!holds(&locked, &takes(&[(9, 0, 1)]), true));
}

#[test]
fn quarantined_stock_does_not_count_toward_the_floor() {
    // 20 available in lot 1, 100 quarantined in lot 2, level 10: only 10 may go.
    let locked = [lot(1, 0, 20, 0, false, 10), lot(2, 0, 100, 0, true, 10)];
    assert!(holds(&locked, &takes(&[(1, 0, 10)]), false));
    assert!(!holds(&locked, &takes(&[(1, 0, 11)]), false));
    assert!(holds(&locked, &takes(&[(1, 0, 11)]), true));
}

#[test]
fn expired_and_short_dated_stock_does_not_count_toward_the_floor() {
    // Level 10. Lot 1: 20 fresh. Lot 2: 100 that expired yesterday. Lot 3: 100 that
    // expire in 20 days, for an item that must keep 30: only lot 1 counts, so only 10
    // may go, however much else is on the shelf.
    let dated = |id, days: i64, min_remaining_days| LockedLot {
        expires_on: today().checked_add_signed(chrono::TimeDelta::days(days)),
        min_remaining_days,
        ..lot(id, 0, if id == 1 { 20 } else { 100 }, 0, false, 10)
    };
    let locked = [dated(1, 365, 30), dated(2, -1, 30), dated(3, 20, 30)];
    assert!(holds(&locked, &takes(&[(1, 0, 10)]), false));
    assert!(!holds(&locked, &takes(&[(1, 0, 11)]), false));
    assert!(holds(&locked, &takes(&[(1, 0, 11)]), true));
    // The same lots for an item with no minimum: lot 3 counts, lot 2 still does not.
    let locked = [dated(1, 365, 0), dated(2, -1, 0), dated(3, 20, 0)];
    assert!(holds(&locked, &takes(&[(1, 0, 20), (3, 0, 90)]), false));
    assert!(!holds(&locked, &takes(&[(1, 0, 20), (3, 0, 91)]), false));
}

#[test]
fn floors_are_per_cell() {
    let locked = [lot(1, 0, 20, 0, false, 10), lot(2, 1, 20, 0, false, 0)];
    assert!(holds(&locked, &takes(&[(1, 0, 10), (2, 1, 20)]), false));
    assert!(!holds(&locked, &takes(&[(1, 0, 11), (2, 1, 1)]), false));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Taking at most each lot's availability and at most each cell's drawable quantity
    /// always holds; the re-check and the planner's floor are one rule.
    #[test]
    fn takes_within_drawable_always_hold(
        cells in proptest::collection::vec(
            (proptest::collection::vec((0i64..50, 0i64..50, any::<bool>()), 1..5), -5i64..60, 0u8..=100),
            1..4),
        critical in any::<bool>(),
    ) {
        let mut locked = Vec::new();
        let mut t = Takes::default();
        let mut id = 0u8;
        for (c, (lots, level, share)) in cells.iter().enumerate() {
            let c = c as u8;
            let available: i64 = lots.iter().filter(|l| !l.2).map(|l| (l.0 - l.1).max(0)).sum();
            let mut budget = drawable(available, available, *level, critical) * i64::from(*share) / 100;
            for &(on_hand, reserved, q) in lots {
                id += 1;
                let reserved = reserved.min(on_hand);
                locked.push(lot(id, c, on_hand, reserved, q, *level));
                let a = on_hand - reserved;
                if !q && a > 0 && budget > 0 {
                    let take = a.min(budget);
                    budget -= take;
                    t.add(uuid(id), uuid(100 + c), uuid(200), take);
                }
            }
        }
        prop_assert!(holds(&locked, &t, critical));
    }

    /// One unit more than a cell can give, on any cell, never holds.
    #[test]
    fn one_unit_past_the_floor_never_holds(
        on_hand in 1i64..100, reserved in 0i64..100, level in 0i64..100,
    ) {
        let reserved = reserved.min(on_hand);
        let available = on_hand - reserved;
        let locked = [lot(1, 0, on_hand, reserved, false, level)];
        let over = drawable(available, available, level, false) + 1;
        prop_assert!(!holds(&locked, &takes(&[(1, 0, over)]), false));
    }
}

#[test]
fn available_is_on_hand_less_reserved_and_never_negative() {
    assert_eq!(available(10, 3), 7);
    assert_eq!(available(3, 10), 0);
    assert_eq!(available(i64::MIN, 1), 0);
    assert_eq!(available(5, -2), 5);
}

#[test]
fn a_lot_is_usable_through_its_expiry_date_and_expired_the_day_after() {
    let day = |s: &str| s.parse::<NaiveDate>().expect("date");
    assert!(!expired(Some(day("2026-11-27")), day("2026-11-27")));
    assert!(expired(Some(day("2026-11-26")), day("2026-11-27")));
    assert!(!expired(None, day("2026-11-27")));
}

#[test]
fn only_usable_stock_counts_toward_a_reserve_level() {
    let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
    let state = |expires_on: Option<NaiveDate>, reserved: i64, quarantined: bool| LotState {
        id: uuid(1),
        warehouse_id: uuid(100),
        sku: "WATER-BOTTLED".into(),
        lot_code: "L1".into(),
        expires_on,
        on_hand: 100,
        reserved,
        quarantined,
    };
    let day = |d: u64| today.checked_add_days(Days::new(d));
    assert_eq!(level_stock(&state(None, 0, false), today, 30), 100);
    assert_eq!(
        level_stock(&state(None, 40, false), today, 30),
        60,
        "reserved stock is promised away"
    );
    assert_eq!(level_stock(&state(day(30), 0, false), today, 30), 100);
    assert_eq!(
        level_stock(&state(day(29), 0, false), today, 30),
        0,
        "short-dated"
    );
    assert_eq!(
        level_stock(
            &state(today.checked_sub_days(Days::new(1)), 0, false),
            today,
            0
        ),
        0,
        "expired"
    );
    assert_eq!(level_stock(&state(Some(today), 0, false), today, 0), 100);
    assert_eq!(
        level_stock(&state(None, 0, true), today, 0),
        0,
        "quarantined"
    );
}

#[test]
fn a_trip_planned_by_the_day_arrives_after_its_eta_rounded_up_to_whole_days() {
    let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
    let day = |d: u64| today.checked_add_days(Days::new(d));
    assert_eq!(arrival_day(today, Some(0.0)), Some(today));
    assert_eq!(arrival_day(today, Some(1.0)), day(1));
    assert_eq!(arrival_day(today, Some(1440.0)), day(1));
    assert_eq!(arrival_day(today, Some(1440.5)), day(2));
    assert_eq!(arrival_day(today, None), None);
    assert_eq!(arrival_day(today, Some(-1.0)), None, "negative");
    assert_eq!(arrival_day(today, Some(f64::NAN)), None);
    assert_eq!(arrival_day(today, Some(f64::INFINITY)), None);
    assert_eq!(arrival_day(today, Some(1e300)), None, "beyond the calendar");
}
