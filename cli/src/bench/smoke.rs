//! `smoke`: a few hundred students touching every student endpoint once, every response checked.
//! Each simulated student browses, fills the cart, asks to enroll in a hot course, follows the
//! ticket to its end, and looks at the queue and their enrollments.

use std::time::{Duration, Instant};

use goose::prelude::*;
use serde_json::{Value, json};

use super::{record_failure, target};

/// The scenario.
pub fn scenario() -> Scenario {
    scenario!("smoke")
        .register_transaction(transaction!(browse).set_sequence(1).set_name("browse"))
        .register_transaction(transaction!(cart).set_sequence(2).set_name("cart"))
        .register_transaction(transaction!(enroll).set_sequence(3).set_name("enroll"))
        .register_transaction(
            transaction!(look_around)
                .set_sequence(4)
                .set_name("look around"),
        )
}

fn token(user: &GooseUser) -> &'static str {
    let tokens = &target().tokens;
    &tokens[user.weighted_users_index % tokens.len()]
}

fn course(user: &GooseUser, salt: usize) -> i64 {
    let courses = &target().courses;
    courses[(user.weighted_users_index * 7 + salt) % courses.len()]
}

/// Sends one request as this user's student and checks its status is one of `expect`; anything
/// else is recorded as a failure with the body. Returns the JSON body.
async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<Value>,
    expect: &[u16],
) -> Result<Value, Box<TransactionError>> {
    let mut builder = user
        .get_request_builder(&method, path)?
        .bearer_auth(token(user));
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    let mut goose = user.request(request).await?;
    let (status, text) = match goose.response {
        Ok(response) => (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        ),
        Err(e) => {
            let tag = format!("{name}: {e}");
            record_failure(tag.clone());
            return user
                .set_failure(&tag, &mut goose.request, None, None)
                .map(|()| Value::Null);
        }
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if expect.contains(&status) {
        // 4xx answers the scenario expects (a full course) are successes.
        user.set_success(&mut goose.request)?;
        Ok(value)
    } else {
        let tag = format!("{name}: unexpected {status} {}", value["error"]["code"]);
        record_failure(tag.clone());
        user.set_failure(&tag, &mut goose.request, None, Some(&text))?;
        Ok(value)
    }
}

async fn browse(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Get,
        "/api/v1/courses?per_page=20",
        "courses",
        None,
        &[200],
    )
    .await?;
    let id = course(user, 0);
    call(
        user,
        GooseMethod::Get,
        &format!("/api/v1/courses/{id}"),
        "course",
        None,
        &[200],
    )
    .await?;
    call(user, GooseMethod::Get, "/healthz", "healthz", None, &[200]).await?;
    Ok(())
}

async fn cart(user: &mut GooseUser) -> TransactionResult {
    let id = course(user, 1);
    call(
        user,
        GooseMethod::Post,
        "/api/v1/cart",
        "cart",
        Some(json!({ "course_id": id })),
        &[201, 409],
    )
    .await?;
    call(user, GooseMethod::Get, "/api/v1/cart", "cart", None, &[200]).await?;
    call(
        user,
        GooseMethod::Delete,
        &format!("/api/v1/cart/{id}"),
        "cart",
        None,
        &[204],
    )
    .await?;
    Ok(())
}

async fn enroll(user: &mut GooseUser) -> TransactionResult {
    let hot = &target().hot;
    let id = hot[user.weighted_users_index % hot.len()];
    // 202 a ticket; 409 full (the fast path), already queued or enrolled from an earlier run.
    let ticket = call(
        user,
        GooseMethod::Post,
        "/api/v1/enrollments",
        "enrollments",
        Some(json!({ "course_id": id })),
        &[202, 409],
    )
    .await?;
    let Some(ticket_id) = ticket["id"].as_str().map(str::to_owned) else {
        return Ok(());
    };
    // Follow the ticket to its end, as a client without WebSocket would.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = call(
            user,
            GooseMethod::Get,
            &format!("/api/v1/tickets/{ticket_id}"),
            "ticket",
            None,
            &[200],
        )
        .await?;
        if now["state"] != "queued" || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn look_around(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Get,
        "/api/v1/queue/status",
        "queue status",
        None,
        &[200],
    )
    .await?;
    call(
        user,
        GooseMethod::Get,
        "/api/v1/tickets",
        "tickets",
        None,
        &[200],
    )
    .await?;
    call(
        user,
        GooseMethod::Get,
        "/api/v1/enrollments",
        "enrollments",
        None,
        &[200],
    )
    .await?;
    call(user, GooseMethod::Get, "/api/v1/me", "me", None, &[200]).await?;
    Ok(())
}
