use super::*;
use crate::reserve::replenish::{Destination, ReplenishmentPlan, SourceSkip, plan};

const WATER: &str = "WATER";
const KIT: &str = "FIRST-AID-KIT";

/// (from, to, lot code, qty) of every transfer line.
fn moves(p: &ReplenishmentPlan) -> Vec<(String, String, String, i64)> {
    p.transfers
        .iter()
        .flat_map(|t| {
            t.lines.iter().map(|l| {
                (
                    t.from_code.clone(),
                    t.to_code.clone(),
                    l.lot_code.clone(),
                    l.qty,
                )
            })
        })
        .collect()
}

fn mv(from: &str, to: &str, lot: &str, qty: i64) -> (String, String, String, i64) {
    (from.into(), to.into(), lot.into(), qty)
}

fn skipped(d: &Destination) -> Vec<(String, SourceSkip)> {
    d.skipped
        .iter()
        .map(|s| (s.warehouse_code.clone(), s.reason))
        .collect()
}

/// Jianghai: the reserve centre, its district depot, and a grid point under the depot.
fn jianghai() -> Net {
    Net::new()
        .item(WATER, 0)
        .wh(1, "JM-JH-RC", Tier::RegionalCentre, None)
        .wh(2, "JM-JH-DD", Tier::District, Some(1))
        .wh(3, "JM-JH-G001", Tier::Community, Some(2))
        .road(1, 2, 25.0)
        .road(2, 3, 12.0)
        .road(1, 3, 30.0)
}

#[test]
fn a_community_point_is_refilled_from_its_district_depot_first_expiry_first() {
    // Arrange: the point holds 2 of a 10 level (target 12); the depot keeps 50 and holds
    // 80; the centre is as near and holds plenty, but the parent comes first.
    let net = jianghai()
        .level(3, WATER, 10, Some(12))
        .level(2, WATER, 50, None)
        .lot(1, 3, WATER, Some(400), 2)
        .lot(2, 2, WATER, Some(400), 75)
        .lot(3, 2, WATER, Some(200), 5)
        .lot(4, 1, WATER, Some(300), 1000);

    // Act
    let p = plan(&net.snapshot(), &Scope::default());

    // Assert
    assert_eq!(
        moves(&p),
        vec![
            mv("JM-JH-DD", "JM-JH-G001", "L3", 5),
            mv("JM-JH-DD", "JM-JH-G001", "L2", 5),
        ]
    );
    let d = &p.destinations[0];
    assert_eq!(
        (d.need, d.planned, d.shortfall, d.level_stock),
        (10, 10, 0, 2)
    );
    assert!(d.sources[0].parent);
    assert!(d.skipped.is_empty());
    assert_eq!(p.transfers[0].arrives_on, day(1), "12 minutes: tomorrow");
    assert!(p.procurement.is_empty());
}

#[test]
fn a_depot_whose_parent_is_empty_draws_from_the_nearest_other_warehouse() {
    let net = Net::new()
        .item(WATER, 0)
        .wh(1, "RC", Tier::RegionalCentre, None)
        .wh(2, "DD-A", Tier::District, Some(1))
        .wh(3, "DD-B", Tier::District, Some(1))
        .wh(4, "DD-C", Tier::District, Some(1))
        .road(1, 2, 20.0)
        .road(3, 2, 60.0)
        .road(4, 2, 30.0)
        .level(1, WATER, 100, None)
        .level(2, WATER, 40, None)
        .lot(1, 1, WATER, None, 100) // the centre is exactly at its level
        .lot(2, 3, WATER, None, 500)
        .lot(3, 4, WATER, None, 500);
    let p = plan(&net.snapshot(), &Scope::default());
    assert_eq!(moves(&p), vec![mv("DD-C", "DD-A", "L3", 40)]);
    let d = &p.destinations[0];
    assert_eq!(skipped(d), vec![("RC".to_owned(), SourceSkip::NoSurplus)]);
    assert!(d.skipped[0].parent);
    assert_eq!((d.skipped[0].level_stock, d.skipped[0].keep), (100, 100));
}

