use super::*;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

const TODAY: &str = "2026-11-27";
const WATER_GTIN: &str = "06975301011120";

fn water() -> ItemPolicy {
    ItemPolicy {
        id: ItemId(Uuid::from_u128(1)),
        sku: "WATER-5L".into(),
        gtins: vec![WATER_GTIN.into()],
        shelf_life_days: Some(365),
        min_remaining_days: 60,
        retired: false,
    }
}

fn tent() -> ItemPolicy {
    ItemPolicy {
        id: ItemId(Uuid::from_u128(2)),
        sku: "TENT-12M2-SGL".into(),
        gtins: vec![],
        shelf_life_days: None,
        min_remaining_days: 0,
        retired: false,
    }
}

fn line(sku: &str, lot: &str, expires: Option<&str>, qty: i64) -> ReceiptLine {
    ReceiptLine {
        sku: Some(sku.into()),
        lot_code: Some(lot.into()),
        expires_on: expires.map(day),
        qty: Some(qty),
        ..Default::default()
    }
}

fn pointers(e: AppError) -> Vec<String> {
    e.problem().errors.into_iter().map(|e| e.pointer).collect()
}

#[test]
fn receipts_refuse_expired_and_short_dated_lots_unless_quarantined() {
    let today = day(TODAY);
    let ok = receipt_status(Some(day("2027-02-01")), None, true, 60, today, false);
    assert_eq!(ok, Ok(LotStatus::Available));
    let short = receipt_status(Some(day("2027-01-25")), None, true, 60, today, false);
    assert!(matches!(
        short,
        Err(DateRule::ShortDated { remaining: 59, .. })
    ));
    let expired = receipt_status(Some(day("2026-11-26")), None, true, 0, today, false);
    assert!(matches!(expired, Err(DateRule::Expired { .. })));
    let held = receipt_status(Some(day("2026-11-26")), None, true, 0, today, true);
    assert_eq!(held, Ok(LotStatus::Quarantined));
    // usable through the expiry date itself
    assert_eq!(
        receipt_status(Some(today), None, true, 0, today, false),
        Ok(LotStatus::Available)
    );
}

#[test]
fn receipts_check_dates_against_the_items_shelf_life() {
    let today = day(TODAY);
    assert_eq!(
        receipt_status(Some(day("2027-11-27")), None, false, 0, today, false),
        Err(DateRule::ExpiryNotExpected)
    );
    assert_eq!(
        receipt_status(None, None, true, 0, today, false),
        Err(DateRule::ExpiryMissing)
    );
    assert!(matches!(
        receipt_status(
            Some(day("2027-01-01")),
            Some(day("2027-02-01")),
            true,
            0,
            today,
            true
        ),
        Err(DateRule::ProducedInFuture { .. })
    ));
    assert!(matches!(
        receipt_status(
            Some(day("2026-01-01")),
            Some(day("2026-02-01")),
            true,
            0,
            today,
            true
        ),
        Err(DateRule::ExpiryBeforeProduction { .. })
    ));
    assert_eq!(
        receipt_status(None, None, false, 0, today, false),
        Ok(LotStatus::Available)
    );
}

#[test]
fn a_scan_fills_in_the_fields_it_carries_and_must_agree_with_explicit_ones() {
    let scan = format!("(01){WATER_GTIN}(17)270601(10)B7(30)12");
    let parsed = parse_lines(
        vec![ReceiptLine {
            gs1: Some(scan.clone()),
            ..Default::default()
        }],
        day(TODAY),
    )
    .expect("parses");
    assert_eq!(parsed[0].gtin.as_deref(), Some(WATER_GTIN));
    assert_eq!(parsed[0].lot_code, "B7");
    assert_eq!(parsed[0].expires_on, Some(day("2027-06-01")));
    assert!(parsed[0].expiry_from_scan);
    assert_eq!(parsed[0].qty, 12);
    let disagree = parse_lines(
        vec![ReceiptLine {
            gs1: Some(scan),
            lot_code: Some("B8".into()),
            qty: Some(13),
            ..Default::default()
        }],
        day(TODAY),
    )
    .expect_err("disagrees");
    assert_eq!(
        pointers(disagree),
        vec!["/lines/0/lot_code", "/lines/0/qty"]
    );
}

