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
