//! A browser-like client of the config page: cookies kept, forms posted, set-up and login.

use super::http::{form_urlencoded_body, short, Resp};
use super::node::Node;

/// The language the client's pages are in: the tests read the English words (the node's
/// own language is Spanish).
pub const LANGUAGE: &str = "en";

/// The config page's pages: the home screen and one per task.
pub const PAGES: [&str; 9] = [
    "/admin",
    "/admin/sound",
    "/admin/episodes",
    "/admin/schedule",
    "/admin/share",
    "/admin/storage",
    "/admin/sisters",
    "/admin/settings",
    "/admin/technical",
];

/// The password the tests set at first run.
pub const PASSWORD: &str = "correct horse battery";

/// A browser-like client of the config page: cookies kept, forms posted.
pub struct Operator<'a> {
    pub node: &'a Node,
    pub cookies: Vec<(String, String)>,
}

impl<'a> Operator<'a> {
    pub fn new(node: &'a Node) -> Self {
        Self {
            node,
            cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep_cookies(&mut self, r: &Resp) {
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
    }

    pub fn get(&mut self, target: &str) -> Resp {
        let c = self.cookie_header();
        let r = self
            .node
            .request(
                "GET",
                target,
                &[("Cookie", &c), ("Accept-Language", LANGUAGE)],
            )
            .expect("GET");
        self.keep_cookies(&r);
        r
    }

    pub fn post(&mut self, target: &str, form: &[(&str, &str)]) -> Resp {
        let body: String = form_urlencoded_body(form);
        self.post_body(target, "application/x-www-form-urlencoded", body.as_bytes())
    }

    /// Posts a form with a file as a browser does (`multipart/form-data`): the text fields,
    /// then `file` in field `name`, sent as `file_name` of `content_type`.
    pub fn post_file(
        &mut self,
        target: &str,
        form: &[(&str, &str)],
        (name, file_name, content_type, file): (&str, &str, &str, &[u8]),
    ) -> Resp {
        let boundary = "----streamp2pTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in form {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.post_body(target, &content_type, &body)
    }

    fn post_body(&mut self, target: &str, content_type: &str, body: &[u8]) -> Resp {
        let c = self.cookie_header();
        let len = body.len().to_string();
        let r = self
            .node
            .request_with_body(
                "POST",
                target,
                &[
                    ("Cookie", &c),
                    ("Accept-Language", LANGUAGE),
                    ("Content-Type", content_type),
                    ("Content-Length", &len),
                ],
                body,
            )
            .expect("POST");
        self.keep_cookies(&r);
        r
    }

    /// Posts the settings form as a node running `audio` over `library` with the other
    /// defaults has it, with `changes` laid over those fields (nothing needs a restart
    /// unless a change does).
    pub fn save_settings(&mut self, audio: &str, library: &str, changes: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf();
        let mut form: Vec<(&str, &str)> = vec![
            ("csrf", &csrf),
            ("station_name", ""),
            ("station_description", ""),
            ("public_url", ""),
            ("audio", audio),
            ("bitrate_kbps", "128"),
            ("library", library),
            ("upload_limit_kib", "0"),
            ("trackers", ""),
            ("max_upload_mb", "500"),
            ("follow", ""),
        ];
        for &(name, value) in changes {
            match form.iter_mut().find(|(n, _)| *n == name) {
                Some(field) => field.1 = value,
                None => form.push((name, value)),
            }
        }
        self.post("/admin/settings", &form)
    }

    /// The hidden value of input `name` in the last page.
    pub fn hidden(page: &str, name: &str) -> String {
        let at = page
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no hidden {name} in {}", short(page)));
        let rest = &page[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The first run's last question (the password step, which saves the name too).
    pub fn setup(&mut self, station: &str) {
        let page = self.get("/admin?step=password").text();
        let tok = Self::hidden(&page, "form_token");
        let r = self.post(
            "/admin/setup",
            &[
                ("form_token", &tok),
                ("password", PASSWORD),
                ("password2", PASSWORD),
                ("station_name", station),
                ("station_description", "Test station"),
            ],
        );
        assert_eq!(r.status, 303, "setup: {}", short(&r.text()));
    }

    pub fn login(&mut self, password: &str) -> Resp {
        let page = self.get("/admin").text();
        let tok = Self::hidden(&page, "form_token");
        self.post(
            "/admin/login",
            &[("form_token", &tok), ("password", password)],
        )
    }

    /// The number `N` of the station description `write N` the page shows (0 for none).
    pub fn description_write(page: &str) -> u64 {
        page.split("name=\"station_description\"")
            .nth(1)
            .and_then(|rest| rest.split("write ").nth(1))
            .and_then(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    /// Every page of the config page, home first, one after the other: for checking that
    /// something is shown, or kept, wherever it lives.
    pub fn all_pages(&mut self) -> String {
        PAGES
            .iter()
            .map(|p| self.get(p).text())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn csrf(&mut self) -> String {
        let page = self.get("/admin");
        assert_eq!(page.status, 200);
        Self::hidden(&page.text(), "csrf")
    }
}

/// The dashboard's section `id` (`reach`, `https`, ...) in a phone's browser run in `ns`, in
/// Spanish and English: `dashboard_section.mjs` logs in, runs axe-core and the layout checks
/// and saves `shots/<id>-<lang>.png`. Its output, which ends in "ok" when all passed.
pub fn check_dashboard_section(
    ns: &super::netns::Netns,
    node: &Node,
    id: &str,
    shots: &std::path::Path,
) -> String {
    std::fs::create_dir_all(shots).unwrap();
    let out = super::js::run_node(
        ns.command("node"),
        "dashboard_section.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--password={PASSWORD}"),
            format!("--section={id}"),
            format!("--shots={}", shots.display()),
        ],
        std::time::Duration::from_secs(150),
    );
    assert!(out.contains("ok"), "{out}");
    out
}
