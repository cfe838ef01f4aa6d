use super::*;
use crate::reserve::readiness::score;

#[test]
fn a_warehouse_scores_levels_met_and_units_of_usable_stock() {
    // Arrange: water is met; kits hold 1 usable of 4 (3 more in transit, 5 expired);
    // masks have no level and do not count.
    let net = Net::new()
        .item("KIT", 30)
        .wh(1, "DD", Tier::District, None)
        .level(1, "WATER", 10, None)
        .level(1, "KIT", 4, None)
        .level(1, "MASK", 0, None)
        .lot(1, 1, "WATER", None, 12)
        .lot(2, 1, "KIT", Some(100), 1)
        .lot(3, 1, "KIT", Some(-1), 5)
        .lot(4, 1, "KIT", Some(20), 5) // fewer than the item's 30 days left
        .lot(5, 1, "MASK", None, 50)
        .inbound(1, "KIT", 3);

    // Act
    let r = score(&net.snapshot());

    // Assert
    let s = r.warehouses[0].score;
    assert_eq!((s.levels, s.levels_met), (2, 1));
    assert_eq!((s.level_units, s.units_met), (14, 11), "min(12, 10) + 1");
    assert_eq!(s.levels_share, Some(0.5));
    assert_eq!(s.units_share, Some(11.0 / 14.0));
    assert_eq!(r.network, s);
}

#[test]
fn districts_and_the_network_add_up_their_active_warehouses() {
    let net = Net::new()
        .wh(1, "A", Tier::District, None)
        .wh(2, "B", Tier::Community, Some(1))
        .wh(3, "C", Tier::District, None)
        .wh(4, "D", Tier::District, None)
        .wh(5, "E", Tier::City, None)
        .edit_wh(3, |w| w.district = Some("蓬江区".into()))
        .edit_wh(4, |w| w.active = false)
        .edit_wh(5, |w| w.district = None)
        .level(1, "WATER", 10, None)
        .level(2, "WATER", 10, None)
        .level(3, "WATER", 10, None)
        .level(4, "WATER", 10, None)
        .level(5, "WATER", 10, None)
        .lot(1, 1, "WATER", None, 10)
        .lot(2, 3, "WATER", None, 5)
        .lot(3, 4, "WATER", None, 10)
        .lot(4, 5, "WATER", None, 10);
    let r = score(&net.snapshot());
    let codes: Vec<&str> = r
        .warehouses
        .iter()
        .map(|w| w.warehouse_code.as_str())
        .collect();
    assert_eq!(codes, vec!["A", "B", "C", "E"], "inactive D is not scored");
    let d: Vec<(&str, u32, u32, u32, i64)> = r
        .districts
        .iter()
        .map(|d| {
            (
                d.district.as_str(),
                d.warehouses,
                d.score.levels,
                d.score.levels_met,
                d.score.units_met,
            )
        })
        .collect();
    assert_eq!(d, vec![("江海区", 2, 2, 1, 10), ("蓬江区", 1, 1, 0, 5)]);
    let n = r.network;
    assert_eq!(
        (n.levels, n.levels_met, n.level_units, n.units_met),
        (4, 2, 40, 25)
    );
}

#[test]
fn a_warehouse_without_levels_has_no_share() {
    let net = Net::new()
        .wh(1, "A", Tier::City, None)
        .lot(1, 1, "WATER", None, 5);
    let r = score(&net.snapshot());
    assert_eq!(r.warehouses[0].score.levels_share, None);
    assert_eq!(r.network.units_share, None);
}
