//! 로그인, 회원가입, 로그아웃: the students' and the administrators' own.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::layout::{Layout, send};
use super::session::{Anyone, Notice, Pending, Viewer, safe_next};
use crate::auth::SignUpPolicy;
use crate::domain::NewStudentInput;
use crate::http::auth::{self as api, AdminLoginRequest, LoginRequest, cookie_headers};
use crate::http::extract::{Caller, Form, Json, Query};
use crate::http::limits::ClientAddr;
use crate::http::{AppError, AppState};

/// One field of a form, with what was typed and why it was refused.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `password`, `number`.
    pub kind: &'static str,
    pub autocomplete: &'static str,
    pub inputmode: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub error: Option<String>,
}

impl Field {
    fn new(name: &'static str, label: &'static str, kind: &'static str) -> Field {
        Field {
            name,
            label,
            kind,
            autocomplete: "off",
            inputmode: "",
            hint: "",
            value: String::new(),
            error: None,
        }
    }

    fn autocomplete(mut self, value: &'static str) -> Field {
        self.autocomplete = value;
        self
    }

    fn numeric(mut self) -> Field {
        self.inputmode = "numeric";
        self
    }

    fn hint(mut self, hint: &'static str) -> Field {
        self.hint = hint;
        self
    }

    fn value(mut self, value: &str) -> Field {
        // Passwords are never sent back.
        if self.kind != "password" {
            self.value = value.to_owned();
        }
        self
    }
}

/// A log-in or sign-up form, with its errors summarised at the top (each linking to its field).
#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    layout: Layout,
    heading: &'static str,
    lead: &'static str,
    action: &'static str,
    submit: &'static str,
    fields: Vec<Field>,
    /// A failure of the whole form (wrong password, too many tries).
    problem: Option<String>,
    next: String,
    /// Links under the form: (href, text).
    links: Vec<(&'static str, &'static str)>,
}

impl FormPage {
    fn has_errors(&self) -> bool {
        self.problem.is_some() || self.fields.iter().any(|f| f.error.is_some())
    }

    fn send(self, status: StatusCode) -> Response {
        send(status, &self, self.layout.notice.is_some())
    }
}

/// Where `/` sends each viewer.
pub async fn home(Anyone(viewer): Anyone) -> Redirect {
    Redirect::to(match viewer {
        Viewer::Nobody => "/login",
        Viewer::Student { .. } => "/courses",
        Viewer::Admin { .. } => "/admin",
    })
}

/// `?next=` of a log-in page.
#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The students' log-in form as posted.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    student_number: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn login_form(viewer: &Viewer, notice: Option<Notice>, number: &str, next: String) -> FormPage {
    FormPage {
        layout: Layout::new("로그인", viewer, "/login", notice),
        heading: "로그인",
        lead: "학번과 비밀번호로 로그인하세요.",
        action: "/login",
        submit: "로그인",
        fields: vec![
            Field::new("student_number", "학번", "text")
                .autocomplete("username")
                .numeric()
                .hint("숫자 6~12자리, 예: 2026000001")
                .value(number),
            Field::new("password", "비밀번호", "password").autocomplete("current-password"),
        ],
        problem: None,
        next,
        links: vec![
            ("/signup", "처음이신가요? 회원가입"),
            ("/admin/login", "운영자 로그인"),
        ],
    }
}

/// 로그인.
pub async fn login_page(
    Anyone(viewer): Anyone,
    Pending(notice): Pending,
    Query(next): Query<Next>,
) -> Response {
    let next = safe_next(next.next.as_deref(), "/courses");
    login_form(&viewer, notice, "", next).send(StatusCode::OK)
}

