//! What handlers take and answer, bound to the endpoint table (`wire::endpoints`): routes are
//! registered by endpoint ([`Routes::endpoint`]), a JSON body is read as the endpoint's request
//! type ([`Body`]), a query string as its query type ([`Params`]), and a success is answered
//! with the endpoint's response type and status ([`Answer`]). Every rejection becomes a
//! [`Refusal`]; body limits are here too.

use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use dx_protocol::wire::endpoints::{Endpoint, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long a request's body may take to arrive after its head (set per server, from
/// `--body-timeout`); past it, `408 request_timeout`.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

/// The body timeout when a router is served without one.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a request's whole body within its body timeout.
pub async fn read_body<S: Send + Sync>(
    req: Request,
    state: &S,
    limit: usize,
) -> Result<axum::body::Bytes, Refusal> {
    let timeout = req
        .extensions()
        .get::<BodyTimeout>()
        .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
    match tokio::time::timeout(timeout, axum::body::Bytes::from_request(req, state)).await {
        Ok(read) => read.map_err(|r| crate::error::bytes_rejection(r, limit)),
        Err(_) => Err(Refusal::new(
            crate::refusal::Kind::Timeout,
            "request_timeout",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            ),
        )),
    }
}

/// A bulk body (NDJSON imports), read within its body timeout, up to
/// [`MAX_IMPORT_BODY_BYTES`].
pub struct BulkBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for BulkBody {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = read_body(req, state, MAX_IMPORT_BODY_BYTES).await?;
        if escapes_nul(&body) {
            return Err(Refusal::invalid("invalid_text", crate::error::NUL_REFUSED));
        }
        Ok(BulkBody(body))
    }
}

/// Whether JSON text escapes a NUL (`\u0000`, its backslash not itself escaped).
fn escapes_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, w)| {
        w == b"\\u0000" && json[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// Largest request body accepted by ordinary routes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest body of a bulk import call (NDJSON); larger populations are sent in several calls.
pub const MAX_IMPORT_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Registering a handler by endpoint: its path and method come from the table.
pub trait Routes {
    fn endpoint<E: Endpoint, H: Handler<T, AppState>, T: 'static>(self, e: E, handler: H) -> Self;
}

impl Routes for axum::Router<AppState> {
    fn endpoint<E: Endpoint, H: Handler<T, AppState>, T: 'static>(self, _: E, handler: H) -> Self {
        let method: MethodRouter<AppState> = match E::METHOD {
            Method::Get => get(handler),
            Method::Post => post(handler),
        };
        self.route(E::PATH, method)
    }
}

/// A successful answer of endpoint `E`: its response body with its status.
pub struct Answer<E: Endpoint>(pub E::Response);

impl<E: Endpoint> IntoResponse for Answer<E>
where
    E::Response: Serialize,
{
    fn into_response(self) -> Response {
        let status = axum::http::StatusCode::from_u16(E::STATUS).expect("the table's statuses");
        (status, Json(self.0)).into_response()
    }
}

/// The JSON body of endpoint `E`.
pub struct Body<E: Endpoint>(pub E::Request);

impl<E: Endpoint, S: Send + Sync> FromRequest<S> for Body<E>
where
    E::Request: DeserializeOwned,
{
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(v) = ApiJson::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// The query string of endpoint `E`; a malformed one is 400 `invalid_query`.
pub struct Params<E: Endpoint>(pub E::Query);

impl<E: Endpoint, S: Send + Sync> FromRequestParts<S> for Params<E>
where
    E::Query: DeserializeOwned,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<E::Query>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(Params(q)),
            Err(e) => Err(Refusal::invalid("invalid_query", e.body_text())),
        }
    }
}

/// A JSON request body, read strictly: `Content-Type: application/json` (or `…+json`) with no
/// charset but UTF-8, else 415 `unsupported_media_type`; bytes that are not UTF-8 → 415; malformed
/// JSON → 400 `malformed_json`; the wrong shape — a type the route does not take, an unknown
/// field, an array where an object is declared ([`crate::strict`]) → 400 `invalid_body`; over
/// the body limit → 413 `body_too_large`.
pub struct ApiJson<T>(pub T);

fn unsupported(message: impl Into<String>) -> Refusal {
    Refusal::new(
        crate::refusal::Kind::UnsupportedMediaType,
        "unsupported_media_type",
        message,
    )
}

/// Checks the content type: JSON, in UTF-8.
fn json_content_type(headers: &axum::http::HeaderMap) -> Result<(), Refusal> {
    let expected = "send Content-Type: application/json (UTF-8)";
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unsupported(expected))?;
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let json = mime == "application/json"
        || mime
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"));
    if !json {
        return Err(unsupported(format!("{expected}; got {mime}")));
    }
    for param in parts {
        let (name, val) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = val.trim().trim_matches('"');
            if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
                return Err(unsupported(format!(
                    "request bodies are UTF-8 only; got charset={charset}"
                )));
            }
        }
    }
    Ok(())
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_content_type(req.headers())?;
        let bytes = read_body(req, state, MAX_BODY_BYTES).await?;
        // UTF-16 and UTF-32 text carries NUL bytes (ASCII) or a byte-order mark: never UTF-8
        // JSON, which has no raw NUL.
        let wide = bytes.contains(&0)
            || bytes.starts_with(&[0xFF, 0xFE])
            || bytes.starts_with(&[0xFE, 0xFF]);
        if wide || std::str::from_utf8(&bytes).is_err() {
            return Err(unsupported(
                "request bodies are UTF-8 JSON; this body is not UTF-8",
            ));
        }
        if escapes_nul(&bytes) {
            return Err(Refusal::invalid("invalid_text", crate::error::NUL_REFUSED));
        }
        crate::strict::from_slice(&bytes).map(ApiJson).map_err(|e| {
            if e.is_data() {
                Refusal::invalid(
                    "invalid_body",
                    format!("the body does not fit the route: {e}"),
                )
            } else {
                Refusal::invalid("malformed_json", format!("the body is not valid JSON: {e}"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_escaped_nul_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(super::escapes_nul(br#"{"a":"x\u0000y"}"#));
        assert!(super::escapes_nul(br#"{"a":"\\\u0000"}"#));
        assert!(!super::escapes_nul(br#"{"a":"\\u0000"}"#));
        assert!(!super::escapes_nul(br#"{"a":"u0000"}"#));
    }
}
