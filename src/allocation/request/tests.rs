use uuid::Uuid;

use super::*;

fn item(n: u128, sku: &str) -> KnownItem {
    KnownItem {
        id: ItemId(Uuid::from_u128(n)),
        sku: sku.into(),
        min_remaining_days: 30,
        retired: false,
    }
}

fn demand(lines: &[(&str, i64)]) -> Result<Demand, Refusal> {
    let items = [item(1, "WATER"), item(2, "TENT")];
    Demand::new(lines, &items, Priority::High, None, false)
}

fn lot(n: u128) -> LotId {
    LotId(Uuid::from_u128(n))
}

fn warehouse(n: u128) -> WarehouseId {
    WarehouseId(Uuid::from_u128(n))
}

#[test]
fn a_request_needs_one_to_max_lines_of_positive_quantities() {
    assert_eq!(check_lines(&[]), Err(Refusal::NoLines));
    assert_eq!(
        check_lines(&vec![1; MAX_LINES + 1]),
        Err(Refusal::TooManyLines)
    );
    assert_eq!(check_lines(&[3, 0, -1]), Err(Refusal::QtyNotPositive(1)));
    assert_eq!(check_lines(&vec![1; MAX_LINES]), Ok(()));
}

#[test]
fn lines_of_one_sku_merge_in_order_of_first_appearance() {
    let d = demand(&[("TENT", 1), ("WATER", 2), ("TENT", 3)]).expect("demand");
    let got: Vec<(i32, &str, i64)> = d
        .lines
        .iter()
        .map(|l| (l.line_no, l.item.sku.as_str(), l.qty))
        .collect();
    assert_eq!(got, vec![(0, "TENT", 4), (1, "WATER", 2)]);
    assert_eq!(d.planner_lines().len(), 2);
    assert!(d.levels_apply());
}

#[test]
fn an_unknown_sku_is_named_before_any_sum_is_checked() {
    assert_eq!(
        demand(&[("TENT", i64::MAX), ("TENT", 1), ("ROPE", 1)]),
        Err(Refusal::UnknownSku(2, "ROPE".into()))
    );
    assert_eq!(
        demand(&[("TENT", i64::MAX), ("WATER", 1), ("TENT", 1)]),
        Err(Refusal::QtyTooLarge(2))
    );
}

#[test]
fn a_retirement_seen_only_by_the_database_names_the_line_the_cache_would_have_named() {
    // Lines where the retired item comes first, after a merge, and never.
    let cases: [&[(&str, i64)]; 3] = [
        &[("WATER", 1), ("TENT", 2)],
        &[("TENT", 1), ("TENT", 2), ("WATER", 3), ("WATER", 4)],
        &[("TENT", 1)],
    ];
    let mut retired = item(1, "WATER");
    retired.retired = true;
    let items = [retired, item(2, "TENT")];
    for lines in cases {
        let given: Vec<(String, i64)> = lines.iter().map(|&(s, q)| (s.to_owned(), q)).collect();
        let known = Demand::new(lines, &items, Priority::High, None, false).err();
        assert_eq!(retired_in_flight(&given, "WATER"), known, "{lines:?}");
    }
}

#[test]
fn the_fill_of_the_lines_makes_the_status() {
    assert_eq!(
        RequestStatus::of_fill([(5, 5), (2, 3)]),
        RequestStatus::Reserved
    );
    assert_eq!(
        RequestStatus::of_fill([(5, 5), (2, 0)]),
        RequestStatus::PartiallyReserved
    );
    assert_eq!(
        RequestStatus::of_fill([(5, 0), (2, 0)]),
        RequestStatus::Unfilled
    );
    assert_eq!(
        RequestStatus::of_plan(PlanStatus::PartiallyReserved),
        RequestStatus::PartiallyReserved
    );
}

#[test]
fn every_status_round_trips_through_its_stored_name() {
    for s in RequestStatus::ALL {
        assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
    }
    assert_eq!(RequestStatus::parse("delivered"), None);
}

#[test]
fn dispatched_and_cancelled_requests_refuse_every_change() {
    use RequestStatus::*;
    for open in [Reserved, PartiallyReserved, Unfilled] {
        assert_eq!(open.after(Change::Replan), Ok(None));
        assert_eq!(open.after(Change::Dispatch), Ok(Some(Dispatched)));
        assert_eq!(open.after(Change::Cancel), Ok(Some(Cancelled)));
    }
    let refused = Dispatched.after(Change::Cancel).expect_err("final");
    assert_eq!(
        refused.to_string(),
        "cannot cancel a request that is dispatched"
    );
    let e = AppError::from(Cancelled.after(Change::Replan).expect_err("final"));
    assert_eq!(e.status(), axum::http::StatusCode::CONFLICT);
    assert!(
        matches!(e, AppError::Conflict { extra: Some(x), .. } if x["request_status"] == "cancelled")
    );
}