/// Logs a student in through the API's own log-in (its limits, its hashing pool): the session
/// cookie is set and the browser goes on to the page it wanted.
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref(), "/courses");
    let number = form.student_number.trim().to_owned();
    let mut page = login_form(&Viewer::Nobody, None, &number, next.clone());
    if number.is_empty() {
        page.fields[0].error = Some("학번을 입력해 주세요".into());
    } else if !(6..=12).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        page.fields[0].error = Some("학번은 숫자 6~12자리입니다".into());
    }
    if form.password.is_empty() {
        page.fields[1].error = Some("비밀번호를 입력해 주세요".into());
    }
    if page.has_errors() {
        return page.send(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let request = LoginRequest {
        student_number: number,
        password: form.password,
    };
    match api::login(State(state), client, Json(request)).await {
        // The token stays in the HttpOnly cookie; the page never sees it.
        Ok((cookie, _session)) => (cookie, Redirect::to(&next)).into_response(),
        Err(error) => {
            let status = error.status();
            page.problem = Some(error_words(&error));
            page.send(status)
        }
    }
}

/// An error as a sentence for the top of a form: the API's Korean message, and how long to
/// wait when it says so.
pub fn error_words(error: &AppError) -> String {
    match error {
        AppError::RateLimited {
            retry_after_seconds,
            ..
        }
        | AppError::Busy {
            retry_after_seconds,
        } => format!(
            "{} ({retry_after_seconds}초 후 다시 시도해 주세요)",
            error.message()
        ),
        other => other.message().to_owned(),
    }
}

/// The sign-up form as posted.
#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    student_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    year: String,
}

fn signup_form(
    state: &AppState,
    viewer: &Viewer,
    notice: Option<Notice>,
    typed: Option<&SignupForm>,
) -> FormPage {
    let typed_value = |pick: fn(&SignupForm) -> &str| typed.map(pick).unwrap_or("");
    let mut fields = vec![
        Field::new("student_number", "학번", "text")
            .autocomplete("username")
            .numeric()
            .hint("학교에서 받은 학번, 숫자 6~12자리")
            .value(typed_value(|f| &f.student_number)),
        Field::new("name", "이름", "text")
            .autocomplete("name")
            .hint("학적부에 있는 이름 그대로")
            .value(typed_value(|f| &f.name)),
        Field::new("password", "비밀번호", "password")
            .autocomplete("new-password")
            .hint("8자 이상"),
        Field::new("password_again", "비밀번호 확인", "password").autocomplete("new-password"),
    ];
    if state.signup == SignUpPolicy::Open {
        fields.push(
            Field::new("department", "학과", "text")
                .hint("예: 컴퓨터공학과")
                .value(typed_value(|f| &f.department)),
        );
        fields.push(
            Field::new("year", "학년", "text")
                .numeric()
                .hint("1~6")
                .value(typed_value(|f| &f.year)),
        );
    }
    FormPage {
        layout: Layout::new("회원가입", viewer, "/signup", notice),
        heading: "회원가입",
        lead: match state.signup {
            SignUpPolicy::Roster => {
                "학적부에 있는 학번과 이름으로 가입합니다. 학과와 학년은 학적부를 따릅니다."
            }
            SignUpPolicy::Open => "학번, 이름, 학과, 학년을 입력해 가입합니다.",
        },
        action: "/signup",
        submit: "가입하기",
        fields,
        problem: None,
        next: String::new(),
        links: vec![("/login", "이미 가입했나요? 로그인")],
    }
}

/// 회원가입.
pub async fn signup_page(
    State(state): State<AppState>,
    Anyone(viewer): Anyone,
    Pending(notice): Pending,
) -> Response {
    signup_form(&state, &viewer, notice, None).send(StatusCode::OK)
}

