//! Running an export, shared by the HTTP handlers and the CLI: audit it, open one
//! repeatable-read snapshot, then produce rows on one task and encode them on another,
//! joined by a bounded channel so that memory stays flat.
//!
//! CSV and JSONL bytes are streamed as they are encoded. xlsx is written (rust_xlsxwriter,
//! constant-memory mode) to an already-unlinked temporary file, which is then streamed:
//! nothing is left on disk even if the process dies or the client disconnects.

use std::io::{Seek, SeekFrom};

use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::db::{self, MovementFilter};
use super::{CsvOptions, Dataset, Format, Manifest, TextEncoder, Val, manifest_pairs};
use crate::audit::Origin;
use crate::audit::db::EventQuery;
use crate::auth::Actor;
use crate::error::AppError;

/// Bytes per streamed chunk.
const CHUNK: usize = 64 * 1024;
/// Rows buffered between the producer and the encoder.
const ROW_BUFFER: usize = 1024;
/// Rows of one xlsx sheet (the format's limit).
const XLSX_MAX_ROWS: u32 = 1_048_576;

/// What to export.
#[derive(Debug, Clone)]
pub enum Source {
    /// Ledger rows.
    Movements(MovementFilter),
    /// Audit events.
    AuditEvents(EventQuery),
    /// Lot balances at an instant.
    StockAsOf(DateTime<Utc>),
    /// Allocation requests, of one incident or all.
    Requests(Option<uuid::Uuid>),
    /// The catalogue (import format).
    Items,
    /// Reserve levels (import format).
    ReserveLevels,
    /// Warehouses (import format).
    Warehouses,
}

impl Source {
    /// The dataset this source produces.
    pub fn dataset(&self) -> Dataset {
        match self {
            Source::Movements(_) => Dataset::Movements,
            Source::AuditEvents(_) => Dataset::AuditEvents,
            Source::StockAsOf(_) => Dataset::StockAsOf,
            Source::Requests(_) => Dataset::Requests,
            Source::Items => Dataset::Items,
            Source::ReserveLevels => Dataset::ReserveLevels,
            Source::Warehouses => Dataset::Warehouses,
        }
    }
}

/// A validated export request.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// What to export.
    pub source: Source,
    /// The format.
    pub format: Format,
    /// CSV options (`hxl` also applies to xlsx).
    pub csv: CsvOptions,
    /// The filters as the caller gave them, recorded in the export's audit event.
    pub filters: Value,
}

/// A started export: the manifest facts known before the first row (for headers) and
/// the body.
pub struct Export {
    /// The manifest, with `rows` still 0 for streamed formats.
    pub manifest: Manifest,
    /// The file's bytes. An `Err` item means the export failed midway: the body must be
    /// cut off (no manifest follows), never completed.
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    /// A file name for `Content-Disposition`.
    pub file_name: String,
}

