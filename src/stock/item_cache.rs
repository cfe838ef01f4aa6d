//! A per-process cache of what receipts, reserve levels and allocation requests need of
//! catalogue items (id, SKU, GTIN, shelf-life policy), so that a receipt does not look
//! its items up inside its transaction every time, nor an allocation request before its
//! plan.
//!
//! Items can change (by SQL today, by an admin screen one day), and receipts and plans must
//! judge shelf life by the policy in force. A statement trigger on `items` sends `NOTIFY
//! stockpile_catalog` on every insert, update, delete or truncate (migration
//! `catalog_notify`); each process listens ([`crate::db::changes`]) and drops the whole
//! cache on every notification. The cache is only used while the listener is
//! subscribed, and a lookup that raced a notification is not stored (the generation
//! check in [`ItemPolicies::named`]), as for the session cache. Names that match no item
//! are never cached: an item added later is found on its first use.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use sqlx::PgConnection;

use super::db::{self, ItemPolicy};

/// The channel the `catalog_notify` trigger sends on.
pub const CHANNEL: &str = "stockpile_catalog";
/// Items kept before the cache starts over (a bound on memory, not a tuning knob).
const CAPACITY: usize = 50_000;

/// Item policies by SKU and GTIN; see the module docs.
#[derive(Debug, Default)]
pub struct ItemPolicies {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    listening: bool,
    generation: u64,
    by_sku: HashMap<String, ItemPolicy>,
    sku_by_gtin: HashMap<String, String>,
}

impl ItemPolicies {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every method completes its change before it can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The items named by any of `skus` or `gtins`, each once; from memory when every
    /// name is known, else in one database round trip.
    pub async fn named(
        &self,
        conn: &mut PgConnection,
        skus: &[String],
        gtins: &[String],
    ) -> Result<Vec<ItemPolicy>, sqlx::Error> {
        if let Some(items) = self.lookup(skus, gtins) {
            return Ok(items);
        }
        let generation = self.state().generation;
        let items = db::items_by_sku_or_gtin(conn, skus, gtins).await?;
        self.store(generation, &items);
        Ok(items)
    }

    /// Every named item, or `None` when one of the names is not cached (or the cache is
    /// off).
    fn lookup(&self, skus: &[String], gtins: &[String]) -> Option<Vec<ItemPolicy>> {
        let state = self.state();
        if !state.listening {
            return None;
        }
        let mut found: Vec<ItemPolicy> = Vec::with_capacity(skus.len() + gtins.len());
        let from_gtins = gtins
            .iter()
            .map(|g| state.sku_by_gtin.get(g).map(String::as_str));
        for sku in skus.iter().map(|s| Some(s.as_str())).chain(from_gtins) {
            let item = state.by_sku.get(sku?)?;
            if !found.iter().any(|f| f.id == item.id) {
                found.push(item.clone());
            }
        }
        Some(found)
    }

    /// Caches what a lookup that started at `generation` found, unless anything was
    /// invalidated since (the lookup may have read the items before the change).
    fn store(&self, generation: u64, items: &[ItemPolicy]) {
        let mut state = self.state();
        if !state.listening || state.generation != generation {
            return;
        }
        if state.by_sku.len() + items.len() > CAPACITY {
            state.by_sku.clear();
            state.sku_by_gtin.clear();
        }
        for item in items {
            for gtin in &item.gtins {
                state.sku_by_gtin.insert(gtin.clone(), item.sku.clone());
            }
            state.by_sku.insert(item.sku.clone(), item.clone());
        }
    }
}

impl crate::db::changes::Invalidate for ItemPolicies {
    fn invalidate(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.by_sku.clear();
        state.sku_by_gtin.clear();
    }

    fn set_listening(&self, listening: bool) {
        self.invalidate();
        self.state().listening = listening;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::changes::Invalidate;
    use crate::ids::ItemId;

    fn item(sku: &str, gtin: Option<&str>, min_remaining_days: i32) -> ItemPolicy {
        ItemPolicy {
            id: ItemId::new(),
            sku: sku.to_owned(),
            gtins: gtin.map(str::to_owned).into_iter().collect(),
            shelf_life_days: Some(730),
            min_remaining_days,
            retired: false,
        }
    }

    fn listening() -> ItemPolicies {
        let cache = ItemPolicies::default();
        cache.set_listening(true);
        cache
    }

    /// Stores as a lookup that nothing raced would.
    fn store_now(cache: &ItemPolicies, items: &[ItemPolicy]) {
        let generation = cache.state().generation;
        cache.store(generation, items);
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn stored_items_are_found_by_sku_and_gtin_each_once() {
        let cache = listening();
        let tent = item("TENT", Some("06901234567892"), 180);
        let water = item("WATER", None, 30);
        store_now(&cache, &[tent.clone(), water.clone()]);
        let found = cache
            .lookup(&names(&["TENT", "WATER"]), &names(&["06901234567892"]))
            .expect("all cached");
        assert_eq!(found, vec![tent, water]);
    }

    #[test]
    fn one_unknown_name_sends_the_whole_lookup_to_the_database() {
        let cache = listening();
        store_now(&cache, &[item("TENT", Some("06901234567892"), 180)]);
        assert!(cache.lookup(&names(&["TENT"]), &[]).is_some());
        assert_eq!(cache.lookup(&names(&["TENT", "NEW"]), &[]), None);
        assert_eq!(cache.lookup(&[], &names(&["00000000000000"])), None);
    }

    #[test]
    fn nothing_is_cached_or_served_while_not_listening() {
        let cache = ItemPolicies::default();
        store_now(&cache, &[item("TENT", None, 180)]);
        cache.set_listening(true);
        assert_eq!(cache.lookup(&names(&["TENT"]), &[]), None);
        store_now(&cache, &[item("TENT", None, 180)]);
        assert!(cache.lookup(&names(&["TENT"]), &[]).is_some());
        cache.set_listening(false);
        assert_eq!(cache.lookup(&names(&["TENT"]), &[]), None);
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_stored_and_a_change_empties_the_cache() {
        let cache = listening();
        let before = cache.state().generation;
        cache.invalidate(); // an item changed while the lookup was reading
        cache.store(before, &[item("TENT", None, 180)]);
        assert_eq!(cache.lookup(&names(&["TENT"]), &[]), None);
        store_now(&cache, &[item("TENT", None, 180)]);
        assert!(cache.lookup(&names(&["TENT"]), &[]).is_some());
        cache.invalidate();
        assert_eq!(cache.lookup(&names(&["TENT"]), &[]), None);
    }
}
