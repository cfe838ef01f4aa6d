//! The incident use cases that the HTTP handlers (and any other adapter) call: open and
//! change an incident, and estimate its needs. Each checks its input before it claims
//! the request's `Idempotency-Key` or writes, so bad input changes nothing.

use chrono::Utc;
use serde_json::Value;
use sqlx::PgConnection;

use super::db::{self, NewIncident};
use super::http::{
    CreateIncident, Incident, NeedsEstimate, NeedsEstimateBody, SuggestedLine, UpdateIncident,
};
use super::{DeliveryTargets, IncidentStatus, ResponseLevel, delivery_target, parse_area};
use crate::audit::{Change, Done, Outcome};
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::ids::{IncidentId, OperationId};

fn check_name(name: &str) -> AppResult<()> {
    let n = name.trim().chars().count();
    if n == 0 || n > 200 {
        return Err(AppError::invalid(
            "/name",
            "name must be 1 to 200 characters",
        ));
    }
    Ok(())
}

fn check_population(p: Option<i64>) -> AppResult<()> {
    if p.is_some_and(|p| p < 0) {
        return Err(AppError::invalid(
            "/population",
            "population must be 0 or more",
        ));
    }
    Ok(())
}

fn json(incident: Incident) -> AppResult<Value> {
    Ok(serde_json::to_value(incident).map_err(anyhow::Error::from)?)
}

/// Opens an incident (dispatchers only).
pub async fn create<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    body: &CreateIncident,
    targets: &DeliveryTargets,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    actor.require(&[Role::Dispatcher])?;
    check_name(&body.name)?;
    let level = body.response_level.unwrap_or(ResponseLevel::County);
    let target = delivery_target(body.delivery_target_hours, level, targets)?;
    body.point.validate("/point")?;
    if let Some(area) = &body.affected_area {
        parse_area(area, "/affected_area", false)?;
    }
    check_population(body.population)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(Outcome::Break(replay));
    }
    if let Some(op) = body.operation_id {
        open_operation(conn, op).await?;
    }
    let row = db::insert(
        conn,
        &NewIncident {
            name: body.name.trim(),
            kind: body.kind.as_str(),
            lat: body.point.lat,
            lon: body.point.lon,
            affected_area: body.affected_area.as_ref(),
            population: body.population.unwrap_or(0),
            started_at: body.started_at.unwrap_or_else(Utc::now),
            operation_id: body.operation_id,
            response_level: level.as_str(),
            delivery_target_hours: target,
            created_by: actor.id,
        },
    )
    .await?;
    let out = Incident::from(row);
    let id = out.id;
    let answer = json(out)?;
    Ok(Outcome::Continue(Done {
        change: Change {
            action: "incident.create",
            entity_kind: "incident",
            entity_id: id.to_string(),
            before: None,
            after: Some(answer.clone()),
        },
        answer,
    }))
}

/// Changes an incident's name, status, population or affected area (dispatchers only).
pub async fn update<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    id: IncidentId,
    body: &UpdateIncident,
    targets: &DeliveryTargets,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    actor.require(&[Role::Dispatcher])?;
    // A new level without a target takes the new level's default target.
    let target = match (body.response_level, body.delivery_target_hours) {
        (_, Some(h)) => Some(delivery_target(Some(h), ResponseLevel::County, targets)?),
        (Some(level), None) => Some(targets.hours(level)),
        (None, None) => None,
    };
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    check_population(body.population)?;
    let area = match &body.affected_area {
        None => db::AreaChange::Keep,
        Some(Value::Null) => db::AreaChange::Remove,
        Some(area) => {
            parse_area(area, "/affected_area", false)?;
            db::AreaChange::Set(area)
        }
    };
    if let Some(replay) = claim(conn).await? {
        return Ok(Outcome::Break(replay));
    }
    let before = db::get(conn, id, true)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no incident with id {id}")))?;
    if let Some(Some(op)) = body.operation_id {
        open_operation(conn, op).await?;
    }
    let patch = db::IncidentPatch {
        name: body.name.as_deref().map(str::trim),
        status: body.status.map(IncidentStatus::as_str),
        population: body.population,
        operation_id: body.operation_id,
        response_level: body.response_level.map(ResponseLevel::as_str),
        delivery_target_hours: target,
    };
    let row = db::update(conn, id, &patch, area).await?;
    let answer = json(Incident::from(row))?;
    Ok(Outcome::Continue(Done {
        change: Change {
            action: "incident.update",
            entity_kind: "incident",
            entity_id: id.to_string(),
            before: Some(json(Incident::from(before))?),
            after: Some(answer.clone()),
        },
        answer,
    }))
}

/// Suggests request lines from the catalogue's per-person norms (Sphere figures).
/// Changes nothing.
pub async fn estimate_needs(
    conn: &mut PgConnection,
    actor: &Actor,
    id: IncidentId,
    body: &NeedsEstimateBody,
) -> AppResult<NeedsEstimate> {
    actor.require(&[Role::Dispatcher])?;
    if !(1..=365).contains(&body.days) {
        return Err(AppError::invalid("/days", "days must be between 1 and 365"));
    }
    if body
        .population
        .is_some_and(|p| !(1..=100_000_000).contains(&p))
    {
        return Err(AppError::invalid(
            "/population",
            "population must be between 1 and 100000000",
        ));
    }
    let incident = db::get(conn, id, false)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no incident with id {id}")))?;
    let population = body.population.unwrap_or(incident.population);
    if population <= 0 {
        return Err(AppError::invalid(
            "/population",
            "the incident has no population recorded; give population",
        ));
    }
    let items = crate::catalog::db::items_with_norms(conn).await?;
    let mut lines = Vec::new();
    for item in items {
        let Some(norm) = item
            .need_norm
            .and_then(|v| serde_json::from_value::<crate::catalog::NeedNorm>(v).ok())
        else {
            continue;
        };
        if let Some(qty) = norm.units_for(population, body.days).filter(|q| *q > 0) {
            lines.push(SuggestedLine {
                sku: item.sku,
                name_en: item.name_en,
                unit_en: item.unit_en,
                qty,
                basis: norm.basis,
            });
        }
    }
    Ok(NeedsEstimate {
        incident_id: id,
        population,
        days: body.days,
        lines,
    })
}

/// Checks that operation `id` exists and is open (422 on `/operation_id` otherwise),
/// holding it so that it is not closed before this transaction ends.
async fn open_operation(conn: &mut PgConnection, id: OperationId) -> AppResult<()> {
    match crate::operations::db::status_for_share(conn, id).await? {
        Some(status) if status == "open" => Ok(()),
        Some(_) => Err(AppError::invalid(
            "/operation_id",
            format!("operation {id} is closed"),
        )),
        None => Err(AppError::invalid(
            "/operation_id",
            format!("no operation with id {id}"),
        )),
    }
}
