//! Request extraction shared by every service: the JSON body extractor that turns every
//! rejection into a [`Refusal`], and the body limits.

use crate::refusal::Refusal;
use axum::Json;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// Largest request body accepted by ordinary routes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest body of a bulk import call (NDJSON); larger populations are sent in several calls.
pub const MAX_IMPORT_BODY_BYTES: usize = 256 * 1024 * 1024;

/// `axum::Json` with rejections mapped to our error body: malformed JSON → 400 `malformed_json`,
/// wrong shape → 400 `invalid_body`, wrong content type → 415, too large → 413 `body_too_large`
/// (see `error::json_rejection`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(crate::error::json_rejection(rejection, MAX_BODY_BYTES)),
        }
    }
}
