//! Running an import, for the HTTP handler and the CLI alike: hash the file, replay the
//! report of the same file imported before, read and check every row, and only then
//! write, in the caller's transaction, with one audit event (`import.<kind>`) carrying
//! the file's SHA-256. The caller commits (or, for a dry run, need not).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::read::{self, Format};
use super::{
    CellError, ImportReport, Kind, db, items, levels, match_header, opening, problem, warehouses,
};
use crate::audit::{self, Change, Origin};
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::ids::{ItemId, WarehouseId};

/// Opening lots written per statement pair.
const BATCH: usize = 5_000;

/// Where an import is, for a progress bar: (stage, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// An import to run.
#[derive(Debug, Clone, Copy)]
pub struct ImportCmd<'a> {
    /// What the file holds.
    pub kind: Kind,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// Its format.
    pub format: Format,
    /// Check only; write nothing.
    pub dry_run: bool,
    /// Today in the deployment's time zone (lots received on it).
    pub today: NaiveDate,
    /// Where warehouses may be placed without `outside_service_area`.
    pub area: crate::warehouses::ServiceArea,
}

/// SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs `cmd` on `conn`, which must be in a transaction the caller commits. A file with
/// any bad cell is a 422 problem naming every cell; nothing is written.
pub async fn run(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    cmd: ImportCmd<'_>,
    progress: Progress<'_>,
) -> AppResult<ImportReport> {
    actor.require(&[Role::Admin])?;
    let sha = sha256(cmd.bytes);
    if let Some(stored) = db::stored_report(conn, cmd.kind.stored(), &sha).await? {
        return replayed(stored, cmd.dry_run);
    }
    progress("reading", 0, 0);
    let bytes = cmd.bytes.to_vec();
    let format = cmd.format;
    let sheet = tokio::task::spawn_blocking(move || read::read(&bytes, format))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(problem)?;
    if format == Format::GeoJson && cmd.kind != Kind::Warehouses {
        return Err(AppError::invalid(
            "kind",
            "GeoJSON imports warehouses only (kind=warehouses)",
        ));
    }
    // A GeoJSON file has no cells to name: its errors name the feature's row and property.
    let located = move |mut errors: Vec<CellError>| {
        if format == Format::GeoJson {
            errors.iter_mut().for_each(|e| e.cell = None);
        }
        problem(errors)
    };
    let cols = match_header(cmd.kind, &sheet.header).map_err(located)?;
    let rows = sheet.rows.len() as u64;
    progress("checking", 0, rows);
    let mut report = ImportReport {
        id: None,
        kind: cmd.kind,
        sha256: sha.clone(),
        dry_run: cmd.dry_run,
        replayed: false,
        rows,
        created: 0,
        updated: 0,
        unchanged: 0,
        total_qty: 0,
        action: None,
    };
    let plan = match cmd.kind {
        Kind::OpeningStock => {
            let lookups = opening_lookups(conn).await?;
            let lots = opening::check(&sheet, &cols, &lookups, cmd.today).map_err(problem)?;
            let on_record = db::lots_on_record(conn, &lots).await?;
            if !on_record.is_empty() {
                let errors: Vec<CellError> = on_record
                    .iter()
                    .map(|&i| {
                        cols.error(
                            cmd.kind,
                            lots[i].row,
                            "lot_code",
                            "this lot is on record already: opening stock creates new lots",
                        )
                    })
                    .collect();
                return Err(problem(errors));
            }
            report.created = lots.len() as u64;
            report.total_qty = lots
                .iter()
                .try_fold(0i64, |t, l| t.checked_add(l.qty))
                .ok_or_else(|| AppError::invalid("qty", "the quantities add up beyond 2^63"))?;
            Plan::Opening(lots)
        }
        Kind::Items => {
            let stored = item_lookups(conn).await?;
            let rows = items::check(&sheet, &cols, &stored).map_err(problem)?;
            for r in &rows {
                match r.effect {
                    items::Effect::Create => report.created += 1,
                    items::Effect::Update => report.updated += 1,
                    items::Effect::Same => report.unchanged += 1,
                }
            }
            Plan::Items(rows, stored)
        }
        Kind::ReserveLevels => {
            let whs: HashMap<String, WarehouseId> =
                db::warehouse_ids(conn).await?.into_iter().collect();
            let item_ids: HashMap<String, ItemId> = db::item_policies(conn)
                .await?
                .into_iter()
                .map(|i| (i.sku, i.id))
                .collect();
            let stored: HashMap<(WarehouseId, ItemId), i64> = db::reserve_levels(conn)
                .await?
                .into_iter()
                .map(|(w, i, q)| ((w, i), q))
                .collect();
            let rows = levels::check(&sheet, &cols, &whs, &item_ids, &stored).map_err(problem)?;
            for r in &rows {
                if r.same {
                    report.unchanged += 1;
                } else if stored.contains_key(&(r.warehouse, r.item)) {
                    report.updated += 1;
                } else {
                    report.created += 1;
                }
            }
            Plan::Levels(rows)
        }
        Kind::Warehouses => {
            let stored: HashMap<String, crate::warehouses::Warehouse> =
                crate::warehouses::db::all(conn)
                    .await?
                    .into_iter()
                    .map(|w| (w.code.clone(), w))
                    .collect();
            let rows = warehouses::check(&sheet, &cols, &stored, &cmd.area).map_err(located)?;
            for r in &rows {
                match r.effect {
                    items::Effect::Create => report.created += 1,
                    items::Effect::Update => report.updated += 1,
                    items::Effect::Same => report.unchanged += 1,
                }
            }
            Plan::Warehouses(rows, stored)
        }
    };
    progress("checking", rows, rows);
    if cmd.dry_run {
        return Ok(report);
    }
    let id = uuid::Uuid::now_v7();
    if !db::claim_file(conn, id, cmd.kind.stored(), &sha, actor.id).await? {
        // The same file, imported concurrently and committed meanwhile.
        let stored = db::stored_report(conn, cmd.kind.stored(), &sha)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the claimed import vanished"))?;
        return replayed(stored, false);
    }
    write(conn, actor, origin, cmd, id, plan, progress).await?;
    let action = format!("import.{}", cmd.kind.stored());
    report.id = Some(id);
    report.action = Some(action.clone());
    let value = serde_json::to_value(&report).map_err(anyhow::Error::from)?;
    db::set_report(conn, id, rows as i32, &value).await?;
    let action: &'static str = match cmd.kind {
        Kind::OpeningStock => "import.opening_stock",
        Kind::Items => "import.items",
        Kind::ReserveLevels => "import.reserve_levels",
        Kind::Warehouses => "import.warehouses",
    };
    audit::db::record(
        conn,
        actor,
        origin,
        Change {
            action,
            entity_kind: "import",
            entity_id: id.to_string(),
            before: None,
            after: Some(json!({
                "kind": cmd.kind.as_str(),
                "sha256": sha,
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "total_qty": report.total_qty,
            })),
        },
    )
    .await?;
    Ok(report)
}

