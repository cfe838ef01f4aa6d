use serde_json::value::RawValue;
use uuid::Uuid;

use super::*;
use crate::allocation::Priority;
use crate::allocation::request::KnownItem;
use crate::ids::ItemId;
use crate::planner::{Pick, PlanStatus};

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn place(status: IncidentStatus) -> IncidentPlace {
    IncidentPlace {
        delivery_target_hours: 6,
        status,
        lat: 22.0,
        lon: 113.0,
        affected_area: None,
    }
}

#[test]
fn a_plan_needs_the_incident_and_new_demand_an_open_one() {
    let incident = IncidentId(id(7));
    let new = Intake::New {
        pointer: "incident_id",
    };
    assert_eq!(
        incident_for(None, incident, Intake::Stored),
        Err(Refusal::NoIncident(incident))
    );
    assert_eq!(
        incident_for(Some(place(IncidentStatus::Closed)), incident, new),
        Err(Refusal::IncidentClosed {
            id: incident,
            pointer: "incident_id"
        })
    );
    assert!(
        incident_for(
            Some(place(IncidentStatus::Closed)),
            incident,
            Intake::Stored
        )
        .is_ok()
    );
    assert!(incident_for(Some(place(IncidentStatus::Open)), incident, new).is_ok());
}

#[test]
fn a_warehouse_eta_is_handling_plus_travel_and_none_without_a_route() {
    let w = |n: u128, lon: f64| SnapshotWarehouse {
        id: WarehouseId(id(n)),
        code: format!("W{n}"),
        active: true,
        lat: 22.0,
        lon,
        handling_minutes: 30,
        community: n == 2,
        reserve_levels: vec![ReserveLevel {
            sku: "TENT".into(),
            level: 2,
        }],
    };
    let area: MultiPolygon<f64> = geo::MultiPolygon(vec![geo::Polygon::new(
        geo::LineString::from(vec![
            (112.5, 21.5),
            (113.5, 21.5),
            (113.5, 22.5),
            (112.5, 22.5),
            (112.5, 21.5),
        ]),
        vec![],
    )]);
    let travel = vec![
        Some(Travel {
            minutes: 12.5,
            km: 9.0,
        }),
        None,
    ];
    let states = warehouse_states(
        vec![w(1, 113.0), w(2, 114.0)],
        travel,
        Some(&area),
        (22.0, 113.5),
        5.0,
    );
    assert_eq!(states[0].eta_minutes, Some(42.5));
    // Half a degree of longitude at 22° N is about 51.6 km; only the community point
    // (W2) has a service radius.
    let km = states[0].incident_km.expect("distance");
    assert!((km - 51.6).abs() < 0.5, "{km}");
    assert_eq!(states[0].service_radius_km, None);
    assert_eq!(states[1].service_radius_km, Some(5.0));
    assert_eq!(states[0].distance_km, Some(9.0));
    assert!(states[0].in_affected_area);
    assert_eq!(states[0].reserve_levels, vec![("TENT".to_string(), 2)]);
    assert_eq!(states[1].eta_minutes, None);
    assert!(!states[1].in_affected_area);
}

fn pick(lot: u128, warehouse: u128, qty: i64) -> Pick {
    Pick {
        warehouse_id: id(warehouse),
        warehouse_code: format!("W{warehouse}"),
        lot_id: id(lot),
        lot_code: format!("L{lot}"),
        expires_on: None,
        qty,
        eta_minutes: 40.0,
        distance_km: Some(5.0),
        misses_target: false,
        late: false,
    }
}

fn line(sku: &str, requested: i64, picks: Vec<Pick>) -> crate::planner::PlanLine {
    let reserved = picks.iter().map(|p| p.qty).sum();
    crate::planner::PlanLine {
        sku: sku.into(),
        requested,
        reserved,
        shortfall: requested - reserved,
        picks,
        explanation: vec![],
    }
}

#[test]
fn a_plan_becomes_rows_keyed_by_the_demand_it_fills() {
    // Arrange: a replan of lines 3 (TENT) and 5 (WATER); lot 20 is picked twice.
    let item = |n: u128, sku: &str| KnownItem {
        id: ItemId(id(n)),
        sku: sku.into(),
        min_remaining_days: 0,
        retired: false,
    };
    let demand = Demand {
        lines: vec![
            DemandedItem {
                line_no: 3,
                item: item(100, "TENT"),
                qty: 9,
            },
            DemandedItem {
                line_no: 5,
                item: item(200, "WATER"),
                qty: 4,
            },
        ],
        priority: Priority::Normal,
        needed_by: None,
        include_affected: false,
    };
    let plan = Plan {
        lines: vec![
            line(
                "TENT",
                9,
                vec![pick(20, 1, 3), pick(10, 2, 2), pick(20, 1, 1)],
            ),
            line("WATER", 4, vec![pick(30, 1, 4)]),
        ],
        status: PlanStatus::PartiallyReserved,
        today: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).expect("date"),
    };

    // Act
    let explanations = ["[1]", "[2]"].map(|e| RawValue::from_string(e.into()).expect("json"));
    let rows = plan_rows(&plan, &demand, explanations.into());

    // Assert
    assert_eq!(rows.lines.line_no, vec![3, 5]);
    assert_eq!(rows.lines.item_id, vec![id(100), id(200)]);
    assert_eq!(rows.lines.reserved, vec![6, 4]);
    let written: Vec<&str> = rows.lines.explanation.iter().map(|e| e.get()).collect();
    assert_eq!(written, ["[1]", "[2]"]);
    assert_eq!(rows.picks.line_no, vec![3, 3, 3, 5]);
    assert_eq!(rows.picks.lot_id, vec![id(20), id(10), id(20), id(30)]);
    assert_eq!(rows.reserve.lot_id, vec![id(10), id(20), id(30)]);
    assert_eq!(rows.reserve.qty, vec![2, 4, 4]);
    assert_eq!(rows.cells.warehouse_id, vec![id(1), id(1), id(2)]);
    assert_eq!(rows.cells.item_id, vec![id(100), id(200), id(100)]);
    assert_eq!(rows.cells.qty, vec![4, 4, 2]);
}
