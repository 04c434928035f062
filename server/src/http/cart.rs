//! The cart (장바구니): courses a student plans to take, with clashes and credit totals shown
//! before enrolling.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use super::courses::CourseView;
use super::error::{AppError, AuthErrors, BodyErrors, ErrorBody, ServerErrors};
use super::extract::{CurrentStudent, Json, Path};
use crate::domain::CourseId;
use crate::registration::CartView;

/// A course, by id, in a request body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseRef {
    pub course_id: i64,
}

/// One course in the cart.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartItemView {
    pub course: CourseView,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub added_at: OffsetDateTime,
    /// The student already holds this course.
    pub enrolled: bool,
    /// Ids of held courses and other cart courses whose meetings overlap this one's.
    pub clashes_with: Vec<i64>,
}

/// The cart, judged.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartResponse {
    pub items: Vec<CartItemView>,
    /// Credits of the cart's courses not yet held.
    pub cart_credits: u16,
    /// Credits already held.
    pub enrolled_credits: u16,
    pub credit_cap: u16,
    /// Enrolling in the whole cart would pass the credit cap.
    pub exceeds_cap: bool,
}

impl From<CartView> for CartResponse {
    fn from(view: CartView) -> Self {
        let a = view.assessment;
        let items = view
            .entries
            .iter()
            .zip(a.items)
            .map(|(entry, judged)| CartItemView {
                course: CourseView::from(&entry.course),
                added_at: entry.added_at,
                enrolled: judged.enrolled,
                clashes_with: judged.clashes_with.iter().map(|id| id.0).collect(),
            })
            .collect();
        CartResponse {
            items,
            cart_credits: a.cart_credits,
            enrolled_credits: a.enrolled_credits,
            credit_cap: a.cap,
            exceeds_cap: a.exceeds_cap,
        }
    }
}

/// The caller's cart.
#[utoipa::path(
    get,
    path = "/api/v1/cart",
    tag = "cart",
    responses(
        (status = 200, description = "The cart with clashes and credit totals", body = CartResponse),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_cart(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> Result<Json<CartResponse>, AppError> {
    let view = state.registration.cart(student.id).await?;
    Ok(Json(view.into()))
}

/// Puts a course in the caller's cart and returns the whole cart.
#[utoipa::path(
    post,
    path = "/api/v1/cart",
    tag = "cart",
    request_body = CourseRef,
    responses(
        (status = 201, description = "Added; the whole cart", body = CartResponse),
        (status = 404, description = "COURSE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "ALREADY_IN_CART or CART_FULL", body = ErrorBody),
        BodyErrors,
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn add_to_cart(
    State(state): State<AppState>,
    student: CurrentStudent,
    Json(body): Json<CourseRef>,
) -> Result<(StatusCode, Json<CartResponse>), AppError> {
    let registration = &state.registration;
    registration
        .add_to_cart(student.id, CourseId(body.course_id))
        .await?;
    let view = registration.cart(student.id).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Takes a course out of the caller's cart.
#[utoipa::path(
    delete,
    path = "/api/v1/cart/{course_id}",
    tag = "cart",
    params(("course_id" = i64, Path, description = "Course id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "INVALID_PATH", body = ErrorBody),
        (status = 404, description = "NOT_IN_CART", body = ErrorBody),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn remove_from_cart(
    State(state): State<AppState>,
    student: CurrentStudent,
    Path(course_id): Path<i64>,
) -> Result<StatusCode, AppError> {
    state
        .registration
        .remove_from_cart(student.id, CourseId(course_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
