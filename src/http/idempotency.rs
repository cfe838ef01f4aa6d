//! `Idempotency-Key` handling. The key row is written in the same transaction as the
//! effect: a failed request leaves no key behind, and a concurrent retry blocks on the
//! primary key until the first commits, then replays its stored response. Keys are per
//! user: every function takes the user's id and the key the request sent (`None`: no
//! key, nothing to do).
//!
//! This module writes `idempotency_keys`, with one exception under the same rules: the
//! one-statement stock commands (`stock::db::KeyClaim`) claim a fresh key, write their
//! effect and store their answer in a single statement, so that a keyed issue or receipt
//! needs no transaction. When that statement writes nothing, the command comes here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};

use super::Json;
use crate::error::{AppError, AppResult};
use crate::ids::UserId;

/// Claims the key for this request. Returns the stored response when the same request
/// was already done, a 422 when the key was used for a different request, and `None`
/// when the caller should go ahead (or sent no key).
pub async fn begin(
    conn: &mut PgConnection,
    user: UserId,
    key: Option<&str>,
    fingerprint: &str,
) -> AppResult<Option<Response>> {
    let Some(key) = key else {
        return Ok(None);
    };
    // One statement: a new key is claimed; a key older than 24 hours is claimed again
    // (its old answer is forgotten); a live key is left alone and only locked, so its
    // answer is read below.
    let claimed = sqlx::query_scalar!(
        "insert into idempotency_keys (user_id, key, request_hash) values ($1, $2, $3)
         on conflict (user_id, key) do update
            set request_hash = excluded.request_hash, created_at = now(),
                response_status = 0, response_body = null
          where idempotency_keys.created_at < now() - interval '24 hours'
         returning 1 as one",
        user as UserId,
        key,
        fingerprint
    )
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_some() {
        return Ok(None);
    }
    let stored = sqlx::query!(
        "select request_hash, response_status, response_body from idempotency_keys where user_id = $1 and key = $2",
        user as UserId,
        key
    )
    .fetch_one(&mut *conn)
    .await?;
    if stored.request_hash != fingerprint {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "this Idempotency-Key was already used for a different request; use a new key",
        ));
    }
    let status = StatusCode::from_u16(stored.response_status as u16).unwrap_or(StatusCode::OK);
    let mut res = (status, Json(stored.response_body.unwrap_or(Value::Null))).into_response();
    res.headers_mut().insert(
        "idempotent-replay",
        axum::http::HeaderValue::from_static("true"),
    );
    Ok(Some(res))
}

/// Stores the response of the request that claimed the key.
pub async fn finish<B: Serialize + Sync>(
    conn: &mut PgConnection,
    user: UserId,
    key: Option<&str>,
    status: StatusCode,
    body: &B,
) -> AppResult<()> {
    if let Some(key) = key {
        sqlx::query!(
            "update idempotency_keys set response_status = $3, response_body = $4 where user_id = $1 and key = $2",
            user as UserId,
            key,
            status.as_u16() as i16,
            sqlx::types::Json(body) as _
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Ends a command, in the order every mutating handler must keep: records `event` (an
/// audit event as `audit::Event::pending_json` makes it) and stores the answer for
/// retries with the same key, in one statement, commits, and answers `status` with
/// `body`. All in the command's transaction, so a retry can never see an effect without
/// its answer, or an answer without its audit event. `body` is serialised straight into
/// the response (and into the key's row when there is one), with no `serde_json::Value`
/// in between. Domains call it through `audit::http::finish_command`.
pub async fn finish_command<B: Serialize + Sync>(
    mut tx: Transaction<'_, Postgres>,
    user: UserId,
    key: Option<&str>,
    event: Value,
    status: StatusCode,
    body: B,
) -> AppResult<Response> {
    record_and_answer(&mut tx, user, key, event, status, &body).await?;
    tx.commit().await?;
    Ok((status, Json(body)).into_response())
}

/// The last write of a command, in one statement, inside the caller's transaction:
/// records `event` (as `audit::Event::pending_json` makes it) and, when the request
/// sent a key, stores `status` and `body` as its answer.
pub async fn record_and_answer<B: Serialize + Sync>(
    conn: &mut PgConnection,
    user: UserId,
    key: Option<&str>,
    event: Value,
    status: StatusCode,
    body: &B,
) -> AppResult<()> {
    let answer = key.map(|_| sqlx::types::Json(body));
    sqlx::query!(
        "with event as (
             insert into audit_pending (event) values ($1))
         update idempotency_keys set response_status = $2, response_body = $3
          where $3::jsonb is not null and user_id = $4 and key = $5",
        event,
        status.as_u16() as i16,
        // A jsonb parameter serialised straight from the handler's response type.
        answer as _,
        user as UserId,
        key,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends a command whose own statement already wrote its audit event (such as
/// `allocation::db::insert_request_if_available`): stores the answer for retries with the
/// same key, commits, and answers `status` with `body`.
pub async fn finish_recorded<B: Serialize + Sync>(
    mut tx: Transaction<'_, Postgres>,
    user: UserId,
    key: Option<&str>,
    status: StatusCode,
    body: B,
) -> AppResult<Response> {
    finish(&mut tx, user, key, status, &body).await?;
    tx.commit().await?;
    Ok((status, Json(body)).into_response())
}