/// Waits (up to 10 s) until `replica` has replayed everything `primary` has written so
/// far; a 503 if it does not.
async fn caught_up(primary: &PgPool, replica: &PgPool) -> Result<(), AppError> {
    let written: String = sqlx::query_scalar("select pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await?;
    for _ in 0..100 {
        let replayed: Option<bool> =
            sqlx::query_scalar("select pg_last_wal_replay_lsn() >= $1::pg_lsn")
                .bind(&written)
                .fetch_one(replica)
                .await?;
        // `None`: not a standby (a promoted or plain server has everything it has).
        if replayed.is_none_or(|r| r) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(AppError::Unavailable {
        detail: "the read replica lags more than 10 s behind; retry the export shortly".into(),
        retry_after_secs: 10,
    })
}

/// Records the export in the audit chain, then starts it. Fails before producing any
/// byte if the export cannot start (for xlsx: if the workbook cannot be written).
pub async fn start(
    pool: &PgPool,
    replica: Option<&PgPool>,
    actor: &Actor,
    origin: &Origin,
    req: ExportRequest,
) -> Result<Export, AppError> {
    let dataset = req.source.dataset();
    // The export's own event, committed before any row is read, so the manifest can
    // name it and an interrupted export is still on record.
    let export_id = uuid::Uuid::now_v7();
    let mut tx = pool.begin().await?;
    crate::audit::db::record(
        &mut tx,
        actor,
        origin,
        crate::audit::Change {
            action: dataset.action(),
            entity_kind: "export",
            entity_id: export_id.to_string(),
            before: None,
            after: Some(serde_json::json!({
                "export": dataset.name(),
                "format": req.format.as_str(),
                "filters": req.filters,
                "bom": req.csv.bom,
                "hxl": req.csv.hxl,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    // The manifest names the export's own event by its place in the chain: chain it
    // now (beside a running chainer, this queues on the chain's head like it).
    crate::audit::chain::drain(pool).await?;

    // With a replica (`--read-database-url`), the rows are read there, once it has
    // replayed the export's own event: the manifest then names that event and a chain
    // head at least as new.
    let reads = match replica {
        Some(replica) => {
            caught_up(pool, replica).await?;
            replica
        }
        None => pool,
    };
    let mut snap = reads.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *snap)
        .await?;
    let head = sqlx::query!(r#"select seq, hash, now() as "now!" from audit_chain_head where id"#)
        .fetch_one(&mut *snap)
        .await?;
    let export_event_seq =
        crate::audit::db::committed_seq(&mut snap, "export", &export_id.to_string()).await?;
    let (seq_from, seq_to, last_hash) = match &req.source {
        Source::AuditEvents(q) => {
            let mut q = q.clone();
            q.max_seq = Some(head.seq);
            crate::audit::db::event_range(&mut snap, &q)
                .await?
                .unwrap_or((0, 0, crate::audit::genesis_hash()))
        }
        _ => (head.seq.min(1), head.seq, head.hash.clone()),
    };
    let mut manifest = Manifest {
        export: dataset.name().to_owned(),
        format: req.format.as_str().to_owned(),
        rows: 0,
        audit_seq_from: seq_from,
        audit_seq_to: seq_to,
        audit_last_hash: last_hash,
        export_event_seq,
        generated_at: head.now.to_rfc3339_opts(SecondsFormat::Micros, true),
    };

    let (row_tx, row_rx) = mpsc::channel::<Vec<Val>>(ROW_BUFFER);
    let (done_tx, done_rx) = oneshot::channel::<Result<(), String>>();
    let mut source = req.source.clone();
    if let Source::AuditEvents(q) = &mut source {
        q.max_seq = Some(seq_to);
    }
    tokio::spawn(async move {
        let result = match &source {
            Source::Movements(f) => db::movements(&mut snap, f, &row_tx).await,
            Source::AuditEvents(q) => db::audit_events(&mut snap, q, &row_tx).await,
            Source::StockAsOf(at) => db::stock_as_of(&mut snap, *at, &row_tx).await,
            Source::Requests(incident) => db::requests(&mut snap, *incident, &row_tx).await,
            Source::Items => db::items(&mut snap, &row_tx).await,
            Source::ReserveLevels => db::reserve_levels(&mut snap, &row_tx).await,
            Source::Warehouses => db::warehouses(&mut snap, &row_tx).await,
        };
        if let Err(err) = &result {
            tracing::error!(error = %err, export = dataset.name(), "export failed midway");
        }
        let _ = snap.rollback().await;
        let _ = done_tx.send(result.map_err(|e| e.to_string()));
        drop(row_tx);
    });

    let file_name = format!(
        "{}-{}.{}",
        dataset.name(),
        head.now.format("%Y%m%dT%H%M%SZ"),
        req.format.as_str()
    );
    let body = match req.format {
        Format::Csv | Format::Jsonl => text_body(
            TextEncoder {
                format: req.format,
                csv: req.csv,
                columns: dataset.columns(),
            },
            row_rx,
            done_rx,
            manifest.clone(),
        ),
        Format::Xlsx => {
            let m = manifest.clone();
            let hxl = req.csv.hxl;
            let (file, rows) =
                tokio::task::spawn_blocking(move || write_xlsx(dataset, hxl, row_rx, done_rx, m))
                    .await
                    .map_err(|e| AppError::Internal(e.into()))??;
            manifest.rows = rows;
            file_body(file)
        }
    };
    Ok(Export {
        manifest,
        body,
        file_name,
    })
}

struct TextState {
    enc: TextEncoder,
    rx: mpsc::Receiver<Vec<Val>>,
    done: Option<oneshot::Receiver<Result<(), String>>>,
    manifest: Manifest,
    started: bool,
}

fn text_body(
    enc: TextEncoder,
    rx: mpsc::Receiver<Vec<Val>>,
    done: oneshot::Receiver<Result<(), String>>,
    manifest: Manifest,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let state = TextState {
        enc,
        rx,
        done: Some(done),
        manifest,
        started: false,
    };
    stream::unfold(state, |mut s| async move {
        let done = s.done.take()?;
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if !s.started {
            s.enc.start(&mut buf);
            s.started = true;
        }
        loop {
            match s.rx.recv().await {
                Some(row) => {
                    s.enc.row(&row, &mut buf);
                    s.manifest.rows += 1;
                    if buf.len() >= CHUNK {
                        s.done = Some(done);
                        return Some((Ok(Bytes::from(buf)), s));
                    }
                }
                None => {
                    return match done.await {
                        Ok(Ok(())) => {
                            s.enc.finish(&s.manifest, &mut buf);
                            Some((Ok(Bytes::from(buf)), s))
                        }
                        _ => Some((Err(std::io::Error::other("the export failed midway")), s)),
                    };
                }
            }
        }
    })
    .boxed()
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("writing the workbook: {e}"))
}

fn write_cell(
    ws: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    v: &Val,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    match v {
        Val::Null => {}
        // Quantities, ids and seqs stay below 2^53, so they are exact as numbers.
        Val::Int(n) => {
            ws.write_number(row, col, *n as f64)?;
        }
        Val::Text(s) => {
            ws.write_string(row, col, super::neutralise(s))?;
        }
        Val::Json(j) => {
            ws.write_string(row, col, j.to_string())?;
        }
    }
    Ok(())
}

/// Writes the rows into a workbook (data sheets in constant-memory mode, then the
/// manifest sheet) inside an unlinked temporary file, returned rewound with the row count.
fn write_xlsx(
    dataset: Dataset,
    hxl: bool,
    mut rx: mpsc::Receiver<Vec<Val>>,
    done: oneshot::Receiver<Result<(), String>>,
    mut manifest: Manifest,
) -> Result<(std::fs::File, u64), AppError> {
    use rust_xlsxwriter::Workbook;

    let columns = dataset.columns();
    let mut wb = Workbook::new();
    let mut rows: u64 = 0;
    let mut sheet_no = 1;
    let mut more = true;
    while more {
        let ws = wb.add_worksheet_with_constant_memory().map_err(xlsx_err)?;
        let name = if sheet_no == 1 {
            dataset.name().to_owned()
        } else {
            format!("{} ({sheet_no})", dataset.name())
        };
        ws.set_name(name).map_err(xlsx_err)?;
        for (c, col) in columns.iter().enumerate() {
            ws.write_string(0, c as u16, col.name).map_err(xlsx_err)?;
            if hxl {
                ws.write_string(1, c as u16, col.hxl).map_err(xlsx_err)?;
            }
        }
        let mut r: u32 = if hxl { 2 } else { 1 };
        more = false;
        while let Some(row) = rx.blocking_recv() {
            for (c, v) in row.iter().enumerate() {
                write_cell(ws, r, c as u16, v).map_err(xlsx_err)?;
            }
            rows += 1;
            r += 1;
            if r == XLSX_MAX_ROWS {
                more = true;
                sheet_no += 1;
                break;
            }
        }
    }
    match done.blocking_recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(AppError::Internal(anyhow::anyhow!("export failed: {e}"))),
        Err(_) => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "export task ended early"
            )));
        }
    }
    manifest.rows = rows;
    let ws = wb.add_worksheet();
    ws.set_name("manifest").map_err(xlsx_err)?;
    for (r, (k, v)) in manifest_pairs(&manifest).iter().enumerate() {
        ws.write_string(r as u32, 0, *k).map_err(xlsx_err)?;
        write_cell(ws, r as u32, 1, v).map_err(xlsx_err)?;
    }
    let path = std::env::temp_dir().join(format!("stockpile-export-{}.xlsx", uuid::Uuid::now_v7()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| AppError::Internal(e.into()))?;
    // Unlinked at once: the open handle keeps the data until the response is sent.
    let _ = std::fs::remove_file(&path);
    wb.save_to_writer(&mut file).map_err(xlsx_err)?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok((file, rows))
}

fn file_body(file: std::fs::File) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::from_std(file);
    stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}
