//! A bound on the time to answer a request. A hung database (a stopped server, a full
//! disk, a lock held by a crashed client) must not hang the clerks' and dispatchers'
//! screens: a request with no answer within the limit gets a 503 problem with
//! `Retry-After` (`AppError::Unavailable`). Its work is dropped: a transaction not yet
//! committed is rolled back; a commit already sent may still complete, which is why
//! the problem asks for a retry with the same `Idempotency-Key` (it never repeats what
//! was done). The limit covers the answer's head: a streamed export's body, once
//! started, is not cut.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Answers `req` within `limit`, or with a 503.
pub async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    // An import of a large file legitimately works for longer (100,000 lots take about
    // 20 s): it gets ten minutes.
    let limit = if req.uri().path() == "/api/v1/imports" {
        limit.max(Duration::from_secs(600))
    } else {
        limit
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => AppError::Unavailable {
            detail: format!(
                "no answer within {} s: the database may be hung or overloaded; retry with \
                 the same Idempotency-Key, which never repeats what was done",
                limit.as_secs()
            ),
            retry_after_secs: 5,
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(limit: Duration) -> Router {
        Router::new()
            .route("/quick", get(|| async { "done" }))
            .route(
                "/hung",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "never"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(limit, deadline))
    }

    #[tokio::test]
    async fn a_request_past_the_limit_is_a_503_with_retry_after_and_others_pass() {
        let limit = Duration::from_millis(50);
        let get = |path: &'static str| Request::get(path).body(Body::empty()).expect("request");
        let quick = app(limit).oneshot(get("/quick")).await.expect("quick");
        let hung = app(limit).oneshot(get("/hung")).await.expect("hung");
        assert_eq!(quick.status(), 200);
        assert_eq!(hung.status(), 503);
        assert_eq!(hung.headers()["retry-after"], "5");
        assert_eq!(hung.headers()["content-type"], crate::error::PROBLEM_JSON);
    }
}
