//! Every enrollment rule through HTTP, and students kept out of each other's data.

use classmate_server::domain::{RestrictionsInput, Weekday::*};
use serde_json::json;

use classmate_testkit::{Backend, TestApp, course_input, on_both_backends};

on_both_backends!(
    every_rule_answers_with_its_code,
    cancel_gives_the_seat_back_and_allows_re_enrolling,
    a_student_cannot_touch_another_students_enrollments_or_cart,
);

async fn every_rule_answers_with_its_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student_in("컴퓨터공학과", 2).await;
    let held = app
        .course(course_input(
            "RUL1000-01",
            3,
            40,
            &[(Mon, 540, 615), (Wed, 540, 615)],
        ))
        .await;
    app.enroll(&student.token, held.id).await.expect(201);

    let mut closed = course_input("RUL1001-01", 3, 40, &[(Tue, 540, 615)]);
    closed.is_open = false;
    let closed = app.course(closed).await;
    let clash = app
        .course(course_input("RUL1002-01", 3, 40, &[(Wed, 600, 675)]))
        .await;
    let mut seniors = course_input("RUL1003-01", 3, 40, &[(Tue, 700, 760)]);
    seniors.restrictions = RestrictionsInput {
        years: Some(vec![3, 4]),
        own_department_only: false,
    };
    let seniors = app.course(seniors).await;
    let mut business_only = course_input("RUL1004-01", 3, 40, &[(Thu, 700, 760)]);
    business_only.department = "경영학과".into();
    business_only.restrictions.own_department_only = true;
    let business_only = app.course(business_only).await;
    let full = app
        .course(course_input("RUL1005-01", 3, 1, &[(Fri, 700, 760)]))
        .await;
    let other = app.student().await;
    app.enroll(&other.token, full.id).await.expect(201);
    let big = app
        .course(course_input("RUL1006-01", 6, 40, &[(Sat, 540, 900)]))
        .await;
    let mut cap_filler = Vec::new();
    for (i, day) in [Tue, Thu].into_iter().enumerate() {
        cap_filler.push(
            app.course(course_input(
                &format!("RUL200{i}-01"),
                6,
                40,
                &[(day, 1000, 1100)],
            ))
            .await,
        );
    }

    let before = app.row_counts().await;
    let cases = [
        (987654, 404, "COURSE_NOT_FOUND"),
        (closed.id.0, 409, "COURSE_CLOSED"),
        (held.id.0, 409, "ALREADY_ENROLLED"),
        (clash.id.0, 409, "TIME_CLASH"),
        (seniors.id.0, 403, "YEAR_RESTRICTED"),
        (business_only.id.0, 403, "DEPARTMENT_RESTRICTED"),
        (full.id.0, 409, "COURSE_FULL"),
    ];
    for (course_id, status, code) in cases {
        app.enroll(&student.token, course_id)
            .await
            .assert_error(status, code);
    }
    assert_eq!(app.row_counts().await, before, "refusals write nothing");

    let clash_reply = app.enroll(&student.token, clash.id).await;
    assert_eq!(
        clash_reply.body["error"]["details"]["clashes_with"],
        json!({"course_id": held.id, "code": "RUL1000-01", "title": "강좌 RUL1000-01"})
    );
    let year_reply = app.enroll(&student.token, seniors.id).await;
    assert_eq!(
        year_reply.body["error"]["details"]["allowed_years"],
        json!([3, 4])
    );

    // 3 + 6 + 6 = 15 held; another 6 would be 21 > 18.
    for course in &cap_filler {
        app.enroll(&student.token, course.id).await.expect(201);
    }
    let over = app.enroll(&student.token, big.id).await;
    over.assert_error(409, "CREDIT_LIMIT_EXCEEDED");
    assert_eq!(
        over.body["error"]["details"],
        json!({"enrolled_credits": 15, "course_credits": 6, "credit_cap": 18})
    );
}

async fn cancel_gives_the_seat_back_and_allows_re_enrolling(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input("CAN1000-01", 3, 1, &[(Mon, 540, 615)]))
        .await;
    let first = app.student().await;
    let second = app.student().await;
    app.enroll(&first.token, course.id).await.expect(201);
    app.enroll(&second.token, course.id)
        .await
        .assert_error(409, "COURSE_FULL");
    app.delete(
        &format!("/api/v1/enrollments/{}", course.id),
        Some(&first.token),
    )
    .await
    .expect(204);
    app.delete(
        &format!("/api/v1/enrollments/{}", course.id),
        Some(&first.token),
    )
    .await
    .assert_error(404, "NOT_ENROLLED");
    app.enroll(&second.token, course.id).await.expect(201);
    app.enroll(&first.token, course.id)
        .await
        .assert_error(409, "COURSE_FULL");
    app.delete(
        &format!("/api/v1/enrollments/{}", course.id),
        Some(&second.token),
    )
    .await
    .expect(204);
    app.enroll(&first.token, course.id).await.expect(201);
    app.assert_audit_clean(true).await;
}

async fn a_student_cannot_touch_another_students_enrollments_or_cart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input("OWN1000-01", 3, 10, &[(Mon, 540, 615)]))
        .await;
    let alice = app.student().await;
    let mallory = app.student().await;
    app.enroll(&alice.token, course.id).await.expect(201);
    app.add_to_cart(&alice.token, course.id).await.expect(201);

    // Mallory sees only her own, empty, lists.
    let hers = app
        .get("/api/v1/enrollments", Some(&mallory.token))
        .await
        .expect(200);
    assert_eq!(hers["items"], json!([]));
    let cart = app
        .get("/api/v1/cart", Some(&mallory.token))
        .await
        .expect(200);
    assert_eq!(cart["items"], json!([]));
    // Acting on Alice's course through her own session changes nothing of Alice's.
    app.delete(
        &format!("/api/v1/enrollments/{}", course.id),
        Some(&mallory.token),
    )
    .await
    .assert_error(404, "NOT_ENROLLED");
    app.delete(&format!("/api/v1/cart/{}", course.id), Some(&mallory.token))
        .await
        .assert_error(404, "NOT_IN_CART");
    // A body naming Alice is refused rather than obeyed.
    app.post(
        "/api/v1/enrollments",
        Some(&mallory.token),
        &json!({"course_id": course.id, "student_id": alice.id}),
    )
    .await
    .assert_error(422, "INVALID_BODY");

    let alices = app
        .get("/api/v1/enrollments", Some(&alice.token))
        .await
        .expect(200);
    assert_eq!(alices["items"].as_array().unwrap().len(), 1);
    let alices_cart = app
        .get("/api/v1/cart", Some(&alice.token))
        .await
        .expect(200);
    assert_eq!(alices_cart["items"].as_array().unwrap().len(), 1);
    let now = app
        .get(&format!("/api/v1/courses/{}", course.id), None)
        .await
        .expect(200);
    assert_eq!(now["enrolled"], 1);
}
