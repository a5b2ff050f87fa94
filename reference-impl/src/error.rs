//! The HTTP face of a [`Refusal`]: its status and the JSON error body
//! `{ "error": { "code", "message", "field" } }` of [`dx_protocol::wire::ErrorBody`]; and axum's own
//! rejections (malformed JSON, wrong content type, oversized bodies) as refusals.
//!
//! Architecture invariant: this is the only module that maps refusals to HTTP status codes.

use crate::refusal::{Kind, Refusal};
use axum::Json;
use axum::extract::rejection::JsonRejection;
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
        Kind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
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

/// axum's JSON rejection as a refusal: malformed JSON → `malformed_json`, wrong shape →
/// `invalid_body`, wrong content type → `unsupported_media_type`, too large → `body_too_large`
/// (naming `limit_bytes`, the route's body limit).
pub fn json_rejection(r: JsonRejection, limit_bytes: usize) -> Refusal {
    let text = r.body_text();
    match r {
        JsonRejection::JsonSyntaxError(_) => Refusal::invalid("malformed_json", text),
        JsonRejection::JsonDataError(_) => Refusal::invalid("invalid_body", text),
        JsonRejection::MissingJsonContentType(_) => {
            Refusal::new(Kind::UnsupportedMediaType, "unsupported_media_type", text)
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Refusal::new(
            Kind::TooLarge,
            "body_too_large",
            format!("request body exceeds the limit of {limit_bytes} bytes"),
        ),
        other => Refusal::new(kind_of(other.status()), "invalid_body", text),
    }
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
            Kind::Internal,
        ];
        let mut statuses: Vec<u16> = kinds.iter().map(|k| status(*k).as_u16()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), kinds.len());
        assert_eq!(status(Kind::BrokenRule), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
