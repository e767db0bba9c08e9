//! Who is asking, as axum extractors: a handler that names [`LoggedIn`] only runs for an
//! operator with a session on an allowed network; one that names [`Change`] or
//! [`ScriptChange`] also had the session's CSRF token and a same-origin `Origin`.
//!
//! The order of the checks is the config page's rule: the local network first (so the
//! page does not even show its login elsewhere), then the session cookie, then for a
//! change the token.

use std::net::IpAddr;

use axum::{
    body::Bytes,
    extract::{
        ConnectInfo, FromRequest, FromRequestParts, Multipart, OptionalFromRequestParts, Request,
    },
    http::{header, request::Parts, HeaderMap},
};

use super::{auth, error::AdminError};
use crate::{
    station::access::{same_secret, Session},
    web::{base_url, client_ip, AppState, ConnInfo},
};

/// The client of a request: its address (after the forwarded-address rule) and the base
/// URL for links in the answer.
pub struct Client {
    pub ip: IpAddr,
    pub base: String,
}

impl FromRequestParts<AppState> for Client {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AdminError> {
        // Missing only if the server was started without connection info: a bug, not input.
        let ConnectInfo(conn) = ConnectInfo::<ConnInfo>::from_request_parts(parts, app)
            .await
            .map_err(AdminError::internal)?;
        Ok(Client {
            ip: client_ip(app, &conn, &parts.headers),
            base: base_url(&app.station.settings(), &parts.headers, &conn),
        })
    }
}

/// A client on the local network (or any, with `admin.allow_remote`).
pub struct Local(pub Client);

impl FromRequestParts<AppState> for Local {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AdminError> {
        let client = Client::from_request_parts(parts, app).await?;
        if app.station.settings().admin.allow_remote || auth::is_local(client.ip) {
            Ok(Local(client))
        } else {
            Err(AdminError::NotLocal)
        }
    }
}

/// An operator with a valid session, on an allowed network.
pub struct LoggedIn {
    pub token: String,
    pub session: Session,
    pub client: Client,
}

impl LoggedIn {
    async fn from_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AdminError> {
        let Local(client) = Local::from_request_parts(parts, app).await?;
        let token =
            cookie_value(&parts.headers, auth::SESSION_COOKIE).ok_or(AdminError::NoSession)?;
        let session = app
            .station
            .access
            .session(token)
            .ok_or(AdminError::NoSession)?;
        Ok(LoggedIn {
            token: token.to_string(),
            session,
            client,
        })
    }
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AdminError> {
        LoggedIn::from_parts(parts, app).await
    }
}

