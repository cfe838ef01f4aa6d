//! The warehouse use cases, called by the HTTP handlers and by the warehouses import:
//! create and update. Each runs in the caller's transaction: it checks the draft with the
//! pure rules ([`super::check_warehouse`]), checks the parent exists, writes (the
//! database refuses a parent cycle and a code or id change), and records its audit
//! event; the caller commits.

use sqlx::PgConnection;

use super::{ServiceArea, Warehouse, WarehouseDraft, WarehouseInput, check_warehouse, db};
use crate::audit::{self, Change, Origin};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::WarehouseId;
use crate::stock::fields::invalid_all;

/// The parent named by a draft must exist.
async fn check_parent(conn: &mut PgConnection, d: &WarehouseDraft) -> AppResult<()> {
    if let Some(parent) = &d.parent
        && db::id_by_code(conn, parent).await?.is_none()
    {
        return Err(AppError::invalid(
            "/parent",
            format!("unknown warehouse `{parent}`"),
        ));
    }
    Ok(())
}

async fn stored(conn: &mut PgConnection, code: &str) -> AppResult<Warehouse> {
    db::by_code(conn, code)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("warehouse {code} vanished")))
}

fn to_json(w: &Warehouse) -> AppResult<serde_json::Value> {
    Ok(serde_json::to_value(w).map_err(anyhow::Error::from)?)
}

/// Creates a warehouse and records `warehouse.create`.
pub async fn create_warehouse(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    area: &ServiceArea,
    input: &WarehouseInput,
) -> AppResult<Warehouse> {
    let draft = check_warehouse(input, area).map_err(invalid_all)?;
    check_parent(conn, &draft).await?;
    db::insert(conn, WarehouseId::new(), &draft).await?;
    let after = stored(conn, &draft.code).await?;
    record(conn, actor, origin, "warehouse.create", None, &after).await?;
    Ok(after)
}

/// A change to a warehouse: each field present replaces the stored value; `district`
/// and `parent` may be set to null.
#[derive(Debug, Clone, Default)]
pub struct WarehousePatch {
    /// The fields given (its `code` must be absent).
    pub set: WarehouseInput,
    /// `district` given as null.
    pub clear_district: bool,
    /// `parent` given as null.
    pub clear_parent: bool,
}

impl WarehousePatch {
    /// `current` with this patch applied. A position that does not move is not checked
    /// against the service area again (it may have been placed outside on purpose).
    pub fn apply(&self, current: &Warehouse) -> WarehouseInput {
        let mut out = WarehouseInput::from(current);
        let s = self.set.clone();
        out.name_zh = s.name_zh.or(out.name_zh);
        out.name_en = s.name_en.or(out.name_en);
        out.city = s.city.or(out.city);
        out.district = if self.clear_district {
            None
        } else {
            s.district.or(out.district)
        };
        out.tier = s.tier.or(out.tier);
        out.lat = s.lat.or(out.lat);
        out.lon = s.lon.or(out.lon);
        let moved = out.lat != Some(current.lat) || out.lon != Some(current.lon);
        out.outside_service_area = if moved {
            s.outside_service_area
        } else {
            Some(true)
        };
        out.handling_minutes = s.handling_minutes.or(out.handling_minutes);
        out.status = s.status.or(out.status);
        out.parent = if self.clear_parent {
            None
        } else {
            s.parent.or(out.parent)
        };
        out
    }
}

/// Changes the warehouse with this code and records `warehouse.update`. A move takes
/// effect in the next plan of every process (positions are read per plan).
pub async fn update_warehouse(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    area: &ServiceArea,
    code: &str,
    patch: &WarehousePatch,
) -> AppResult<Warehouse> {
    let id = db::lock(conn, code)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no warehouse with code {code}")))?;
    let before = stored(conn, code).await?;
    let draft = check_warehouse(&patch.apply(&before), area).map_err(invalid_all)?;
    check_parent(conn, &draft).await?;
    db::update(conn, id, &draft).await?;
    let after = stored(conn, code).await?;
    record(
        conn,
        actor,
        origin,
        "warehouse.update",
        Some(&before),
        &after,
    )
    .await?;
    Ok(after)
}

async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    action: &'static str,
    before: Option<&Warehouse>,
    after: &Warehouse,
) -> AppResult<()> {
    audit::db::record(
        conn,
        actor,
        origin,
        Change {
            action,
            entity_kind: "warehouse",
            entity_id: after.code.clone(),
            before: before.map(to_json).transpose()?,
            after: Some(to_json(after)?),
        },
    )
    .await?;
    Ok(())
}
