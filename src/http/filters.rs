//! Query-parameter filters shared by listing and export endpoints: a warehouse code or a
//! SKU that names nothing is a 400 naming the parameter, not an empty result.

use sqlx::PgConnection;

use crate::error::{AppError, AppResult};
use crate::ids::{ItemId, WarehouseId};

/// Resolves the `warehouse` parameter (a code) to its id.
pub async fn warehouse_param(
    conn: &mut PgConnection,
    code: Option<&str>,
) -> AppResult<Option<WarehouseId>> {
    let Some(code) = code else { return Ok(None) };
    crate::warehouses::db::by_code(conn, code)
        .await?
        .map(|w| Some(w.id))
        .ok_or_else(|| AppError::bad_request("warehouse", format!("unknown warehouse `{code}`")))
}

/// Resolves the `sku` parameter to the item's id.
pub async fn sku_param(conn: &mut PgConnection, sku: Option<&str>) -> AppResult<Option<ItemId>> {
    let Some(sku) = sku else { return Ok(None) };
    crate::catalog::db::item_by_sku(conn, sku)
        .await?
        .map(|i| Some(i.id))
        .ok_or_else(|| AppError::bad_request("sku", format!("unknown SKU `{sku}`")))
}
