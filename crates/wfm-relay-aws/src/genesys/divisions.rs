//! The division selection ([`super::Selection::Divisions`]): the users of `GET /api/v2/users`
//! whose `division.id` is one of the configured divisions.
//!
//! Why a filter over the users pages, not a search (official SDK `purecloudplatformclientv2`
//! 269.0.0, `PureCloudPlatformClientV2/`):
//! - `apis/users_api.py` `UsersApi.get_users` takes `page_size`, `page_number`, `id`,
//!   `jabber_id`, `sort_order`, `expand`, `integration_presence_source`,
//!   `user_custom_attribute_schema_ids`, `state`: no division parameter. But every `User`
//!   carries its `division` (`models/user.py`, `'division': 'Division'`, "The division to which
//!   this entity belongs"; `models/division.py` `id`). So the pages the `All` selection reads
//!   anyway (`expand=presence,routingStatus`, [`super::USERS_PAGE_SIZE`] a page) give the
//!   division of each user at no extra call: a division selection costs exactly what a
//!   snapshot of every active user costs, ⌈org users / 500⌉ calls, however many divisions are
//!   named (one pass serves them all).
//! - `UsersApi.post_users_search` (`POST /api/v2/users/search`, a `UserSearchRequest` with
//!   `query: [UserSearchCriteria]` on the division, `expand`, `page_size`, `page_number`) would
//!   read only the division's users: ⌈division users / P⌉ calls per division for a search page
//!   size P (`models/user_search_request.py` states no bound for `page_size`), plus the same
//!   bulk presence and routing status fill when `expand` leaves a part out. It is fewer calls
//!   only when the named divisions hold less than P/500 of the org's users, and it is a POST,
//!   which the client's [`super::Transport`] does not make. With pages of 500 the filter is at
//!   most 40 calls for 20,000 users (8 s at 300 requests a minute), so the filter is the choice.
//!
//! A user whose `division.id` is missing cannot be placed: it is reported as a problem (the
//! snapshot counts it `unreadable` and logs it), never silently dropped.

use serde_json::Value;
use wfm_relay_core::snapshot::SnapshotError;

/// The users of `list` (a users page's `entities`) whose `division.id` is in `divisions`, in
/// the page's order, and one [`SnapshotError`] for each user without a `division.id`.
pub fn in_divisions(list: &[Value], divisions: &[String]) -> (Vec<Value>, Vec<SnapshotError>) {
    let mut kept = Vec::new();
    let mut problems = Vec::new();
    for u in list {
        match u.pointer("/division/id").and_then(Value::as_str) {
            Some(d) if divisions.iter().any(|want| want == d) => kept.push(u.clone()),
            Some(_) => {}
            None => problems.push(SnapshotError {
                user_id: u
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("?")
                    .to_owned(),
                problem: "`division.id` is missing: the user cannot be placed in a division"
                    .to_owned(),
            }),
        }
    }
    (kept, problems)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{client, far, ok, user};
    use super::super::{Cursor, Selection};
    use super::*;
    use serde_json::json;

    fn in_division(id: &str, division: &str) -> Value {
        let mut u = user(id, true, true);
        u["division"] = json!({"id": division, "name": division});
        u
    }

    #[test]
    fn only_the_named_divisions_are_kept_and_a_user_without_one_is_reported() {
        let list = [
            in_division("u1", "d1"),
            in_division("u2", "d2"),
            in_division("u3", "d3"),
            user("u4", true, true),
            in_division("u5", "d1"),
        ];
        let (kept, problems) = in_divisions(&list, &["d1".to_owned(), "d3".to_owned()]);
        let ids: Vec<&str> = kept.iter().filter_map(|u| u["id"].as_str()).collect();
        assert_eq!(ids, ["u1", "u3", "u5"]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].user_id, "u4");
        assert!(problems[0].problem.contains("division.id"), "{problems:?}");
        let (kept, problems) = in_divisions(&list[..3], &["nope".to_owned()]);
        assert!(kept.is_empty() && problems.is_empty());
    }

    /// Two pages of users: the division's agents of each page, the cursor of `All` (part 0,
    /// next page), the users endpoint with presence and routing status, one call a page.
    #[tokio::test]
    async fn division_pages_read_the_users_endpoint_and_filter_it() {
        let page = |n: u64, users: Vec<Value>| json!({"entities": users, "pageSize": 500, "pageNumber": n, "total": 4, "pageCount": 2});
        let (c, t, _) = client(
            vec![
                ok(page(
                    1,
                    vec![in_division("u1", "d1"), in_division("u2", "d2")],
                )),
                ok(page(
                    2,
                    vec![in_division("u3", "d2"), in_division("u4", "d1")],
                )),
            ],
            300,
        );
        let sel = Selection::Divisions(vec!["d1".to_owned()]);
        let p1 = c
            .page(&sel, Cursor::default(), far())
            .await
            .expect("page 1");
        assert_eq!(p1.next, Some(Cursor { part: 0, page: 2 }));
        let p2 = c
            .page(&sel, Cursor { part: 0, page: 2 }, far())
            .await
            .expect("page 2");
        assert_eq!(p2.next, None);
        let ids = |p: &super::super::Page| -> Vec<String> {
            p.agents.iter().map(|a| a.user_id.clone()).collect()
        };
        assert_eq!((ids(&p1), ids(&p2)), (vec!["u1".into()], vec!["u4".into()]));
        assert!(p1.problems.is_empty() && p2.problems.is_empty());
        let urls: Vec<String> = t.seen().into_iter().map(|s| s.0).collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:1/api/v2/users?pageSize=500&pageNumber=1&state=active&expand=presence,routingStatus",
                "http://127.0.0.1:1/api/v2/users?pageSize=500&pageNumber=2&state=active&expand=presence,routingStatus",
            ]
        );
        assert_eq!(c.stats().calls, 2);
    }
}