#[test]
fn every_bad_field_of_every_line_is_named() {
    let err = parse_lines(
        vec![
            ReceiptLine::default(),
            line("WATER-5L", " ", None, 0),
            ReceiptLine {
                gs1: Some("(10)ONLY-A-LOT".into()),
                qty: Some(1),
                ..Default::default()
            },
        ],
        day(TODAY),
    )
    .expect_err("invalid");
    assert_eq!(
        pointers(err),
        vec![
            "/lines/0/lot_code",
            "/lines/0/qty",
            "/lines/0/sku",
            "/lines/1/lot_code",
            "/lines/1/qty",
            "/lines/2/gs1",
        ]
    );
    assert!(parse_lines(vec![], day(TODAY)).is_err());
}

#[test]
fn items_resolve_by_sku_or_gtin_and_the_policy_gives_the_status() {
    let today = day(TODAY);
    let lines = parse_lines(
        vec![
            line("WATER-5L", "A", Some("2027-06-01"), 1),
            ReceiptLine {
                quarantine: true,
                ..line("TENT-12M2-SGL", "T", None, 2)
            },
        ],
        today,
    )
    .expect("parses");
    let resolved = resolve(lines, &[water(), tent()], today).expect("resolves");
    assert_eq!(resolved[0].item, water());
    assert_eq!(resolved[0].status, LotStatus::Available);
    assert_eq!(resolved[1].status, LotStatus::Quarantined);

    let lines = parse_lines(
        vec![
            line("NOPE", "A", None, 1),
            line("WATER-5L", "A", Some("2027-01-01"), 1),
            line("TENT-12M2-SGL", "A", Some("2027-01-01"), 1),
        ],
        today,
    )
    .expect("parses");
    let err = resolve(lines, &[water(), tent()], today).expect_err("refused");
    assert_eq!(
        pointers(err),
        vec!["/lines/0/sku", "/lines/1/expires_on", "/lines/2/expires_on"]
    );
}

#[test]
fn a_retired_item_is_refused_naming_how_the_line_named_it() {
    let today = day(TODAY);
    let retired = ItemPolicy {
        retired: true,
        ..water()
    };
    let scan = format!("(01){WATER_GTIN}(17)270601(10)S");
    let lines = parse_lines(
        vec![
            line("WATER-5L", "A", Some("2027-06-01"), 1),
            ReceiptLine {
                gs1: Some(scan),
                qty: Some(1),
                ..ReceiptLine::default()
            },
        ],
        today,
    )
    .expect("parses");
    let err = resolve(lines, &[retired], today).expect_err("retired");
    assert_eq!(pointers(err), vec!["/lines/0/sku", "/lines/1/gs1"]);
}

fn lot(
    item: &ItemPolicy,
    code: &str,
    expires: Option<&str>,
    on_hand: i64,
    reserved: i64,
) -> LockedLot {
    LockedLot {
        id: LotId(Uuid::new_v4()),
        item_id: item.id,
        sku: item.sku.clone(),
        warehouse_id: crate::ids::WarehouseId(Uuid::from_u128(9)),
        lot_code: code.into(),
        expires_on: expires.map(day),
        on_hand,
        reserved,
        status: LotStatus::Available,
    }
}

fn arrival<'a>(
    item: &ItemPolicy,
    code: &'a str,
    expires: Option<&str>,
    qty: i64,
    status: LotStatus,
) -> Arrival<'a> {
    Arrival {
        item: item.id,
        lot_code: code,
        expires_on: expires.map(day),
        qty,
        status,
    }
}