#[test]
fn a_shipment_is_delivered_once() {
    assert_eq!(
        ShipmentStatus::InTransit.deliver(),
        Ok(ShipmentStatus::Delivered)
    );
    assert_eq!(
        ShipmentStatus::Delivered.deliver(),
        Err(Refusal::AlreadyDelivered)
    );
}

#[test]
fn held_stock_ships_once_per_source_warehouse() {
    assert_eq!(group_shipments(&[]), Err(Refusal::NothingReserved));
    let held = [
        Held {
            lot: lot(1),
            warehouse: warehouse(9),
            qty: 2,
        },
        Held {
            lot: lot(2),
            warehouse: warehouse(8),
            qty: 3,
        },
        Held {
            lot: lot(3),
            warehouse: warehouse(9),
            qty: 4,
        },
    ];
    let got = group_shipments(&held).expect("shipments");
    let got: Vec<_> = got.into_iter().collect();
    assert_eq!(
        got,
        vec![
            (warehouse(8), vec![(lot(2), 3)]),
            (warehouse(9), vec![(lot(1), 2), (lot(3), 4)])
        ]
    );
}

#[test]
fn a_delivery_names_shipped_lots_once_within_what_was_shipped() {
    let shipped = [(lot(1), 10), (lot(2), 5)];
    let r = |l, qty| Received { lot: lot(l), qty };
    assert_eq!(
        check_delivery(&shipped, &[r(3, 1)], None),
        Err(Refusal::LotNotShipped(0))
    );
    assert_eq!(
        check_delivery(&shipped, &[r(1, 10), r(1, 9)], Some("x")),
        Err(Refusal::LotListedTwice(1))
    );
    assert_eq!(
        check_delivery(&shipped, &[r(2, 6)], Some("x")),
        Err(Refusal::ReceivedOutOfRange {
            index: 0,
            shipped: 5,
            received: 6
        })
    );
    assert_eq!(
        check_delivery(&shipped, &[r(2, -1)], Some("x")).map_err(|e| e.to_string()),
        Err("received_qty must be between 0 and the 5 shipped, got -1".into())
    );
}

#[test]
fn less_than_shipped_needs_a_note_of_at_most_1000_characters() {
    let shipped = [(lot(1), 10), (lot(2), 5)];
    let short = [Received {
        lot: lot(2),
        qty: 3,
    }];
    assert_eq!(
        check_delivery(&shipped, &short, Some("   ")),
        Err(Refusal::ShortWithoutNote)
    );
    let long = "x".repeat(MAX_NOTE_CHARS + 1);
    assert_eq!(
        check_delivery(&shipped, &[], Some(&long)),
        Err(Refusal::NoteTooLong)
    );
    assert_eq!(
        check_delivery(&shipped, &short, Some(" wet boxes ")),
        Ok(Delivery {
            received: vec![(lot(1), 10), (lot(2), 3)],
            note: Some("wet boxes".into()),
        })
    );
    assert_eq!(
        check_delivery(&shipped, &[], Some("")),
        Ok(Delivery {
            received: vec![(lot(1), 10), (lot(2), 5)],
            note: None,
        })
    );
}

#[test]
fn refusals_keep_their_pointers_and_statuses() {
    use axum::http::StatusCode;
    let cases = [
        (Refusal::NoLines, StatusCode::UNPROCESSABLE_ENTITY, "/lines"),
        (
            Refusal::QtyTooLarge(4),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/lines/4/qty",
        ),
        (
            Refusal::UnknownSku(1, "X".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/lines/1/sku",
        ),
        (
            Refusal::IncidentClosed {
                id: IncidentId(Uuid::nil()),
                pointer: "/incident_id",
            },
            StatusCode::CONFLICT,
            "/incident_id",
        ),
        (Refusal::NothingReserved, StatusCode::CONFLICT, "id"),
        (
            Refusal::ReceivedOutOfRange {
                index: 2,
                shipped: 1,
                received: 3,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "/lines/2/received_qty",
        ),
        (
            Refusal::ShortWithoutNote,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/note",
        ),
    ];
    for (refusal, status, pointer) in cases {
        let e = AppError::from(refusal);
        assert_eq!(e.status(), status, "{e}");
        let (AppError::Validation { errors, .. } | AppError::Conflict { errors, .. }) = e else {
            panic!("unexpected kind");
        };
        assert_eq!(errors[0].pointer, pointer);
    }
    assert_eq!(
        Refusal::TooManyLines.to_string(),
        "a request may have at most 200 lines"
    );
    let e = AppError::from(Refusal::NoRequest(RequestId(Uuid::nil())));
    assert_eq!(e.status(), StatusCode::NOT_FOUND);
}
