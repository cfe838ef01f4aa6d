use super::*;
use crate::ids::ItemId;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

const WH: WarehouseId = WarehouseId(Uuid::from_u128(1));
const TODAY: &str = "2026-11-27";

fn lot(on_hand: i64, reserved: i64) -> LockedLot {
    LockedLot {
        id: LotId(Uuid::new_v4()),
        item_id: ItemId(Uuid::from_u128(7)),
        sku: "TENT".into(),
        warehouse_id: WH,
        lot_code: "L1".into(),
        expires_on: None,
        on_hand,
        reserved,
        status: LotStatus::Available,
    }
}

fn line(lot: &LockedLot, delta: i64) -> MovementLine {
    MovementLine {
        lot: lot.id,
        delta,
        reason: "shelter".into(),
        note: None,
    }
}

fn run(op: LotOp, lines: &[MovementLine], lots: &[LockedLot]) -> Result<Vec<Balances>, Refusal> {
    check(op, (WH, "WH-1"), day(TODAY), lines, lots)
        .map(|checked| checked.into_iter().map(|c| c.balances).collect())
}

#[test]
fn an_issue_takes_what_is_available_and_lines_on_one_lot_add_up() {
    let a = lot(10, 3);
    let got = run(
        LotOp::Issue,
        &[line(&a, -4), line(&a, -3)],
        std::slice::from_ref(&a),
    )
    .expect("fits");
    assert_eq!(
        got,
        vec![
            Balances {
                on_hand: 6,
                reserved: 3
            },
            Balances {
                on_hand: 3,
                reserved: 3
            }
        ]
    );
    assert_eq!(
        run(
            LotOp::Issue,
            &[line(&a, -4), line(&a, -4)],
            std::slice::from_ref(&a)
        ),
        Err(Refusal::NotEnough {
            line: 1,
            lot: a.id,
            lot_code: "L1".into(),
            available: 3,
            on_hand: 6,
            reserved: 3,
            take: 4
        })
    );
}

#[test]
fn an_issue_refuses_quarantined_expired_unknown_and_foreign_lots() {
    let mut held = lot(10, 0);
    held.status = LotStatus::Quarantined;
    assert!(matches!(
        run(
            LotOp::Issue,
            &[line(&held, -1)],
            std::slice::from_ref(&held)
        ),
        Err(Refusal::QuarantinedLot { line: 0, .. })
    ));
    let mut old = lot(10, 0);
    old.expires_on = Some(day("2026-11-26"));
    assert!(matches!(
        run(LotOp::Issue, &[line(&old, -1)], std::slice::from_ref(&old)),
        Err(Refusal::ExpiredLot { line: 0, .. })
    ));
    // Usable through its expiry date.
    old.expires_on = Some(day(TODAY));
    assert!(run(LotOp::Issue, &[line(&old, -1)], std::slice::from_ref(&old)).is_ok());
    let a = lot(10, 0);
    assert!(matches!(
        run(LotOp::Issue, &[line(&a, -1)], &[]),
        Err(Refusal::UnknownLot { line: 0, .. })
    ));
    let mut foreign = lot(10, 0);
    foreign.warehouse_id = WarehouseId(Uuid::from_u128(2));
    assert!(matches!(
        run(
            LotOp::Issue,
            &[line(&a, -1), line(&foreign, -1)],
            &[a.clone(), foreign.clone()]
        ),
        Err(Refusal::OtherWarehouse { line: 1, .. })
    ));
}

#[test]
fn an_adjustment_may_touch_held_and_expired_lots_but_not_reserved_stock() {
    let mut held = lot(10, 4);
    held.status = LotStatus::Quarantined;
    held.expires_on = Some(day("2020-01-01"));
    assert!(
        run(
            LotOp::Adjust,
            &[line(&held, -6), line(&held, 5)],
            std::slice::from_ref(&held)
        )
        .is_ok()
    );
    assert!(matches!(
        run(
            LotOp::Adjust,
            &[line(&held, -7)],
            std::slice::from_ref(&held)
        ),
        Err(Refusal::NotEnough { take: 7, .. })
    ));
}

#[test]
fn no_line_overflows_the_balance_or_the_arithmetic() {
    let a = lot(i64::MAX - 1, 0);
    assert_eq!(
        run(
            LotOp::Adjust,
            &[line(&a, 1), line(&a, 1)],
            std::slice::from_ref(&a)
        ),
        Err(Refusal::Overflow { line: 1, qty: 1 })
    );
    // The most negative change cannot be negated; it is simply more than is available.
    let b = lot(5, 0);
    assert!(matches!(
        run(LotOp::Adjust, &[line(&b, i64::MIN)], std::slice::from_ref(&b)),
        Err(Refusal::NotEnough { take, .. }) if take == i64::MIN.unsigned_abs()
    ));
}

#[test]
fn the_audit_record_lists_each_line_signed() {
    let a = lot(10, 0);
    let cmd = MovementCmd {
        op: LotOp::Issue,
        lines: vec![line(&a, -2)],
    };
    let c = change(&cmd, Uuid::nil(), "WH-1");
    assert_eq!((c.action, c.entity_kind), ("stock.issue", "issue"));
    assert_eq!(
        c.after,
        Some(
            json!({"warehouse": "WH-1", "lines": [{"lot_id": a.id, "qty": -2, "reason": "shelter"}]})
        )
    );
}

#[test]
fn an_issue_needs_a_positive_quantity_and_a_reason_and_an_other_adjustment_a_note() {
    let lot_id = LotId(Uuid::nil());
    let issue = MovementCmd::issue(vec![IssueLine {
        lot_id,
        qty: 0,
        reason: " ".into(),
        note: None,
    }])
    .expect_err("refused");
    let pointers = |e: AppError| -> Vec<String> {
        e.problem().errors.into_iter().map(|e| e.pointer).collect()
    };
    assert_eq!(pointers(issue), vec!["/lines/0/qty", "/lines/0/reason"]);
    let adjust = MovementCmd::adjust(vec![AdjustmentLine {
        lot_id,
        qty: 0,
        reason: AdjustmentReason::Other,
        note: None,
    }])
    .expect_err("refused");
    assert_eq!(pointers(adjust), vec!["/lines/0/qty", "/lines/0/note"]);
    let ok = MovementCmd::issue(vec![IssueLine {
        lot_id,
        qty: 3,
        reason: "shelter".into(),
        note: None,
    }])
    .expect("parses");
    assert_eq!(ok.lines[0].delta, -3);
    assert!(MovementCmd::adjust(vec![]).is_err());
}
