//! The fields of every active user a WFM profile may key agents on (issue 13: `agent_key.from:
//! user_field`), read for `relayctl profile sync`, which writes them as the user-field table
//! of `WFM_PROFILE_USER_FIELDS`.
//!
//! One call per [`super::USERS_PAGE_SIZE`] users:
//! `GET /api/v2/users?pageSize=500&pageNumber=N&state=active&expand=employerInfo` (official SDK
//! `purecloudplatformclientv2` 269.0.0: `apis/users_api.py` `UsersApi.get_users`; the `User`
//! model, `models/user.py`, has `username`, `email` and `employerInfo`, an `EmployerInfo` of
//! `models/employer_info.py` with `employeeId`). `expand=employerInfo` is asked for because the
//! SDK does not list the `expand` values and the API explorer names `employerInfo` among them
//! (not checked against a live org): asked for, it arrives whether it is expandable or part of
//! the base user; a user without one simply has no employee id. External ids are not read: the `User` model has none, and
//! `GET /api/v2/users/{userId}/externalid` is one call per user.

use super::agents::{entities, has_more};
use super::{GenesysClient, GenesysError, USERS_PAGE_SIZE};
use serde_json::Value;
use std::time::Instant;

/// The table's field names, in column order after `user_id`: the names a profile gives as
/// `agent_key.field`.
pub const USER_FIELD_NAMES: [&str; 3] = ["username", "employee_id", "email"];

/// One user's fields; `None` where the user has no such field (or it is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFields {
    /// The Genesys user id (`id`).
    pub user_id: String,
    /// `username` (the login, usually an email address).
    pub username: Option<String>,
    /// `employerInfo.employeeId`.
    pub employee_id: Option<String>,
    /// `email`.
    pub email: Option<String>,
}

impl UserFields {
    /// The fields of one `User` of a users page.
    ///
    /// # Errors
    /// A sentence when the user has no `id` (it cannot be a row of the table).
    pub fn from_api(user: &Value) -> Result<Self, String> {
        let text = |pointer: &str| {
            user.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let user_id = text("/id").ok_or_else(|| {
            let name = text("/name").unwrap_or_else(|| "?".to_owned());
            format!("a user without `id` (name {name:?}) cannot be a row of the table")
        })?;
        Ok(UserFields {
            user_id,
            username: text("/username"),
            employee_id: text("/employerInfo/employeeId"),
            email: text("/email"),
        })
    }

    /// The value of field `name` (one of [`USER_FIELD_NAMES`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "username" => self.username.as_deref(),
            "employee_id" => self.employee_id.as_deref(),
            "email" => self.email.as_deref(),
            _ => None,
        }
    }
}

/// Every active user's fields, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDirectory {
    /// The users, in the API's order (a user listed twice, as can happen when the directory
    /// changes between pages, is kept once: its last reading).
    pub users: Vec<UserFields>,
    /// Users that could not be rows (one sentence each).
    pub problems: Vec<String>,
    /// Pages read.
    pub pages: usize,
}

impl GenesysClient {
    /// Reads every active user's fields, page by page, under the client's pacing and its 429 /
    /// 401 / 5xx rules.
    ///
    /// # Errors
    /// The first call that fails for good ([`GenesysError`]); nothing is returned then, so a
    /// caller never writes half a table.
    pub async fn user_fields(&self, until: Instant) -> Result<UserDirectory, GenesysError> {
        let mut dir = UserDirectory::default();
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut page = 1;
        loop {
            let q = format!(
                "/api/v2/users?pageSize={USERS_PAGE_SIZE}&pageNumber={page}&state=active&expand=employerInfo"
            );
            let listing = self.get_json(&q, until).await?;
            dir.pages += 1;
            let list = entities(&listing);
            for u in list {
                match UserFields::from_api(u) {
                    Ok(f) => match at.get(&f.user_id) {
                        Some(&i) => dir.users[i] = f,
                        None => {
                            at.insert(f.user_id.clone(), dir.users.len());
                            dir.users.push(f);
                        }
                    },
                    Err(p) => dir.problems.push(p),
                }
            }
            if !has_more(&listing, page, USERS_PAGE_SIZE, list.len()) {
                return Ok(dir);
            }
            page += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{client, far, ok};
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_read_from_the_user_model() {
        let u = json!({
            "id": "u1", "name": "Alice", "username": "alice@example.com",
            "email": " alice@example.com ", "employerInfo": {"employeeId": "E1", "dateHire": "x"}
        });
        let f = UserFields::from_api(&u).expect("fields");
        assert_eq!(
            f,
            UserFields {
                user_id: "u1".into(),
                username: Some("alice@example.com".into()),
                employee_id: Some("E1".into()),
                email: Some("alice@example.com".into()),
            }
        );
        assert_eq!(f.get("employee_id"), Some("E1"));
        assert_eq!(f.get("department"), None);
        let bare = UserFields::from_api(&json!({"id": "u2", "employerInfo": {"employeeId": ""}}))
            .expect("fields");
        assert_eq!(
            (bare.username, bare.employee_id, bare.email),
            (None, None, None)
        );
        let e = UserFields::from_api(&json!({"name": "Nobody"})).expect_err("no id");
        assert_eq!(
            e,
            "a user without `id` (name \"Nobody\") cannot be a row of the table"
        );
    }

    /// Two pages (the first full, by `pageCount`), one call each; a user listed again on page
    /// 2 is kept once with its last reading; a user without id is a problem, not a row.
    #[tokio::test]
    async fn every_page_is_read_once_with_employer_info() {
        let page = |n: u64, users: Vec<Value>| json!({"entities": users, "pageSize": 500, "pageNumber": n, "pageCount": 2});
        let (c, t, _) = client(
            vec![
                ok(page(
                    1,
                    vec![
                        json!({"id": "u1", "username": "a"}),
                        json!({"id": "u2", "username": "b"}),
                        json!({"name": "no id"}),
                    ],
                )),
                ok(page(2, vec![json!({"id": "u1", "username": "a2"})])),
            ],
            300,
        );
        let d = c.user_fields(far()).await.expect("directory");
        let names: Vec<(&str, Option<&str>)> = d
            .users
            .iter()
            .map(|u| (u.user_id.as_str(), u.username.as_deref()))
            .collect();
        assert_eq!(names, [("u1", Some("a2")), ("u2", Some("b"))]);
        assert_eq!((d.pages, d.problems.len()), (2, 1));
        let urls: Vec<String> = t.seen().into_iter().map(|s| s.0).collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:1/api/v2/users?pageSize=500&pageNumber=1&state=active&expand=employerInfo",
                "http://127.0.0.1:1/api/v2/users?pageSize=500&pageNumber=2&state=active&expand=employerInfo",
            ]
        );
        assert_eq!(c.stats().calls, 2);
    }
}