/// `None` without a session (the page shows the login); another network is still refused.
impl OptionalFromRequestParts<AppState> for LoggedIn {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Option<Self>, AdminError> {
        match LoggedIn::from_parts(parts, app).await {
            Ok(op) => Ok(Some(op)),
            Err(AdminError::NoSession) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A change posted by a config page form: logged in, and the form's `csrf` field is the
/// session's token.
pub struct Change {
    pub op: LoggedIn,
    pub fields: Fields,
}

impl FromRequest<AppState> for Change {
    type Rejection = AdminError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, AdminError> {
        let (mut parts, body) = req.into_parts();
        let op = LoggedIn::from_parts(&mut parts, app).await?;
        let origin_ok = same_origin(&parts.headers);
        let fields = Fields::read(Request::from_parts(parts, body), app).await?;
        if origin_ok && same_secret(fields.get("csrf").unwrap_or(""), &op.session.csrf) {
            Ok(Change { op, fields })
        } else {
            Err(AdminError::Forged)
        }
    }
}

/// A change sent by the page's script (JSON calls, upload chunks): logged in, and the
/// `X-CSRF-Token` header is the session's token.
pub struct ScriptChange(pub LoggedIn);

impl FromRequestParts<AppState> for ScriptChange {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AdminError> {
        let op = LoggedIn::from_parts(parts, app).await?;
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if same_origin(&parts.headers) && same_secret(sent, &op.session.csrf) {
            Ok(ScriptChange(op))
        } else {
            Err(AdminError::Forged)
        }
    }
}

/// A form shown before login (first run, login), posted back from the local network with
/// its double-submit token: another site can make the browser post, but cannot read or set
/// the cookie the token must match.
pub struct PreLogin {
    pub client: Client,
    pub fields: Fields,
}

impl PreLogin {
    /// With `first_run`, the first-run form: after the first run it only leads to the page.
    async fn read(req: Request, app: &AppState, first_run: bool) -> Result<Self, AdminError> {
        let (mut parts, body) = req.into_parts();
        let Local(client) = Local::from_request_parts(&mut parts, app).await?;
        if first_run && app.station.access.has_password()? {
            return Err(AdminError::SetUp);
        }
        let cookie = cookie_value(&parts.headers, auth::FORM_COOKIE).map(str::to_string);
        let origin_ok = same_origin(&parts.headers);
        let fields = Fields::read(Request::from_parts(parts, body), app).await?;
        match (cookie, fields.get("form_token")) {
            (Some(c), Some(t)) if origin_ok && same_secret(&c, t) => {
                Ok(PreLogin { client, fields })
            }
            _ => Err(AdminError::Forged),
        }
    }
}

/// `POST /admin/setup`'s form.
pub struct SetupForm(pub PreLogin);

impl FromRequest<AppState> for SetupForm {
    type Rejection = AdminError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, AdminError> {
        PreLogin::read(req, app, true).await.map(SetupForm)
    }
}

/// `POST /admin/login`'s form.
pub struct LoginForm(pub PreLogin);

impl FromRequest<AppState> for LoginForm {
    type Rejection = AdminError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, AdminError> {
        PreLogin::read(req, app, false).await.map(LoginForm)
    }
}

/// A posted form's fields, in order (repeated names kept: the schedule has rows), and the
/// files of a `multipart/form-data` form (the logo), by field name.
pub struct Fields {
    text: Vec<(String, String)>,
    files: Vec<(String, Bytes)>,
}

/// The longest text field a multipart form may have (the page's are short).
const MULTIPART_TEXT_MAX: usize = 64 * 1024;

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Fields {
            text: form_urlencoded::parse(body).into_owned().collect(),
            files: Vec::new(),
        }
    }

    async fn read(req: Request, app: &AppState) -> Result<Self, AdminError> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if multipart {
            return Self::read_multipart(req, app).await;
        }
        let body = Bytes::from_request(req, app)
            .await
            .map_err(AdminError::Body)?;
        Ok(Fields::parse(&body))
    }

    /// A form with files. Its size is the route's body limit; a part with a file name is a
    /// file, any other a text field.
    async fn read_multipart(req: Request, app: &AppState) -> Result<Self, AdminError> {
        let bad = |status, e: String| AdminError::Multipart { status, reason: e };
        let mut form = Multipart::from_request(req, app)
            .await
            .map_err(|e| bad(e.status(), e.body_text()))?;
        let mut fields = Fields {
            text: Vec::new(),
            files: Vec::new(),
        };
        while let Some(part) = form
            .next_field()
            .await
            .map_err(|e| bad(e.status(), e.body_text()))?
        {
            let name = part.name().unwrap_or("").to_string();
            let is_file = part.file_name().is_some();
            let bytes = part
                .bytes()
                .await
                .map_err(|e| bad(e.status(), e.body_text()))?;
            if is_file {
                fields.files.push((name, bytes));
            } else if bytes.len() <= MULTIPART_TEXT_MAX {
                fields
                    .text
                    .push((name, String::from_utf8_lossy(&bytes).into_owned()));
            } else {
                return Err(bad(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the form's field {name} is too long"),
                ));
            }
        }
        Ok(fields)
    }

    /// A file sent in field `name`, if one was chosen (browsers send an empty part when none
    /// was).
    pub fn file(&self, name: &str) -> Option<&Bytes> {
        self.files
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.text
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A browser sends `Origin` with every POST; one naming another site is a forgery.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}