fn replayed(stored: serde_json::Value, dry_run: bool) -> AppResult<ImportReport> {
    let mut report: ImportReport = serde_json::from_value(stored).map_err(anyhow::Error::from)?;
    report.replayed = true;
    report.dry_run = dry_run;
    Ok(report)
}

/// What a checked file writes.
enum Plan {
    Opening(Vec<opening::OpeningLot>),
    Items(Vec<items::ItemRow>, items::Stored),
    Levels(Vec<levels::LevelRow>),
    Warehouses(
        Vec<warehouses::WarehouseRow>,
        HashMap<String, crate::warehouses::Warehouse>,
    ),
}

async fn opening_lookups(conn: &mut PgConnection) -> AppResult<opening::Lookups> {
    let mut lookups = opening::Lookups {
        warehouses: db::warehouse_ids(conn).await?.into_iter().collect(),
        ..Default::default()
    };
    for item in db::item_policies(conn).await? {
        for g in &item.gtins {
            lookups.sku_by_gtin.insert(g.clone(), item.sku.clone());
        }
        lookups.items.insert(item.sku.clone(), item);
    }
    Ok(lookups)
}

async fn item_lookups(conn: &mut PgConnection) -> AppResult<items::Stored> {
    let all = crate::catalog::db::list_items(conn, None, None, i64::MAX).await?;
    Ok(items::Stored {
        items: all.into_iter().map(|i| (i.sku.clone(), i)).collect(),
        categories: crate::catalog::db::list_categories(conn)
            .await?
            .into_iter()
            .map(|c| c.code)
            .collect::<HashSet<_>>(),
        gtin_owner: db::gtin_owners(conn).await?.into_iter().collect(),
    })
}