/// Signs a student up through the API's sign-up (the roster check, its limits); on success the
/// log-in page says so.
pub async fn signup(
    State(state): State<AppState>,
    client: ClientAddr,
    Form(form): Form<SignupForm>,
) -> Response {
    let mut page = signup_form(&state, &Viewer::Nobody, None, Some(&form));
    if form.password != form.password_again {
        page.fields[3].error = Some("비밀번호가 서로 다릅니다".into());
    }
    let year = match form.year.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(year) => Some(year),
            Err(_) => {
                if let Some(field) = page.fields.iter_mut().find(|f| f.name == "year") {
                    field.error = Some("학년은 1~6 사이의 숫자입니다".into());
                }
                None
            }
        },
    };
    let open = state.signup == SignUpPolicy::Open;
    let input = NewStudentInput {
        student_number: form.student_number.trim().to_owned(),
        name: form.name.clone(),
        password: form.password.clone(),
        department: (open && !form.department.trim().is_empty()).then(|| form.department.clone()),
        year: if open { year } else { None },
    };
    if page.has_errors() {
        return page.send(StatusCode::UNPROCESSABLE_ENTITY);
    }
    match api::signup(State(state), client, Json(input)).await {
        Ok(_) => Notice::ok("가입되었습니다. 로그인해 주세요.").redirect("/login"),
        Err(AppError::Validation(fields)) => {
            for refused in fields {
                if let Some(field) = page.fields.iter_mut().find(|f| f.name == refused.field) {
                    field.error = Some(refused.reason);
                }
            }
            if !page.has_errors() {
                page.problem = Some("입력값이 올바르지 않습니다".into());
            }
            page.send(StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(error) => {
            let status = error.status();
            page.problem = Some(error_words(&error));
            page.send(status)
        }
    }
}

/// Logs out whoever is logged in: the token stops working at once and the cookie is cleared.
pub async fn logout(State(state): State<AppState>, caller: Result<Caller, AppError>) -> Response {
    let was_admin = match caller {
        Ok(caller) => {
            let admin = caller.0.role == crate::auth::Role::Admin;
            if let Err(error) = api::logout(State(state.clone()), caller).await {
                return Notice::error(error_words(&error)).redirect("/");
            }
            admin
        }
        Err(_) => false,
    };
    let to = if was_admin { "/admin/login" } else { "/login" };
    let mut response = Notice::ok("로그아웃되었습니다.").redirect(to);
    // Appended: the notice's cookie and the cleared session cookie are two headers.
    for (name, value) in cookie_headers(&state, "", 0).iter() {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// The administrators' log-in form as posted.
#[derive(Deserialize)]
pub struct AdminLoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn admin_login_form(
    viewer: &Viewer,
    notice: Option<Notice>,
    username: &str,
    next: String,
) -> FormPage {
    FormPage {
        layout: Layout::new("운영자 로그인", viewer, "", notice),
        heading: "운영자 로그인",
        lead: "수강신청 운영자 계정으로 로그인하세요.",
        action: "/admin/login",
        submit: "로그인",
        fields: vec![
            Field::new("username", "아이디", "text")
                .autocomplete("username")
                .value(username),
            Field::new("password", "비밀번호", "password").autocomplete("current-password"),
        ],
        problem: None,
        next,
        links: vec![("/login", "학생 로그인")],
    }
}

/// 운영자 로그인.
pub async fn admin_login_page(
    Anyone(viewer): Anyone,
    Pending(notice): Pending,
    Query(next): Query<Next>,
) -> Response {
    let next = safe_next(next.next.as_deref(), "/admin");
    admin_login_form(&viewer, notice, "", next).send(StatusCode::OK)
}

/// Logs an administrator in through the API's administrator log-in.
pub async fn admin_login(
    State(state): State<AppState>,
    client: ClientAddr,
    Form(form): Form<AdminLoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref(), "/admin");
    let username = form.username.trim().to_owned();
    let mut page = admin_login_form(&Viewer::Nobody, None, &username, next.clone());
    if username.is_empty() {
        page.fields[0].error = Some("아이디를 입력해 주세요".into());
    }
    if form.password.is_empty() {
        page.fields[1].error = Some("비밀번호를 입력해 주세요".into());
    }
    if page.has_errors() {
        return page.send(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let request = AdminLoginRequest {
        username,
        password: form.password,
    };
    match api::admin_login(State(state), client, Json(request)).await {
        Ok((cookie, _session)) => (cookie, Redirect::to(&next)).into_response(),
        Err(error) => {
            let status = error.status();
            page.problem = Some(error_words(&error));
            page.send(status)
        }
    }
}
