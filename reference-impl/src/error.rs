//! The HTTP face of a [`Refusal`]: its status and the JSON error body
//! `{ "error": { "code", "message", "field" } }` of [`dx_protocol::wire::ErrorBody`]; and axum's own
//! rejections (malformed JSON, wrong content type, oversized bodies) as refusals.
//!
//! Architecture invariant: this is the only module that maps refusals to HTTP status codes.

use crate::refusal::{Kind, Refusal};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dx_protocol::wire::ErrorBody;

/// The status a refusal of `kind` answers with.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Gone => StatusCode::GONE,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::BrokenRule => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        Kind::Overloaded | Kind::Suspended => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.to_detail(),
        };
        let mut response = (status(self.kind), Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

/// A body that could not be read as a refusal: over the limit → `body_too_large` (naming
/// `limit_bytes`), anything else → `invalid_body`.
pub fn bytes_rejection(r: axum::extract::rejection::BytesRejection, limit_bytes: usize) -> Refusal {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Refusal::new(
            Kind::TooLarge,
            "body_too_large",
            format!("request body exceeds the limit of {limit_bytes} bytes"),
        );
    }
    Refusal::new(kind_of(r.status()), "invalid_body", r.body_text())
}

/// A refusal's status alone, without body or headers: for the `overload_unstructured` fault.
pub fn bare(refusal: Refusal) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = status(refusal.kind);
    r
}

/// Longest request target (path and query) answered; longer is `414 uri_too_long`.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section answered; larger (or more than [`MAX_HEADERS`] fields) is
/// `431 headers_too_large`. The connection reads heads of up to 256 KiB (`connections.rs`), so
/// these answers come with the JSON error body.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 100;

/// Middleware: refuses an oversized request head with the JSON error body, before any work.
/// Why text with U+0000 is refused: no field of the protocol holds it, and PostgreSQL's text
/// cannot (so both stores refuse it alike, before anything is read or stored).
pub const NUL_REFUSED: &str =
    "U+0000 (NUL) is not allowed in a path, a query or any text of the body";

/// Whether a request target percent-encodes a NUL (`%00`) in its path or query.
fn nul_in_target(uri: &axum::http::Uri) -> bool {
    uri.path_and_query()
        .is_some_and(|p| p.as_str().as_bytes().windows(3).any(|w| w == b"%00"))
}

pub async fn head_limits(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return layer_error(
            StatusCode::URI_TOO_LONG,
            format!("the request target exceeds {MAX_URI_BYTES} bytes"),
        );
    }
    if nul_in_target(req.uri()) {
        return Refusal::invalid("invalid_text", NUL_REFUSED).into_response();
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADERS {
        return layer_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the header section exceeds {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields"),
        );
    }
    next.run(req).await
}

fn layer_error(status: StatusCode, message: String) -> Response {
    let body = ErrorBody {
        error: dx_protocol::wire::ErrorDetail {
            code: http_layer_code(status).to_owned(),
            message,
            field: None,
        },
    };
    (status, Json(body)).into_response()
}

/// The code of an error the HTTP layer answered by itself (a path segment that is not UTF-8, a
/// URI or header section over its limit), by its status.
fn http_layer_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "no_route",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// Gives an error answered outside the handlers (axum's own rejections, such as a path segment
/// that is not UTF-8) the JSON error body, keeping its status and its text as the message.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.trim().to_owned()
    };
    let mut out = layer_error(status, message);
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The kind of a refusal axum answered with `status`.
fn kind_of(status: StatusCode) -> Kind {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Kind::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Kind::UnsupportedMediaType,
        s if s.is_server_error() => Kind::Internal,
        _ => Kind::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_status() {
        let kinds = [
            Kind::Invalid,
            Kind::Unauthenticated,
            Kind::Forbidden,
            Kind::NotFound,
            Kind::MethodNotAllowed,
            Kind::Conflict,
            Kind::Gone,
            Kind::TooLarge,
            Kind::UnsupportedMediaType,
            Kind::BrokenRule,
            Kind::TooManyAttempts,
            Kind::Overloaded,
            Kind::Timeout,
            Kind::Internal,
        ];
        let mut statuses: Vec<u16> = kinds.iter().map(|k| status(*k).as_u16()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), kinds.len());
        assert_eq!(status(Kind::BrokenRule), StatusCode::UNPROCESSABLE_ENTITY);
        // The one shared status: a suspended service is unavailable as an overloaded one is
        // (the code in the body tells them apart).
        assert_eq!(status(Kind::Suspended), status(Kind::Overloaded));
    }
}
