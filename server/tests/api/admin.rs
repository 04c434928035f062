//! Administrators create and edit courses.

use classmate_server::domain::Weekday::*;
use serde_json::{Value, json};

use classmate_testkit::{Backend, TestApp, course_input, on_both_backends};

on_both_backends!(
    admins_create_and_edit_courses,
    course_edits_keep_seats_consistent
);

fn body(input: classmate_server::domain::CourseSpecInput) -> Value {
    serde_json::to_value(input).unwrap()
}

async fn admins_create_and_edit_courses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/admin/courses",
            Some(&admin),
            &json!({
                "code": "ECO2001-03", "title": "미시경제학", "department": "경제학과",
                "professor": "정하늘", "credits": 3, "capacity": 120,
                "meetings": [{"weekday": "TUE", "start_min": 900, "end_min": 975, "room": "사회과학관 201"},
                             {"weekday": "THU", "start_min": 900, "end_min": 975, "room": "사회과학관 201"}],
                "restrictions": {"years": [2, 3]}
            }),
        )
        .await
        .expect(201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["code"], "ECO2001-03");
    assert_eq!(
        created["restrictions"],
        json!({"years": [2, 3], "own_department_only": false})
    );
    assert_eq!(created["is_open"], true);

    let mut edit = course_input("ECO2001-03", 3, 150, &[(Mon, 540, 615)]);
    edit.title = "미시경제학 (개정)".into();
    let edited = app
        .put(
            &format!("/api/v1/admin/courses/{id}"),
            Some(&admin),
            &body(edit.clone()),
        )
        .await
        .expect(200);
    assert_eq!(
        (edited["title"].as_str(), edited["capacity"].as_u64()),
        (Some("미시경제학 (개정)"), Some(150))
    );
    assert_eq!(edited["restrictions"]["years"], Value::Null);
    let fetched = app
        .get(&format!("/api/v1/courses/{id}"), None)
        .await
        .expect(200);
    assert_eq!(fetched["meetings"][0]["label"], "월 09:00-10:15");

    app.post("/api/v1/admin/courses", Some(&admin), &body(edit.clone()))
        .await
        .assert_error(409, "COURSE_CODE_TAKEN");
    app.put("/api/v1/admin/courses/987654", Some(&admin), &body(edit))
        .await
        .assert_error(404, "COURSE_NOT_FOUND");

    let invalid = app
        .post(
            "/api/v1/admin/courses",
            Some(&admin),
            &body(course_input("컴공-01", 9, 0, &[(Mon, 600, 540)])),
        )
        .await;
    invalid.assert_error(422, "VALIDATION_FAILED");
    let fields = invalid.invalid_fields();
    assert_eq!(
        fields,
        ["code", "credits", "capacity", "meetings[0].end_min"]
    );
    assert_eq!(app.row_counts().await["courses"], 1);
}

async fn course_edits_keep_seats_consistent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let course = app
        .course(course_input("EDT1000-01", 3, 3, &[(Mon, 540, 615)]))
        .await;
    let taken = app
        .course(course_input("EDT2000-01", 3, 3, &[(Tue, 540, 615)]))
        .await;
    for student in app.students(2).await {
        app.enroll(&student.token, course.id).await.expect(201);
    }
    let path = format!("/api/v1/admin/courses/{}", course.id);

    let shrink = app
        .put(
            &path,
            Some(&admin),
            &body(course_input("EDT1000-01", 3, 1, &[(Mon, 540, 615)])),
        )
        .await;
    shrink.assert_error(409, "CAPACITY_BELOW_ENROLLED");
    assert_eq!(
        shrink.body["error"]["details"],
        json!({"capacity": 1, "enrolled": 2})
    );
    app.put(
        &path,
        Some(&admin),
        &body(course_input(
            &taken.spec.code.to_string(),
            3,
            3,
            &[(Mon, 540, 615)],
        )),
    )
    .await
    .assert_error(409, "COURSE_CODE_TAKEN");

    let exact = app
        .put(
            &path,
            Some(&admin),
            &body(course_input("EDT1000-01", 3, 2, &[(Mon, 540, 615)])),
        )
        .await
        .expect(200);
    assert_eq!(
        (exact["enrolled"].as_u64(), exact["seats_left"].as_u64()),
        (Some(2), Some(0))
    );
    let latecomer = app.student().await;
    app.enroll(&latecomer.token, course.id)
        .await
        .assert_error(409, "COURSE_FULL");

    let mut closed = course_input("EDT1000-01", 3, 10, &[(Mon, 540, 615)]);
    closed.is_open = false;
    app.put(&path, Some(&admin), &body(closed))
        .await
        .expect(200);
    app.enroll(&latecomer.token, course.id)
        .await
        .assert_error(409, "COURSE_CLOSED");
    app.assert_audit_clean(true).await;
}
