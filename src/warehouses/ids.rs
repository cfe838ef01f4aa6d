//! The code → id mapping of warehouses, kept in memory by each service process, so that
//! a write naming its warehouse by code (`/warehouses/{code}/issues`, receipts, counts,
//! transfers) does not pay a database round trip inside its transaction to look it up.
//!
//! The mapping never goes stale because the database does not let it change: a
//! warehouse's id and code are permanent and warehouses are never deleted (migration
//! `warehouse_identity_fixed`; an inactive warehouse keeps its code). So an entry, once
//! read, is true for the life of the process, and there is nothing to invalidate. Codes
//! that name no warehouse are not remembered: a warehouse created later is found on its
//! first use. The map holds one entry per warehouse that has been written to.

use std::collections::HashMap;
use std::sync::RwLock;

use sqlx::{PgConnection, PgPool};

use crate::error::{AppError, AppResult};
use crate::ids::WarehouseId;

/// A warehouse named in a request: what a write needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseRef {
    /// Warehouse id.
    pub id: WarehouseId,
    /// Its code, as stored.
    pub code: String,
}

/// The per-process map of warehouse codes to ids.
#[derive(Debug, Default)]
pub struct WarehouseIds {
    by_code: RwLock<HashMap<String, WarehouseId>>,
}

impl WarehouseIds {
    /// The warehouse with this code, if there is one; read from the database only the
    /// first time the code is seen.
    pub async fn find(
        &self,
        conn: &mut PgConnection,
        code: &str,
    ) -> Result<Option<WarehouseRef>, sqlx::Error> {
        let id = match self.known(code) {
            Some(id) => id,
            None => match super::db::id_by_code(conn, code).await? {
                Some(id) => {
                    self.by_code
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(code.to_owned(), id);
                    id
                }
                None => return Ok(None),
            },
        };
        Ok(Some(WarehouseRef {
            id,
            code: code.to_owned(),
        }))
    }

    /// The warehouse named by a request path's `code`: a 404 when there is none.
    pub async fn in_path(&self, conn: &mut PgConnection, code: &str) -> AppResult<WarehouseRef> {
        self.find(conn, code)
            .await?
            .ok_or_else(|| AppError::not_found(format!("no warehouse with code {code}")))
    }

    /// Like [`Self::in_path`], but takes a connection from `pool` only when the code has
    /// not been seen yet: for checks made before a handler holds a connection.
    pub async fn in_path_of(&self, pool: &PgPool, code: &str) -> AppResult<WarehouseRef> {
        if let Some(id) = self.known(code) {
            return Ok(WarehouseRef {
                id,
                code: code.to_owned(),
            });
        }
        let mut conn = pool.acquire().await?;
        self.in_path(&mut conn, code).await
    }

    /// The id of `code`, if it has been read before.
    fn known(&self, code: &str) -> Option<WarehouseId> {
        self.by_code
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(code)
            .copied()
    }
}