#[test]
fn what_no_source_covers_goes_on_the_procurement_list() {
    let net = jianghai()
        .wh(4, "JM-JH-G002", Tier::Community, Some(2))
        .road(2, 4, 15.0)
        .level(2, WATER, 50, None)
        .level(3, WATER, 10, None)
        .level(4, WATER, 20, None)
        .lot(1, 2, WATER, None, 56);
    let p = plan(&net.snapshot(), &Scope::default());
    // Both points are empty (ratio 0): G001 then G002 by code. The depot spares 6.
    assert_eq!(moves(&p), vec![mv("JM-JH-DD", "JM-JH-G001", "L1", 6)]);
    let (g1, g2) = (&p.destinations[0], &p.destinations[1]);
    assert_eq!((g1.planned, g1.shortfall), (6, 4));
    assert_eq!((g2.planned, g2.shortfall), (0, 20));
    assert_eq!(
        skipped(g2),
        vec![("JM-JH-DD".to_owned(), SourceSkip::NoSurplus)]
    );
    assert_eq!(g2.skipped[0].taken_earlier, 6);
    assert_eq!(p.procurement.len(), 1);
    let buy = &p.procurement[0];
    assert_eq!((buy.sku.as_str(), buy.shortfall), (WATER, 24));
    let per: Vec<(&str, i64)> = buy
        .destinations
        .iter()
        .map(|n| (n.warehouse_code.as_str(), n.shortfall))
        .collect();
    assert_eq!(per, vec![("JM-JH-G001", 4), ("JM-JH-G002", 20)]);
}

#[test]
fn a_lot_too_short_dated_for_a_community_point_is_not_sent_there() {
    // Community points need 90 days on arrival by default; the depot's first lot has 60.
    let net = jianghai()
        .level(3, WATER, 10, None)
        .level(2, WATER, 5, None)
        .lot(1, 2, WATER, Some(60), 8)
        .lot(2, 2, WATER, Some(200), 4);
    let p = plan(&net.snapshot(), &Scope::default());
    assert_eq!(moves(&p), vec![mv("JM-JH-DD", "JM-JH-G001", "L2", 4)]);
    let d = &p.destinations[0];
    assert_eq!(d.min_remaining_days_on_arrival, 90);
    assert_eq!(
        skipped(d),
        vec![("JM-JH-DD".to_owned(), SourceSkip::ShortDatedOnArrival)]
    );
    assert_eq!(
        (d.skipped[0].short_dated_on_arrival, d.skipped[0].taken),
        (8, 4)
    );
    // With no tier days the 60-day lot goes first (FEFO), down to the depot's level.
    let p = plan(
        &net.tiers(TierPolicy {
            community: 0,
            ..TierPolicy::default()
        })
        .snapshot(),
        &Scope::default(),
    );
    assert_eq!(moves(&p), vec![mv("JM-JH-DD", "JM-JH-G001", "L1", 7)]);
}

#[test]
fn stock_in_transit_counts_toward_its_destination_and_is_not_proposed_again() {
    let base = jianghai()
        .level(3, WATER, 10, None)
        .lot(1, 3, WATER, None, 4)
        .lot(2, 2, WATER, None, 100);
    let p = plan(
        &base.clone().inbound(3, WATER, 6).snapshot(),
        &Scope::default(),
    );
    assert!(p.destinations.is_empty(), "4 held + 6 in transit = level");
    let p = plan(&base.inbound(3, WATER, 3).snapshot(), &Scope::default());
    assert_eq!((p.destinations[0].inbound, p.destinations[0].need), (3, 3));
}

#[test]
fn a_source_keeps_its_target_and_a_destination_is_refilled_to_its_target() {
    let net = jianghai()
        .level(3, WATER, 10, Some(30))
        .level(2, WATER, 10, Some(20))
        .lot(1, 2, WATER, None, 25);
    let p = plan(&net.snapshot(), &Scope::default());
    let d = &p.destinations[0];
    assert_eq!((d.refill_to, d.need, d.planned), (30, 30, 5));
    assert_eq!(moves(&p), vec![mv("JM-JH-DD", "JM-JH-G001", "L1", 5)]);
}

#[test]
fn agreement_stores_inactive_and_unreachable_warehouses_never_supply() {
    let net = jianghai()
        .wh(4, "AG-STORE", Tier::Agreement, None)
        .wh(5, "OLD-DEPOT", Tier::District, None)
        .wh(6, "ISLAND", Tier::District, None)
        .road(4, 3, 1.0)
        .road(5, 3, 2.0)
        .edit_wh(5, |w| w.active = false)
        .level(3, WATER, 10, None)
        .lot(1, 4, WATER, None, 100)
        .lot(2, 5, WATER, None, 100)
        .lot(3, 6, WATER, None, 100);
    let p = plan(&net.snapshot(), &Scope::default());
    assert!(p.transfers.is_empty());
    assert_eq!(
        skipped(&p.destinations[0]),
        vec![
            ("JM-JH-DD".to_owned(), SourceSkip::NoSurplus),
            ("AG-STORE".to_owned(), SourceSkip::AgreementStock),
            ("OLD-DEPOT".to_owned(), SourceSkip::Inactive),
            ("ISLAND".to_owned(), SourceSkip::Unreachable),
        ]
    );
    assert_eq!(p.procurement[0].shortfall, 10);
}

