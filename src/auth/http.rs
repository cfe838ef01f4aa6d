//! Sign-in, sign-out and user management (admins only) over HTTP. Who is calling, and
//! whether their role may call an operation, is decided in `auth::guard`.
//!
//! Never log or audit a password or a token: request types redact them in `Debug`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Actor, NewUser, Role, User, UserPatch, cases, db, hash_token};
use crate::app::AppState;
use crate::audit::{self, Change, Origin};
use crate::db::changes::Invalidate;
use crate::error::{AppError, AppResult, Problem};
use crate::http::{Command, Json, Path, idempotency};

/// Authentication and user-management routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(get_me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
}

/// `POST /api/v1/auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token: send it as `Authorization: Bearer <token>`. Shown only here.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub user: User,
}

/// Sign in: trade a username and password for a bearer token.
///
/// An unknown user, a disabled one and a wrong password get the same answer in about the
/// same time. After 5 failed attempts for a username within 15 minutes, further attempts
/// get 429 with `Retry-After`, even with the right password. `Idempotency-Key` is
/// ignored here: replaying a sign-in would mean storing its token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 401, body = Problem, description = "Wrong username or password"),
              (status = 429, body = Problem, description = "Locked out; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    origin: Origin,
    Json(req): Json<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    let ttl = chrono::Duration::hours(i64::from(state.settings.token_ttl_hours));
    let mut conn = state.pool.acquire().await?;
    let session = cases::login(&mut conn, &origin, &req.username, req.password, ttl).await?;
    Ok(Json(LoginResponse {
        token: session.token,
        expires_at: session.expires_at,
        user: session.user,
    }))
}

/// Sign out: revoke the token of this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "The token is revoked"),
              (status = 400, body = Problem, description = "A malformed `Idempotency-Key` header"),
              (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    let token_hash = hash_token(super::guard::bearer_token(&headers)?);
    let mut tx = state.pool.begin().await?;
    db::revoke_session(&mut tx, &token_hash).await?;
    audit::db::record(
        &mut tx,
        &actor,
        &origin,
        Change {
            action: "auth.logout",
            entity_kind: "user",
            entity_id: actor.username.clone(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    state.sessions.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn get_me(State(state): State<AppState>, actor: Actor) -> AppResult<Json<User>> {
    let mut conn = state.pool.acquire().await?;
    db::user(&mut conn, &actor.username)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found("the signed-in user no longer exists"))
}

/// `POST /api/v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login name: 2–64 of `a-z 0-9 . _ -`.
    pub username: String,
    /// Display name (default: the username).
    pub display_name: Option<String>,
    /// `admin`, `clerk`, `dispatcher` or `auditor`.
    pub role: String,
    /// Warehouse codes a clerk works in (clerks only).
    #[serde(default)]
    pub warehouses: Vec<String>,
    /// Whether the user may sign in (default true).
    pub active: Option<bool>,
    /// The initial password (8–256 characters).
    pub password: String,
}

impl std::fmt::Debug for CreateUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserRequest")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("warehouses", &self.warehouses)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// `PATCH /api/v1/users/{username}`: each field present replaces the current value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name.
    pub display_name: Option<String>,
    /// New role. A clerk who becomes another role must also send `warehouses: []`.
    pub role: Option<String>,
    /// New warehouse codes (clerks only); replaces the assignment.
    pub warehouses: Option<Vec<String>>,
    /// `false` disables the user and revokes every token at once.
    pub active: Option<bool>,
    /// New password; revokes the user's tokens.
    pub password: Option<String>,
}

impl std::fmt::Debug for UpdateUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateUserRequest")
            .field("role", &self.role)
            .field("warehouses", &self.warehouses)
            .field("active", &self.active)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Every user except the built-in `system`, by username.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<User>), (status = 403, body = Problem)))]
pub async fn list_users(State(state): State<AppState>, actor: Actor) -> AppResult<Json<Vec<User>>> {
    actor.require(&[Role::Admin])?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(db::users(&mut conn, None).await?))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "users",
    params(("username" = String, Path, description = "Login name")),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(username): Path<String>,
) -> AppResult<Json<User>> {
    actor.require(&[Role::Admin])?;
    let mut conn = state.pool.acquire().await?;
    db::user(&mut conn, &username)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no user `{username}`")))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 201, body = User), (status = 403, body = Problem),
              (status = 409, body = Problem, description = "The username is taken"),
              (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<CreateUserRequest>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let req = cmd.body;
    let new = NewUser::parse(
        req.username,
        req.display_name,
        &req.role,
        req.warehouses,
        req.active.unwrap_or(true),
        req.password,
    )?;
    let mut tx = state.pool.begin().await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let user = cases::create_user(&mut tx, &actor, &origin, new).await?;
    let body = serde_json::to_value(&user).map_err(anyhow::Error::from)?;
    idempotency::finish(
        &mut tx,
        actor.id,
        origin.idempotency_key.as_deref(),
        StatusCode::CREATED,
        &body,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Change a user: display name, role, warehouses, active, password. Disabling a user or
/// changing the password revokes the user's tokens at once.
#[utoipa::path(patch, path = "/api/v1/users/{username}", tag = "users", request_body = UpdateUserRequest,
    params(("username" = String, Path, description = "Login name"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(username): Path<String>,
    cmd: Command<UpdateUserRequest>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let req = cmd.body;
    let patch = UserPatch::parse(
        req.display_name,
        req.role.as_deref(),
        req.warehouses,
        req.active,
        req.password,
    )?;
    let mut tx = state.pool.begin().await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let user = cases::update_user(&mut tx, &actor, &origin, &username, patch).await?;
    let body = serde_json::to_value(&user).map_err(anyhow::Error::from)?;
    idempotency::finish(
        &mut tx,
        actor.id,
        origin.idempotency_key.as_deref(),
        StatusCode::OK,
        &body,
    )
    .await?;
    tx.commit().await?;
    state.sessions.invalidate();
    Ok((StatusCode::OK, Json(body)).into_response())
}