async fn write(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    cmd: ImportCmd<'_>,
    id: uuid::Uuid,
    plan: Plan,
    progress: Progress<'_>,
) -> AppResult<()> {
    match plan {
        Plan::Opening(lots) => {
            let total = lots.len() as u64;
            let mut done = 0;
            for batch in lots.chunks(BATCH) {
                let request_id = origin.request_id.as_deref();
                db::insert_opening(conn, batch, cmd.today, id, actor.id, request_id).await?;
                done += batch.len() as u64;
                progress("writing", done, total);
            }
        }
        Plan::Items(rows, stored) => {
            let total = rows.len() as u64;
            let updated: Vec<uuid::Uuid> = rows
                .iter()
                .filter(|r| r.effect == items::Effect::Update)
                .map(|r| stored.items[&r.draft.sku].id.0)
                .collect();
            crate::catalog::db::lock_items(conn, &updated).await?;
            for (n, r) in rows.iter().enumerate() {
                let item_id = match r.effect {
                    items::Effect::Same => continue,
                    items::Effect::Create => {
                        crate::catalog::db::insert_item(conn, &r.draft).await?
                    }
                    items::Effect::Update => {
                        let id = stored.items[&r.draft.sku].id;
                        crate::catalog::db::update_item(conn, id, &r.draft).await?;
                        id
                    }
                };
                crate::catalog::db::set_item_status(conn, item_id, r.status).await?;
                progress("writing", n as u64 + 1, total);
            }
        }
        Plan::Warehouses(rows, stored) => {
            use crate::warehouses::db as wdb;
            let changed: Vec<_> = rows
                .iter()
                .filter(|r| r.effect != items::Effect::Same)
                .collect();
            // New warehouses first, without parents; then every parent that changes is
            // cleared, then set: each step keeps the network acyclic when the end state is.
            for r in &changed {
                if r.effect == items::Effect::Create {
                    let mut d = r.draft.clone();
                    d.parent = None;
                    wdb::insert(conn, WarehouseId::new(), &d).await?;
                }
            }
            for r in &changed {
                let was = stored.get(&r.draft.code).and_then(|w| w.parent.clone());
                if was.is_some() && was != r.draft.parent {
                    wdb::set_parent(conn, &r.draft.code, None).await?;
                }
            }
            let total = changed.len() as u64;
            for (n, r) in changed.iter().enumerate() {
                let id = wdb::id_by_code(conn, &r.draft.code)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("warehouse {} vanished", r.draft.code))?;
                wdb::update(conn, id, &r.draft).await?;
                progress("writing", n as u64 + 1, total);
            }
        }
        Plan::Levels(rows) => {
            let mut by_wh: HashMap<WarehouseId, (Vec<ItemId>, Vec<i64>)> = HashMap::new();
            for r in rows.iter().filter(|r| !r.same) {
                let e = by_wh.entry(r.warehouse).or_default();
                e.0.push(r.item);
                e.1.push(r.min_qty);
            }
            let mut whs: Vec<_> = by_wh.into_iter().collect();
            whs.sort_by_key(|(w, _)| *w);
            for (wh, (items, qtys)) in whs {
                crate::stock::db::set_reserve_levels(conn, wh, &items, &qtys).await?;
            }
        }
    }
    Ok(())
}