#[test]
fn lots_are_created_once_per_code_and_held_when_any_line_holds_them() {
    use LotStatus::{Available, Quarantined};
    let known = lot(&water(), "K", Some("2027-06-01"), 5, 0);
    let lines = [
        arrival(&water(), "K", Some("2027-06-01"), 1, Available),
        arrival(&water(), "N", Some("2027-06-01"), 1, Available),
        arrival(&tent(), "N", None, 1, Available),
        arrival(&water(), "N", Some("2027-06-01"), 1, Quarantined),
    ];
    assert_eq!(
        lots_to_create(&lines, std::slice::from_ref(&known)),
        vec![(1, Quarantined), (2, Available)]
    );
}

#[test]
fn lines_on_one_lot_add_up_and_the_lot_keeps_one_expiry() {
    use LotStatus::{Available, Quarantined};
    let a = lot(&water(), "A", Some("2027-06-01"), 5, 2);
    let lines = [
        arrival(&water(), "A", Some("2027-06-01"), 3, Available),
        arrival(&water(), "A", Some("2027-06-01"), 4, Available),
    ];
    let p = plan(&lines, &[&a, &a]).expect("fits");
    assert_eq!(
        p.balances,
        vec![
            Balances {
                on_hand: 8,
                reserved: 2
            },
            Balances {
                on_hand: 12,
                reserved: 2
            }
        ]
    );
    assert_eq!(p.statuses, vec![Available, Available]);

    let other = [arrival(&water(), "A", Some("2027-07-01"), 3, Available)];
    assert!(matches!(
        plan(&other, &[&a]),
        Err(Refusal::ExpiryMismatch { line: 0, .. })
    ));
    let full = lot(&water(), "A", Some("2027-06-01"), i64::MAX - 1, 0);
    assert_eq!(
        plan(&lines, &[&full, &full]),
        Err(Refusal::Overflow { line: 0, qty: 3 })
    );
    let held = [arrival(&water(), "A", Some("2027-06-01"), 1, Quarantined)];
    assert!(matches!(
        plan(&held, &[&a]),
        Err(Refusal::QuarantineReserved { reserved: 2, .. })
    ));
}

#[test]
fn a_line_arriving_quarantined_holds_the_whole_lot() {
    use LotStatus::{Available, Quarantined};
    let a = lot(&water(), "A", Some("2027-06-01"), 5, 0);
    let lines = [
        arrival(&water(), "A", Some("2027-06-01"), 1, Available),
        arrival(&water(), "A", Some("2027-06-01"), 1, Quarantined),
    ];
    let p = plan(&lines, &[&a, &a]).expect("fits");
    assert_eq!(p.quarantine, vec![a.id]);
    assert_eq!(p.statuses, vec![Quarantined, Quarantined]);
}

#[test]
fn the_one_statement_applies_only_to_available_lines_into_available_lots_on_record() {
    use LotStatus::{Available, Quarantined};
    let a = lot(&water(), "A", Some("2027-06-01"), 5, 1);
    let mut held = lot(&water(), "H", Some("2027-06-01"), 5, 0);
    held.status = Quarantined;
    let lots = [a.clone(), held];
    let into = |code, status| [arrival(&water(), code, Some("2027-06-01"), 2, status)];
    assert_eq!(
        into_existing_lots(&into("A", Available), &lots),
        Some(vec![Balances {
            on_hand: 7,
            reserved: 1
        }])
    );
    assert_eq!(into_existing_lots(&into("A", Quarantined), &lots), None);
    assert_eq!(into_existing_lots(&into("H", Available), &lots), None);
    assert_eq!(into_existing_lots(&into("N", Available), &lots), None);
    let late = [arrival(&water(), "A", Some("2027-06-02"), 2, Available)];
    assert_eq!(into_existing_lots(&late, &lots), None);
}
