//! The cart shows clashes and credit totals before enrolling.

use classmate_server::domain::Weekday::*;
use serde_json::json;

use classmate_testkit::{Backend, TestApp, course_input, non_clashing_courses, on_both_backends};

on_both_backends!(
    the_cart_shows_clashes_and_credits,
    the_cart_refuses_duplicates_unknowns_and_overflow
);

async fn the_cart_shows_clashes_and_credits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let held = app
        .course(course_input("CAR1000-01", 3, 40, &[(Mon, 540, 615)]))
        .await;
    let clashes_held = app
        .course(course_input("CAR1001-01", 3, 40, &[(Mon, 600, 675)]))
        .await;
    let clashes_cart = app
        .course(course_input("CAR1002-01", 3, 40, &[(Mon, 660, 735)]))
        .await;
    let free = app
        .course(course_input("CAR1003-01", 2, 40, &[(Tue, 540, 615)]))
        .await;
    app.enroll(&student.token, held.id).await.expect(201);
    for course in [&held, &clashes_held, &clashes_cart, &free] {
        app.add_to_cart(&student.token, course.id).await.expect(201);
    }
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["enrolled"], true);
    assert_eq!(items[1]["clashes_with"], json!([held.id, clashes_cart.id]));
    assert_eq!(items[2]["clashes_with"], json!([clashes_held.id]));
    assert_eq!(items[3]["clashes_with"], json!([]));
    assert_eq!(cart["enrolled_credits"], 3);
    assert_eq!(cart["cart_credits"], 8);
    assert_eq!(cart["credit_cap"], 18);
    assert_eq!(cart["exceeds_cap"], false);

    // Over the cap once five more 3-credit courses are planned.
    for input in non_clashing_courses("CRX", 5) {
        let course = app.course(input).await;
        app.add_to_cart(&student.token, course.id).await.expect(201);
    }
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(
        (cart["cart_credits"].as_u64(), cart["exceeds_cap"].as_bool()),
        (Some(23), Some(true))
    );

    app.delete(&format!("/api/v1/cart/{}", free.id), Some(&student.token))
        .await
        .expect(204);
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(cart["items"].as_array().unwrap().len(), 8);
}

async fn the_cart_refuses_duplicates_unknowns_and_overflow(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.cart_limit = 2).await;
    let student = app.student().await;
    let courses: Vec<_> = {
        let mut v = Vec::new();
        for input in non_clashing_courses("CRL", 3) {
            v.push(app.course(input).await);
        }
        v
    };
    let add = |id: i64| app.add_to_cart(&student.token, id);
    add(courses[0].id.0).await.expect(201);
    add(courses[0].id.0)
        .await
        .assert_error(409, "ALREADY_IN_CART");
    add(987654).await.assert_error(404, "COURSE_NOT_FOUND");
    add(courses[1].id.0).await.expect(201);
    let full = add(courses[2].id.0).await;
    full.assert_error(409, "CART_FULL");
    assert_eq!(full.body["error"]["details"]["limit"], 2);
    app.delete("/api/v1/cart/987654", Some(&student.token))
        .await
        .assert_error(404, "NOT_IN_CART");
    assert_eq!(app.row_counts().await["cart_items"], 2);
}
