use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::ItemId;

fn pick(lot: u128, qty: i64) -> RationPick {
    let at = Utc
        .with_ymd_and_hms(2026, 9, 1, 0, 0, 0)
        .single()
        .expect("valid");
    RationPick {
        warehouse_id: Uuid::from_u128(1),
        warehouse_code: "W".into(),
        lot_id: Uuid::from_u128(lot),
        lot_code: format!("L{lot}"),
        expires_on: None,
        qty,
        eta_minutes: 30.0,
        distance_km: None,
        arrives_at: at,
        misses_target: false,
        after_needed_by: false,
        late: false,
    }
}

fn item(sku: &str) -> KnownItem {
    KnownItem {
        id: ItemId(Uuid::from_u128(sku.len() as u128)),
        sku: sku.into(),
        min_remaining_days: 0,
        retired: false,
    }
}

#[test]
fn split_fills_parts_in_order_and_cuts_a_pick_where_a_part_ends() {
    let parts = split(&[pick(1, 5), pick(2, 4)], &[3, 10]);
    let got: Vec<Vec<(u128, i64)>> = parts
        .iter()
        .map(|p| p.iter().map(|x| (x.lot_id.as_u128(), x.qty)).collect())
        .collect();
    assert_eq!(got, vec![vec![(1, 3)], vec![(1, 2), (2, 4)]]);
}

#[test]
fn demand_lists_are_checked_by_field() {
    let err = |q: &[i64], open| {
        check_demands(q, open)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(&[], false).contains("at least one demand"));
    assert!(check_demands(&[], true).is_ok());
    assert!(err(&[4, 0], false).contains("greater than 0"));
    assert!(err(&vec![1; MAX_DEMANDS + 1], false).contains("at most"));
    assert!(check_demands(&vec![1; MAX_DEMANDS], false).is_ok());
}

#[test]
fn open_shortfalls_are_filled_before_new_demands_of_the_same_line() {
    let incident = IncidentId(Uuid::from_u128(7));
    let request = RequestId(Uuid::from_u128(9));
    let asks = vec![
        Ask {
            incident,
            item: item("WATER"),
            qty: 4,
            priority: Priority::High,
            source: Source::Given(0),
        },
        Ask {
            incident,
            item: item("WATER"),
            qty: 3,
            priority: Priority::High,
            source: Source::Open {
                rank: 0,
                request,
                line_no: 2,
            },
        },
    ];
    let line = RationLine {
        incident_id: incident.0,
        incident_code: "A".into(),
        sku: "WATER".into(),
        priority: crate::planner::Priority::High,
        requested: 7,
        reserved: 5,
        shortfall: 2,
        picks: vec![pick(1, 5)],
        explanation: vec![],
    };
    let t = targets(&[line], &asks);
    let open = &t[&(Priority::High, Target::Open(request))];
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].line_no, open[0].asked), (Some(2), 3));
    assert_eq!(open[0].picks.iter().map(|p| p.qty).sum::<i64>(), 3);
    let new = &t[&(Priority::High, Target::New(incident, Priority::High))];
    assert_eq!((new[0].line_no, new[0].asked), (None, 4));
    assert_eq!(new[0].picks.iter().map(|p| p.qty).sum::<i64>(), 2);

    let (plan, demanded) = as_plan(new, &[0], chrono::NaiveDate::MIN);
    assert_eq!(plan.status, PlanStatus::PartiallyReserved);
    assert_eq!((plan.lines[0].reserved, plan.lines[0].shortfall), (2, 2));
    assert_eq!(demanded[0].line_no, 0);
}

proptest! {
    /// The parts together get exactly the picks (per lot), and none gets more than it
    /// asked.
    #[test]
    fn split_keeps_every_unit_and_no_part_overflows(
        picks in proptest::collection::vec((0u128..4, 1i64..20), 0..8),
        parts in proptest::collection::vec(0i64..30, 1..5),
    ) {
        let picks: Vec<RationPick> = picks.into_iter().map(|(l, q)| pick(l, q)).collect();
        let total: i64 = picks.iter().map(|p| p.qty).sum();
        let asked: i64 = parts.iter().sum();
        prop_assume!(total <= asked);
        let out = split(&picks, &parts);
        prop_assert_eq!(out.len(), parts.len());
        for (got, want) in out.iter().zip(&parts) {
            prop_assert!(got.iter().map(|p| p.qty).sum::<i64>() <= *want);
            prop_assert!(got.iter().all(|p| p.qty > 0));
        }
        let mut per_lot = std::collections::BTreeMap::<Uuid, i64>::new();
        for p in out.iter().flatten() {
            *per_lot.entry(p.lot_id).or_default() += p.qty;
        }
        let mut want = std::collections::BTreeMap::<Uuid, i64>::new();
        for p in &picks {
            *want.entry(p.lot_id).or_default() += p.qty;
        }
        prop_assert_eq!(per_lot, want);
    }
}