#[test]
fn quarantined_and_expired_stock_neither_counts_nor_moves() {
    let net = jianghai()
        .level(3, WATER, 10, None)
        .lot(1, 3, WATER, Some(-1), 50) // expired at the point: it is empty
        .lot(2, 2, WATER, None, 40)
        .edit_lot(2, |l| l.quarantined = true)
        .lot(3, 2, WATER, Some(-3), 40);
    let p = plan(&net.snapshot(), &Scope::default());
    let d = &p.destinations[0];
    assert_eq!((d.level_stock, d.need, d.planned), (0, 10, 0));
    assert_eq!(
        skipped(d),
        vec![("JM-JH-DD".to_owned(), SourceSkip::Quarantined)]
    );
    assert_eq!(d.skipped[0].quarantined, 40);
}

#[test]
fn the_emptiest_destination_goes_first_then_community_points_before_depots() {
    let net = jianghai()
        .wh(4, "JM-JH-G002", Tier::Community, Some(2))
        .wh(5, "JM-XH-DD", Tier::District, Some(1))
        .road(2, 4, 12.0)
        .road(1, 4, 30.0)
        .road(1, 5, 40.0)
        .level(3, WATER, 10, None)
        .level(4, WATER, 10, None)
        .level(5, WATER, 20, None)
        .lot(1, 3, WATER, None, 5) // 50 %
        .lot(2, 5, WATER, None, 10) // 50 %
        .lot(3, 1, WATER, None, 8);
    let p = plan(&net.snapshot(), &Scope::default());
    let order: Vec<&str> = p
        .destinations
        .iter()
        .map(|d| d.warehouse_code.as_str())
        .collect();
    assert_eq!(order, vec!["JM-JH-G002", "JM-JH-G001", "JM-XH-DD"]);
    // The centre's 8 spare: all to the empty point, none left for the others.
    assert_eq!(moves(&p), vec![mv("JM-JH-RC", "JM-JH-G002", "L3", 8)]);
}

#[test]
fn a_scope_limits_the_destinations_not_the_sources() {
    let net = jianghai()
        .item(KIT, 0)
        .level(3, WATER, 10, None)
        .level(3, KIT, 2, None)
        .level(2, WATER, 10, None)
        .lot(1, 1, WATER, None, 100)
        .lot(2, 1, KIT, None, 100);
    let scope = Scope {
        tiers: vec![Tier::Community],
        skus: vec![WATER.to_owned()],
        ..Scope::default()
    };
    let p = plan(&net.snapshot(), &scope);
    assert_eq!(p.destinations.len(), 1);
    assert_eq!(moves(&p), vec![mv("JM-JH-RC", "JM-JH-G001", "L1", 10)]);
}

#[test]
fn one_transfer_per_source_and_destination_carries_every_sku() {
    let net = jianghai()
        .item(KIT, 0)
        .level(3, WATER, 10, None)
        .level(3, KIT, 2, None)
        .lot(1, 2, WATER, None, 100)
        .lot(2, 2, KIT, None, 100);
    let p = plan(&net.snapshot(), &Scope::default());
    assert_eq!(p.transfers.len(), 1);
    let skus: Vec<&str> = p.transfers[0]
        .lines
        .iter()
        .map(|l| l.sku.as_str())
        .collect();
    assert_eq!(
        skus,
        vec![KIT, WATER],
        "the emptier cell first: both 0 %, SKU order"
    );
}

#[test]
fn plans_serialize_with_snake_case_names() {
    let net = jianghai()
        .level(3, WATER, 10, None)
        .lot(1, 2, WATER, None, 4);
    let v = serde_json::to_value(plan(&net.snapshot(), &Scope::default())).expect("serializes");
    assert_eq!(v["destinations"][0]["tier"], "community");
    assert_eq!(v["destinations"][0]["sources"][0]["qty"], 4);
    assert_eq!(v["procurement"][0]["shortfall"], 6);
    assert_eq!(
        serde_json::to_value(SourceSkip::ShortDatedOnArrival).expect("serializes"),
        "short_dated_on_arrival"
    );
}
