//! Typed ids: one newtype per entity, so that one type flows from JSON to SQL and a lot
//! id can never be passed where a warehouse id is meant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[sqlx(transparent)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        // No `Default`: a fresh id is made on purpose with `new()`, never by
        // `or_default()` or `..Default::default()`, where it would read like a bug.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// A fresh, time-ordered id (UUIDv7), so that ids sort by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A catalogue item.
    ItemId,
    /// A warehouse.
    WarehouseId,
    /// A stock lot.
    LotId,
    /// A user account.
    UserId,
    /// An inter-warehouse transfer.
    TransferId,
    /// A cycle count.
    CountId,
    /// An incident.
    IncidentId,
    /// An operation: the incidents of one emergency.
    OperationId,
    /// An allocation request.
    RequestId,
    /// A committed rationing round of an operation.
    RoundId,
    /// A shipment from one warehouse for one request.
    ShipmentId,
    /// A road closure.
    ClosureId,
);

/// The built-in `system` user that seeds data and runs housekeeping.
pub const SYSTEM_USER: UserId = UserId(Uuid::from_u128(1));
